"""Cross-check hwmap's accelerator model against ZigZag 3.9.1 LOMA on the same problems (issue 9, item 6).

    python benchmarks/bench_zigzag.py [--tiny] [--models resnet50,deit_s,segformer_b0]
        [--accels systolic16x16,magnet16pe_v16] [--lpf-limit 6] [--max-distinct N] [--out results.csv]

1. Creates (or reuses) benchmarks/.zigzag-venv with zigzag-dse==3.9.1, six and onnx (never hwmap dependencies).
2. Extracts each model with hwmap and exports its conv/GEMM layers as ZigZag workload YAML
   (hwmap.interop.zigzag) at the template's operand widths, and the template as ZigZag hardware + mapping YAML.
3. Runs ZigZag's LOMA (benchmarks/zigzag_runner.py, the stages of zigzag.api.get_hardware_performance_zigzag
   without its save stages, optimising energy) in that venv once per DISTINCT layer shape (ResNet-50: 24 distinct
   of 54), under `nice`, and reuses the result for repeated layers; results are cached in
   benchmarks/.zigzag-work/<model>.<accel>.lpf<N>.<hash>/results.jsonl so an interrupted run resumes.
4. Runs hwmap.estimate on the same graph (``mapping="best"`` when hwmap.estimate has that keyword) and prints,
   per layer and in total, DRAM bytes, energy and latency of both tools and each tool's wall time.

hwmap's energy is compared without its static (leakage) term: ZigZag's energy is MAC + memory accesses only.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import fnmatch
import hashlib
import inspect
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".zigzag-venv"
WORK = HERE / ".zigzag-work"
RUNNER = HERE / "zigzag_runner.py"
REQUIREMENTS = ["zigzag-dse==3.9.1", "six", "onnx"]
MODELS = {"resnet50": "resnet50", "deit_s": "timm:deit_small_patch16_224", "segformer_b0": "segformer-b0"}
TINY_LAYERS = {"resnet50": ["layer1.0.conv2", "layer3.0.conv1", "fc"], "deit_s": ["blocks.0.mlp.fc1"],
               "segformer_b0": ["segformer.stages.1.blocks.0.mlp.dwconv.dwconv"]}


def zigzag_python() -> Path:
    """The venv's python, creating the venv and installing zigzag-dse==3.9.1 on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} with {' '.join(REQUIREMENTS)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    probe = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('zigzag-dse'))"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != "3.9.1":
        subprocess.run([python, "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def run_zigzag(python: Path, workload: Path, hardware: Path, mapping: Path, ids: list[int], results: Path,
               lpf_limit: int) -> dict[int, dict]:
    done = _read_results(results)
    todo = [i for i in ids if i not in done]
    if todo:
        cmd = ["nice", "-n", "10", str(python), str(RUNNER), "--workload", str(workload), "--hardware", str(hardware),
               "--mapping", str(mapping), "--ids", ",".join(map(str, todo)), "--out", str(results),
               "--lpf-limit", str(lpf_limit), "--opt", "energy"]
        # LOMA iterates over sets of loop names: fix the hash seed so its choice among equal-cost mappings repeats
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return _read_results(results)


def _read_results(path: Path) -> dict[int, dict]:
    if not path.exists():
        return {}
    return {r["id"]: r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip())}


def hwmap_costs(graph, accel_name: str):
    import hwmap

    kwargs = {"mapping": "best"} if "mapping" in inspect.signature(hwmap.estimate).parameters else {}
    start, cpu_start = time.perf_counter(), time.process_time()
    cost = hwmap.estimate(graph, accel_name, **kwargs)
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return cost, wall_s, cpu_s, kwargs.get("mapping", "scalesim fold order (no mapper yet)")


