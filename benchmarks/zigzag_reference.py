"""ZigZag 3.9.1 LOMA reference data on ZigZag's own example hardware (issue 17, acceptance (a)-(c)).

    python benchmarks/zigzag_reference.py [--hardware eyeriss_like,tpu_like,...] [--lpf-limit 6] [--tiny]

For each of ZigZag's example accelerators (``zigzag/inputs/hardware/<hw>.yaml`` in the installed zigzag-dse 3.9.1,
paired with the spatial-mapping file ZigZag's own examples use for it, ``zigzag/inputs/mapping/<m>.yaml``) and each
DISTINCT conv/FC layer shape of ResNet-50 (hwmap extracts the graph and exports it as ZigZag workload YAML with
hwmap.interop.zigzag, at 8-bit inputs/weights and 16-bit partial sums, ZigZag's ONNX default), it runs ZigZag's
LOMA temporal-mapping search (energy objective) in benchmarks/.zigzag-venv and records per layer:

- ``spatial_mapping``: operational-array dimension -> {loop dimension: unrolling}, as ZigZag chose it;
- ``temporal_mapping``: per layer operand (W, I, O), per memory level of that operand (innermost first, level names
  in ``memory_levels``), the temporal loops that level holds, innermost first, as [loop, size]
  (``cme.temporal_mapping.mapping_dic_origin``); ``temporal_ordering`` is the same loops flattened, innermost
  first, the form ZigZag's mapping YAML takes as a fixed ``temporal_ordering``;
- ``accesses``: per operand, per level (innermost first), ZigZag's four data directions as lists in the order
  of the header's ``access_columns`` (rd_out_to_low, wr_in_by_low, rd_out_to_high, wr_in_by_high), as
  ``words`` (``cme.memory_word_access``: accesses of the port's bandwidth_max bits, what ZigZag prices) and as
  ``elements`` (``cme.mapping.unit_mem_data_movement[op][level]``
  attribute ``data_elem_move_count``: operand elements moved in total over all instances of the level, i.e. the
  MACs divided by the reuse of the loops irrelevant to the operand below that level; with
  access_same_data_considered_as_no_access, an innermost input level's reads are divided by its stationary cycles);
  and ``bits`` (the port's bandwidth_max per direction, 0 where none); ZigZag's reads are rd_out_to_low +
  rd_out_to_high, writes wr_in_by_high, updates (partial sums written back from below) wr_in_by_low;
- ``energy_by_operand_level_pj`` (``cme.mem_energy_breakdown``), ``mac_energy_pj``, ``mem_energy_pj`` and the
  total ``energy_pj`` (``cme.energy_total``);
- ``latency_cycles`` (``cme.latency_total2``) and ``ideal_cycles``;
- ``cpu_s`` / ``wall_s``: ZigZag's CPU and wall time for the layer (stages from parsing to the cost model).

Output: benchmarks/reference/zigzag_resnet50_<hw>.json, with a header (ZigZag version, hardware and mapping file
names, LOMA's lpf_limit, the command). Runs under ``nice -n 19``. The layer results are cached in
benchmarks/.zigzag-work/reference/ so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".zigzag-work" / "reference"
OUT = HERE / "reference"
# ZigZag's example hardware -> the spatial-mapping file its own examples pair with it (inputs/mapping/)
HARDWARE_MAPPING = {
    "eyeriss_like": "default", "tpu_like": "tpu_like", "edge_tpu_like": "edge_tpu_like",
    "ascend_like": "ascend_like", "tesla_npu_like": "tesla_npu_like", "meta_prototype": "meta_prototype_like",
}
BITS = {"input_bits": 8, "weight_bits": 8, "output_bits": 16}
TINY = ["layer1.0.conv2", "fc"]
DIRECTIONS = ("rd_out_to_low", "wr_in_by_low", "rd_out_to_high", "wr_in_by_high")


# ------------------------------------------------------------------------------------------------------------
# Worker side: runs inside the ZigZag venv (never imports hwmap)
# ------------------------------------------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> int:
    import logging

    import yaml

    sys.path.insert(0, str(HERE))
    from zigzag_runner import describe  # energy, latency, DRAM bytes, temporal and spatial mapping

    logging.disable(logging.CRITICAL)
    layers = {layer["id"]: layer for layer in yaml.safe_load(Path(args.workload).read_text())}
    for layer_id in (int(i) for i in args.ids.split(",") if i):
        layer = dict(layers[layer_id], id=0, operand_source={"W": 0})
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            cme = _run_loma(layer, args.hardware, args.mapping, lpf_limit=args.lpf_limit)
            result = {**describe(cme), **_accesses(cme)}
        except Exception as failed:  # noqa: BLE001 - recorded per layer (LOMA raises when no mapping fits)
            result = {"error": f"{type(failed).__name__}: {failed}".splitlines()[0]}
        result.update(id=layer_id, name=layers[layer_id]["name"], wall_s=time.perf_counter() - start,
                      cpu_s=time.process_time() - cpu_start)
        with open(args.out, "a") as handle:
            handle.write(json.dumps(result) + "\n")
        print(f"  {layer_id} {result['name']}: "
              + (result["error"] if "error" in result else f"{result['energy_pj'] / 1e6:.3f} uJ")
              + f", {result['cpu_s']:.1f} s CPU", flush=True)
    return 0


def _run_loma(layer: dict, hardware: str, mapping: str, *, lpf_limit: int):
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.main import MainStage
    from zigzag_runner import _stages

    parse_w, parse_a, sum_stage, per_layer, spatial, temporal, cost, reducers = _stages()
    reduce = reducers["energy"]
    main = MainStage(
        list_of_callables=[parse_w, parse_a, sum_stage, per_layer, reduce, spatial, reduce, temporal, cost],
        accelerator=hardware, workload=[layer], mapping=mapping, dump_folder="/tmp/zigzag-unused",
        loma_lpf_limit=lpf_limit, loma_show_progress_bar=False, nb_mappings_generated=3,
        enable_mix_spatial_mapping_generation=False, access_same_data_considered_as_no_access=True,
        temporal_mapping_type=TemporalMappingType("uneven"),
    )
    return main.run()[0][1][0][0]


def _accesses(cme) -> dict:
    """Per operand and level: ZigZag's word accesses and element moves in its four directions, level names."""
    from zigzag.mapping.data_movement import DataMoveAttr

    hierarchy = cme.accelerator.memory_hierarchy
    accesses: dict[str, list[dict]] = {}
    levels_of: dict[str, list[str]] = {}
    for layer_op, per_level in cme.memory_word_access.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        levels = hierarchy.get_memory_levels(mem_op=mem_op)
        levels_of[str(layer_op)] = [lvl.name for lvl in levels]
        rows = []
        for index, (words, level) in enumerate(zip(per_level, levels, strict=False)):
            moves = cme.mapping.unit_mem_data_movement[layer_op][index].get_attribute(
                DataMoveAttr.DATA_ELEM_MOVE_COUNT)
            rows.append({
                "level": level.name,
                "words": {d.name.lower(): int(words.get(d)) for d in words.data},
                "elements": {d.name.lower(): int(moves.get(d)) for d in moves.data},
                "word_bits": {d.name.lower(): level.get_max_bandwidth(mem_op, d) for d in words.data},
            })
        accesses[str(layer_op)] = rows
    ordering = []
    for level in cme.temporal_mapping.mapping_dic_origin[next(iter(cme.temporal_mapping.mapping_dic_origin))]:
        ordering += [[str(dim), int(size)] for dim, size in level]
    return {"accesses": accesses, "memory_levels": levels_of, "temporal_ordering": ordering,
            "energy_total_pj": float(cme.energy_total)}


# ------------------------------------------------------------------------------------------------------------
# Driver side: hwmap's python
# ------------------------------------------------------------------------------------------------------------


def distinct_layers(tiny: bool) -> tuple[list[dict], dict[str, list[str]]]:
    """ResNet-50's distinct conv/FC layer shapes as ZigZag workload entries, and the layers each one stands for."""
    import hwmap
    from hwmap.interop.zigzag import zigzag_layers

    graph = hwmap.extract_graph("resnet50")
    layers, _ = zigzag_layers(graph, **BITS)
    if tiny:
        layers = [layer for layer in layers if layer.node_name.split(":")[0] in TINY]
    first: dict[tuple, object] = {}
    members: dict[tuple, list[str]] = {}
    for layer in layers:
        first.setdefault(layer.shape_key, layer)
        members.setdefault(layer.shape_key, []).append(layer.node_name)
    entries = [dict(layer.entry, id=i) for i, layer in enumerate(first.values())]
    return entries, {entry["name"]: members[key] for entry, key in zip(entries, first, strict=True)}


def zigzag_inputs(python: Path) -> Path:
    probe = subprocess.run([str(python), "-c", "import zigzag, os; print(os.path.dirname(zigzag.__file__))"],
                           capture_output=True, text=True, check=True)
    return Path(probe.stdout.strip()) / "inputs"