def compare(model_key: str, accel_name: str, *, python: Path, tiny: bool, lpf_limit: int, max_distinct: int | None,
            graph_cache: dict, show: str | None = None) -> list[dict]:
    import yaml

    import hwmap
    from hwmap.interop.zigzag import (
        hardware_yaml,
        mapping_yaml,
        write_zigzag_hardware,
        zigzag_hardware_view,
        zigzag_layers,
    )

    if model_key not in graph_cache:
        graph_cache[model_key] = hwmap.extract_graph(MODELS[model_key])
    graph = graph_cache[model_key]
    accel = hwmap.load_accelerator(accel_name)
    hw = zigzag_hardware_view(accel)
    layers, _ = zigzag_layers(graph, input_bits=hw.input_bits, weight_bits=hw.weight_bits,
                              output_bits=hw.output_bits)
    if tiny:
        wanted = TINY_LAYERS[model_key]
        layers = [layer for layer in layers if layer.node_name.split(":")[0] in wanted]
    distinct: dict[tuple, int] = {}
    for layer in layers:
        distinct.setdefault(layer.shape_key, len(distinct))
    if max_distinct is not None and len(distinct) > max_distinct:
        # a subset of distinct layers: the max_distinct with the most MACs
        macs = {}
        for layer in layers:
            macs[layer.shape_key] = layer.macs
        keep = sorted(distinct, key=lambda k: -macs[k])[:max_distinct]
        distinct = {key: i for i, key in enumerate(sorted(keep, key=lambda k: distinct[k]))}
        layers = [layer for layer in layers if layer.shape_key in distinct]

    WORK.mkdir(exist_ok=True)
    first = {}
    for layer in layers:
        first.setdefault(layer.shape_key, layer)
    entries = [dict(first[key].entry, id=i, operand_source={"W": i}) for key, i in distinct.items()]
    text = yaml.safe_dump(entries, sort_keys=False)
    # hardware + mapping YAML (the mapping's depthwise entries are matched by the layer names kept above), one
    # folder per problem set: the result cache is keyed by workload + hardware + mapping, so --tiny and full runs
    # or changed templates never share result lines
    key = hashlib.sha1(text.encode())
    for document in (hardware_yaml(hw), mapping_yaml(hw, [first[k] for k in distinct])):
        key.update(json.dumps(document, sort_keys=True).encode())
    folder = WORK / f"{model_key}.{accel_name}.lpf{lpf_limit}.{key.hexdigest()[:10]}"
    folder.mkdir(exist_ok=True)
    workload = folder / "workload.yaml"
    workload.write_text(text)
    hardware, mapping = (Path(p) for p in write_zigzag_hardware(accel, folder, layers=layers).paths)
    print(f"== {model_key} on {accel_name}: {len(layers)} layers, {len(distinct)} distinct, LOMA lpf_limit={lpf_limit}",
          flush=True)
    zz_start = time.perf_counter()
    zz = run_zigzag(python, workload, hardware, mapping, list(distinct.values()), folder / "results.jsonl",
                    lpf_limit)
    failed_ids = [i for i, r in zz.items() if "error" in r]
    if failed_ids and any(m.name == "global_buffer" for m in hw.memories):
        # LOMA fills each per-PE input buffer greedily (16 KiB) and needs the inclusive global buffer to hold the
        # input tiles of all 16 PEs (inputs differ per PE: pixels are split over PEs); 16 x 16 KiB > 128 KiB, so
        # some layers get no mapping ("Memory capacity overflow for mem_op I1"). Retry those with inputs going
        # DRAM -> PE input buffers (multicast) while the global buffer keeps weights and outputs, and mark them.
        variant = "global buffer without inputs"
        retry = folder / "gb-without-inputs"
        retry.mkdir(exist_ok=True)
        gb_no_inputs = dataclasses.replace(hw, memories=tuple(
            dataclasses.replace(m, operands=tuple(op for op in m.operands if op != "I1"))
            if m.name == "global_buffer" else m for m in hw.memories))
        (retry / "hardware.yaml").write_text(yaml.safe_dump(hardware_yaml(gb_no_inputs), sort_keys=False))
        retried = run_zigzag(python, workload, retry / "hardware.yaml", mapping, failed_ids, retry / "results.jsonl",
                             lpf_limit)
        for i in failed_ids:
            zz[i] = {**retried[i], "variant": variant, "first_error": zz[i]["error"],
                     "first_wall_s": zz[i].get("wall_s", 0.0), "first_cpu_s": zz[i].get("cpu_s", 0.0)}
    zz_wall_run_s = time.perf_counter() - zz_start

    cost, hw_wall_s, hw_cpu_s, mode = hwmap_costs(graph, accel_name)
    frame = cost.to_dataframe()
    by_name = {name: i for i, name in enumerate(frame["layer"])}
    static = frame["energy_static_pj"] if "energy_static_pj" in frame else 0.0 * frame["energy_pj"]
    rows: list[dict] = []
    failed: list[str] = []
    for layer in layers:
        i = by_name[layer.node_name]
        z = zz[distinct[layer.shape_key]]
        if "error" in z:  # LOMA found no mapping: listed, left out of the totals
            failed.append(f"{layer.node_name}: {z['error'].splitlines()[0][:100]}")
            continue
        rows.append({
            "model": model_key, "accel": accel_name, "layer": layer.node_name, "macs": layer.macs,
            "tensor_bytes": tensor_bytes(layer.entry),
            "hwmap_dram_bytes": float(frame["dram_bytes"][i]), "zigzag_dram_bytes": z["dram_bytes_total"],
            "hwmap_energy_pj": float(frame["energy_pj"][i] - static[i]), "zigzag_energy_pj": z["energy_pj"],
            "hwmap_cycles": float(frame["cycles"][i]), "zigzag_cycles": z["latency_cycles"],
            "zigzag_wall_s": z["wall_s"], "zigzag_cpu_s": z["cpu_s"], "hwmap_mode": mode,
            "zigzag_variant": z.get("variant", "as exported"),
        })
    for layer in layers:
        result = zz[distinct[layer.shape_key]]
        if show and fnmatch.fnmatch(layer.node_name.split(":")[0], show) and "error" not in result:
            print_mapping(layer.node_name, result, hw)
    zz_search_s = sum(zz[i].get("wall_s", 0.0) + zz[i].get("first_wall_s", 0.0) for i in distinct.values())
    zz_cpu_s = sum(zz[i].get("cpu_s", 0.0) + zz[i].get("first_cpu_s", 0.0) for i in distinct.values())
    print_table(rows)
    for line in failed:
        print(f"ZigZag found no mapping (left out of the totals): {line}")
    by_level: dict[str, float] = {"mac": 0.0}
    for layer in layers:
        z = zz[distinct[layer.shape_key]]
        if "error" in z:
            continue
        by_level["mac"] += z["mac_energy_pj"]
        for op, levels in z["energy_by_operand_level_pj"].items():
            for level, energy_pj in levels.items():
                by_level[f"{op}@{level}"] = by_level.get(f"{op}@{level}", 0.0) + energy_pj
    compared = [by_name[r["layer"]] for r in rows]
    hw_terms = {k.removeprefix("energy_").removesuffix("_pj"): float(frame.loc[compared, k].sum())
                for k in frame.columns if k.startswith("energy_") and k != "energy_pj"}
    print("ZigZag energy by operand@level (uJ): " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in by_level.items() if v))
    print("hwmap energy by term (uJ, same layers): "
          + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in hw_terms.items() if v))
    print(f"time: hwmap estimate (whole graph, every layer) {hw_wall_s:.3f} s wall, {hw_cpu_s:.3f} s CPU; "
          f"ZigZag LOMA over the {len(distinct)} distinct layers {zz_search_s:.1f} s wall, {zz_cpu_s:.1f} s CPU "
          f"(this invocation {zz_wall_run_s:.1f} s incl. start-up, 0 when cached); CPU ratio "
          f"{zz_cpu_s / max(hw_cpu_s, 1e-9):.0f}x", flush=True)
    return rows