def run_hardware(python: Path, hw: str, entries: list[dict], members: dict[str, list[str]], *,
                 lpf_limit: int, command: str, out: Path) -> Path:
    import yaml

    inputs = zigzag_inputs(python)
    hardware = inputs / "hardware" / f"{hw}.yaml"
    mapping = inputs / "mapping" / f"{HARDWARE_MAPPING[hw]}.yaml"
    WORK.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(entries, sort_keys=False)
    key = hashlib.sha1(text.encode()).hexdigest()[:10]  # the result cache is per workload: --tiny never mixes in
    workload = WORK / f"resnet50.{key}.workload.yaml"
    workload.write_text(text)
    results = WORK / f"{hw}.lpf{lpf_limit}.{key}.jsonl"
    done = _read(results)
    todo = [e["id"] for e in entries if e["id"] not in done]
    print(f"== {hw}: {len(entries)} distinct layers, {len(todo)} to run (LOMA lpf_limit={lpf_limit})", flush=True)
    if todo:
        # LOMA iterates over sets of loop names: fix the hash seed so its choice among equal-cost mappings repeats
        subprocess.run(["nice", "-n", "19", str(python), __file__, "--worker", "--workload", str(workload),
                        "--hardware", str(hardware), "--mapping", str(mapping), "--ids", ",".join(map(str, todo)),
                        "--out", str(results), "--lpf-limit", str(lpf_limit)],
                       check=True, env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONWARNINGS": "ignore"})
    done = _read(results)
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('zigzag-dse'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    layers = []
    for entry in entries:
        row = dict(done[entry["id"]])
        row.pop("id", None)
        row["accesses"] = _compact_accesses(row.get("accesses"))
        row.pop("dram_bytes", None)  # = the DRAM level's words x bits / 8, in accesses
        row["wall_s"], row["cpu_s"] = round(row["wall_s"], 3), round(row["cpu_s"], 3)
        row["represents"] = members[entry["name"]]
        row["loop_dims"] = dict(zip(entry["loop_dims"], entry["loop_sizes"], strict=True))
        row["operand_precision_bits"] = entry["operand_precision"]
        layers.append(row)
    document = {
        "header": {
            "tool": "zigzag-dse", "zigzag_version": version, "hardware_file": f"zigzag/inputs/hardware/{hw}.yaml",
            "mapping_file": f"zigzag/inputs/mapping/{HARDWARE_MAPPING[hw]}.yaml", "search": "LOMA",
            "loma_lpf_limit": lpf_limit, "objective": "energy", "temporal_mapping_type": "uneven",
            "access_same_data_considered_as_no_access": True, "python_hash_seed": 0,
            "workload": "ResNet-50 (torchvision) conv/FC layers, distinct shapes, exported by "
                        "hwmap.interop.zigzag.zigzag_layers at 8-bit I/W, 16-bit partial sums, 8-bit outputs",
            "access_columns": list(DIRECTIONS),
            "command": command, "cpu": "nice -n 19, one layer at a time, on a shared 2-core machine",
            "fields": __doc__.split("records per layer:")[1].split("Output:")[0].strip(),
        },
        "layers": layers,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"zigzag_resnet50_{hw}.json"
    tmp = path.with_suffix(".json.tmp")
    # the header readable, then one layer per line: small in git, diffable per layer
    text = json.dumps(document["header"], indent=1)
    text = '{"header": ' + text + ',\n "layers": [\n' + ",\n".join(json.dumps(r) for r in layers) + "\n]}\n"
    tmp.write_text(text)
    tmp.replace(path)
    return path


def _compact_accesses(accesses: dict | None) -> dict | None:
    """Per operand, per level (innermost first): {level, words: [...], elements: [...], bits: [...]}, the lists in
    DIRECTIONS order; bits = the port's bandwidth_max for that direction (0 where the level has none)."""
    if accesses is None:
        return None
    return {op: [{"level": lv["level"], "words": [lv["words"][d] for d in DIRECTIONS],
                  "elements": [lv["elements"][d] for d in DIRECTIONS],
                  "bits": [lv["word_bits"][d] or 0 for d in DIRECTIONS]} for lv in levels]
            for op, levels in accesses.items()}


def _read(path: Path) -> dict[int, dict]:
    if not path.exists():
        return {}
    return {r["id"]: r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip())}


def summarise(path: Path) -> None:
    doc = json.loads(path.read_text())
    ok = [layer for layer in doc["layers"] if "error" not in layer]
    cpu = [layer["cpu_s"] for layer in doc["layers"]]
    energy_uj = sum(x["energy_pj"] for x in ok) / 1e6
    print(f"{path.name}: {len(ok)}/{len(doc['layers'])} layers mapped, "
          f"energy {energy_uj:.1f} uJ over the distinct layers, "
          f"ZigZag CPU per layer min {min(cpu):.1f} s, median "
          f"{sorted(cpu)[len(cpu) // 2]:.1f} s, max {max(cpu):.1f} s, total {sum(cpu):.1f} s", flush=True)
    for layer in doc["layers"]:
        print(f"   {layer['name'][:40]:40s} {layer['cpu_s']:7.1f} s CPU  "
              + (layer["error"][:60] if "error" in layer else f"{layer['energy_pj'] / 1e6:10.3f} uJ "
                 f"{layer['latency_cycles']:12.0f} cycles"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hardware", default=",".join(HARDWARE_MAPPING), help="comma list of ZigZag example names")
    parser.add_argument("--lpf-limit", type=int, default=6, help="LOMA's lpf_limit (its default: 6)")
    parser.add_argument("--tiny", action="store_true", help=f"only the layers {TINY} (a quick check)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--workload", "--mapping", "--ids", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    wanted = [h for h in args.hardware.split(",") if h]
    unknown = [h for h in wanted if h not in HARDWARE_MAPPING]
    if unknown:
        parser.error(f"--hardware: unknown {unknown}; expected names from {list(HARDWARE_MAPPING)}")
    sys.path.insert(0, str(HERE))
    from bench_zigzag import zigzag_python

    python = zigzag_python()
    entries, members = distinct_layers(args.tiny)
    command = "python benchmarks/zigzag_reference.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for hw in wanted:
        summarise(run_hardware(python, hw, entries, members, lpf_limit=args.lpf_limit,
                                       command=command.strip(), out=WORK / "tiny" if args.tiny else OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