def print_table(rows: list[dict]) -> None:
    head = f"{'layer':44s} {'DRAM MB hw':>10s} {'zz':>8s} {'ratio':>6s} {'E uJ hw':>9s} {'zz':>9s} {'ratio':>6s} " \
           f"{'kcyc hw':>8s} {'zz':>8s}"
    print(head)
    for r in rows:
        mark = "*" if r["zigzag_variant"] != "as exported" else " "
        print(f"{r['layer'][:43]:43s}{mark} {r['hwmap_dram_bytes'] / 1e6:10.3f} {r['zigzag_dram_bytes'] / 1e6:8.3f} "
              f"{_ratio(r['hwmap_dram_bytes'], r['zigzag_dram_bytes']):6.2f} {r['hwmap_energy_pj'] / 1e6:9.2f} "
              f"{r['zigzag_energy_pj'] / 1e6:9.2f} {_ratio(r['hwmap_energy_pj'], r['zigzag_energy_pj']):6.2f} "
              f"{r['hwmap_cycles'] / 1e3:8.1f} {r['zigzag_cycles'] / 1e3:8.1f}")
    tot = {k: sum(r[k] for r in rows) for k in ("hwmap_dram_bytes", "zigzag_dram_bytes", "hwmap_energy_pj",
                                                "zigzag_energy_pj", "hwmap_cycles", "zigzag_cycles")}
    print(f"{'TOTAL (' + str(len(rows)) + ' layers)':44s} {tot['hwmap_dram_bytes'] / 1e6:10.3f} "
          f"{tot['zigzag_dram_bytes'] / 1e6:8.3f} {_ratio(tot['hwmap_dram_bytes'], tot['zigzag_dram_bytes']):6.2f} "
          f"{tot['hwmap_energy_pj'] / 1e6:9.2f} {tot['zigzag_energy_pj'] / 1e6:9.2f} "
          f"{_ratio(tot['hwmap_energy_pj'], tot['zigzag_energy_pj']):6.2f} {tot['hwmap_cycles'] / 1e3:8.1f} "
          f"{tot['zigzag_cycles'] / 1e3:8.1f}")
    if any(r["zigzag_variant"] != "as exported" for r in rows):
        print("* LOMA found no mapping with the template's global buffer: inputs bypass it (see the notes)")
    within = sum(abs(_ratio(r["hwmap_dram_bytes"], r["zigzag_dram_bytes"]) - 1) <= 0.15 for r in rows)
    print(f"layers with DRAM bytes within 15%: {within}/{len(rows)}; energy ratio hwmap/zigzag "
          f"{_ratio(tot['hwmap_energy_pj'], tot['zigzag_energy_pj']):.3f}")


def print_mapping(name: str, result: dict, hw) -> None:
    """ZigZag's chosen mapping: the spatial unrolling and, per operand, the temporal loops each memory level holds
    (innermost level first, loops innermost first), with DRAM bytes per operand."""
    print(f"-- ZigZag mapping of {name}: spatial {result['spatial_mapping']}")
    from hwmap.interop.zigzag import MEMORY_OPERANDS

    levels = {op: [m.name for m in hw.memories if MEMORY_OPERANDS[op] in m.operands] for op in ("I", "W", "O")}
    for op, per_level in result["temporal_mapping"].items():
        parts = [f"{levels[op][i] if i < len(levels[op]) else i}: "
                 + (" ".join(f"{d}{s}" for d, s in loops) or "-") for i, loops in enumerate(per_level)]
        print(f"   {op}: " + " | ".join(parts))
    moved = {k: v for k, v in result["dram_bytes"].items() if v}
    print(f"   DRAM bytes: {moved}; energy by level (pJ): {result['energy_by_operand_level_pj']}")


def tensor_bytes(entry: dict) -> float:
    """Each tensor once: the real input (no padding), the weights and the outputs at O_final width."""
    d = dict(zip(entry["loop_dims"], entry["loop_sizes"], strict=True))
    bits = entry["operand_precision"]
    if "OX" in d:
        iy, ix = entry["pr_loop_sizes"]
        inputs = d["B"] * d["G"] * d["C"] * iy * ix
        weights = d["G"] * d["K"] * d["C"] * d["FY"] * d["FX"]
        outputs = d["B"] * d["G"] * d["K"] * d["OY"] * d["OX"]
    else:
        b = d.get("B", 1)
        inputs, outputs = b * d["D"] * d["C"], b * d["D"] * d["K"]
        weights = d["C"] * d["K"] * (b if "[b][c][k]" in entry["equation"] else 1)
    return (inputs * bits["I"] + weights * bits["W"] + outputs * bits["O_final"]) / 8


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf") if a else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few layers per model (a quick check)")
    parser.add_argument("--models", default="resnet50,deit_s,segformer_b0", help=f"comma list of {list(MODELS)}")
    parser.add_argument("--accels", default="systolic16x16,magnet16pe_v16")
    parser.add_argument("--lpf-limit", type=int, default=6, help="LOMA's lpf_limit (its default: 6)")
    parser.add_argument("--max-distinct", type=int, default=None,
                        help="per model, run only the N distinct layer shapes with the most MACs")
    parser.add_argument("--out", help="CSV of every compared layer")
    parser.add_argument("--show-mappings", metavar="GLOB", help="print ZigZag's mapping of layers matching GLOB "
                                                                "(module names, e.g. 'layer1.0.conv2')")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {unknown}; expected names from {list(MODELS)}")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    python = zigzag_python()
    rows: list[dict] = []
    graphs: dict = {}
    for model in models:
        for accel in (a for a in args.accels.split(",") if a):
            rows += compare(model, accel, python=python, tiny=args.tiny, lpf_limit=args.lpf_limit,
                            max_distinct=args.max_distinct, graph_cache=graphs, show=args.show_mappings)
    if args.out and rows:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.out} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
