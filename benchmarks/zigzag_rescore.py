"""ZigZag 3.9.1's own cost model on hwmap's best mappings: checks that hwmap's evaluation under ZigZag's rules
(hwmap.cost.multilevel.evaluate.ZIGZAG_CONVENTIONS) is what ZigZag computes for mappings LOMA did not choose.

    python benchmarks/zigzag_rescore.py [--hardware tpu_like,...] [--tiny] [--python PATH]

For each of ZigZag's example accelerators and each distinct ResNet-50 conv/FC layer (benchmarks/reference's
records), hwmap's search maps the layer with ZigZag's spatial unrolling, optimising in ZigZag's model
(map_problem(..., conventions=ZIGZAG_CONVENTIONS), as benchmarks/zigzag_crosscheck.py's (b) in ZigZag's model
does, the winner's loops re-allocated per operand where that is cheaper) and evaluates its winner under
ZIGZAG_CONVENTIONS; the winner goes to ZigZag as a fixed temporal mapping (per operand, its levels innermost
first), ZigZag's CostModelEvaluation prices it (in its venv, default benchmarks/.zigzag-venv as bench_zigzag.py
creates it), and both energies are printed side by side. A 1 x 1 conv
that hwmap maps as its GEMM (LoopProblem.canonical) goes to ZigZag as that GEMM (OY = its pixels, OX = 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".zigzag-work" / "rescore"
LETTERS = {"input": "I", "weight": "W", "output": "O"}
GEMM_DIMS = {"OY": "D", "G": "B"}  # hwmap's GEMM dims -> ZigZag's (hwmap.interop.fixed_mapping.ZIGZAG_GEMM_DIMS)


# ------------------------------------------------------------------------------------------------------------
# Worker side: runs inside the ZigZag venv (never imports hwmap)
# ------------------------------------------------------------------------------------------------------------


def worker(jobs_path: Path, out_path: Path) -> int:
    import logging

    logging.disable(logging.CRITICAL)
    results = []
    for job in json.loads(jobs_path.read_text()):
        try:
            energy = _zigzag_energy(job)
        except Exception as failed:  # noqa: BLE001 - recorded per layer
            results.append({"key": job["key"], "error": f"{type(failed).__name__}: {failed}".splitlines()[0]})
            continue
        results.append({"key": job["key"], "energy_pj": energy})
    out_path.write_text(json.dumps(results))
    return 0


def _zigzag_energy(job: dict) -> float:
    import yaml
    from zigzag.datatypes import LayerDim, LayerOperand
    from zigzag.mapping.temporal_mapping import TemporalMapping, TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.stage import Stage
    from zigzag.stages.workload_iterator import WorkloadStage

    class FixedTemporal(Stage):
        """The job's temporal mapping instead of LOMA's search."""

        def __init__(self, list_of_callables, *, layer, **kwargs):
            super().__init__(list_of_callables, **kwargs)
            self.kwargs = dict(kwargs, layer=layer)
            self.layer = layer

        def run(self):
            loops = {LayerOperand(op): [[(LayerDim(d), s) for d, s in level] for level in levels]
                     for op, levels in job["temporal_mapping"].items()}
            mapping = TemporalMapping(loops, self.layer, TemporalMappingType("uneven"))
            sub = self.list_of_callables[0](self.list_of_callables[1:], **dict(self.kwargs, temporal_mapping=mapping))
            yield from sub.run()

    base = yaml.safe_load(Path(job["mapping_file"]).read_text())
    spatial = {oa: [f"{d}, {int(f) if float(f).is_integer() else f}" for d, f in dims.items()]
               for oa, dims in job["spatial_mapping"].items()}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump([{"name": "default", "spatial_mapping": spatial,
                         "memory_operand_links": base[0]["memory_operand_links"]}], handle)
    try:
        main = MainStage([WorkloadParserStage, AcceleratorParserStage, WorkloadStage, SpatialMappingGeneratorStage,
                          FixedTemporal, CostModelStage],
                         accelerator=job["hardware_file"], workload=[dict(job["entry"], id=0, operand_source={"W": 0})],
                         mapping=handle.name, dump_folder=tempfile.gettempdir(), loma_lpf_limit=6,
                         loma_show_progress_bar=False, nb_mappings_generated=1,
                         enable_mix_spatial_mapping_generation=False, access_same_data_considered_as_no_access=True,
                         temporal_mapping_type=TemporalMappingType("uneven"))
        return float(_first_cme(main.run()).energy_total)
    finally:
        os.unlink(handle.name)


def _first_cme(found):
    from zigzag.cost_model.cost_model import CostModelEvaluation

    if isinstance(found, CostModelEvaluation):
        return found
    for item in found if isinstance(found, (list, tuple)) else ():
        cme = _first_cme(item)
        if cme is not None:
            return cme
    return None


# ------------------------------------------------------------------------------------------------------------
# hwmap side
# ------------------------------------------------------------------------------------------------------------


def jobs_for(hw: str, records: list[dict], entries: dict[str, dict], nodes: dict, folder: Path,
             inputs: Path) -> list[dict]:
    """hwmap's best mapping of each record's layer (ZigZag's unrolling, winner under ZigZag's rules) as a job."""
    from zigzag_crosscheck import hardware_file
    from zigzag_reference import HARDWARE_MAPPING

    from hwmap.cost.multilevel.evaluate import ZIGZAG_CONVENTIONS
    from hwmap.cost.multilevel.nest import operand_nest, resolve
    from hwmap.cost.multilevel.problem import problem_of
    from hwmap.cost.multilevel.search import map_problem
    from hwmap.interop.fixed_mapping import zigzag_spatial_entries
    from hwmap.interop.zigzag_hardware import read_zigzag_hardware

    hierarchy = read_zigzag_hardware(hardware_file(hw, folder))
    jobs = []
    for record in records:
        problem = problem_of(nodes[record["represents"][0]])
        precision = record["operand_precision_bits"]
        bits = {"input": precision["I"], "weight": precision["W"], "output": precision["O_final"],
                "psum": precision["O"]}
        spatial = zigzag_spatial_entries(record, hierarchy, source=record["name"])
        best = map_problem(hierarchy, problem, objective="energy", operand_bits=bits, spatial=spatial,
                           conventions=ZIGZAG_CONVENTIONS)
        nest = resolve(best.mapping, hierarchy, best.problem)
        # a winner allocated per operand (operand_allocation) goes to ZigZag as each operand's own nest
        nests = best.allocation.nests() if best.allocation is not None else dict.fromkeys(LETTERS, nest)
        entry = dict(entries[record["name"]])
        gemm = "D" in entry["loop_dims"]
        rename = GEMM_DIMS if gemm else {}
        temporal = {}
        for op, letter in LETTERS.items():
            view = operand_nest(nests[op], hierarchy, op)
            keepers = view.keepers(op)
            levels = []
            for j, k in enumerate(keepers):
                stop = view.level_start(keepers[j + 1]) if j + 1 < len(keepers) else len(view.loops)
                loops = [[rename.get(lp.dim, lp.dim), lp.factor] for lp in view.loops[view.level_start(k):stop]
                         if not lp.spatial and lp.factor > 1]
                levels.append(loops[::-1])  # innermost first
            temporal[letter] = levels[::-1]
        if best.problem.shape_key() != problem.shape_key():  # mapped as its GEMM: give ZigZag that GEMM
            sizes = {d: getattr(best.problem, d) for d in ("B", "G", "K", "C", "OY", "OX", "FY", "FX")}
            entry.update(loop_sizes=[sizes[d] for d in entry["loop_dims"]],
                         dimension_relations=["ix=1*ox+1*fx", "iy=1*oy+1*fy"],
                         pr_loop_sizes=[sizes["OY"], sizes["OX"]], padding=[[0, 0], [0, 0]])
        jobs.append({"key": f"{hw} {record['name']}", "entry": entry, "temporal_mapping": temporal,
                     "spatial_mapping": record["spatial_mapping"], "hwmap_energy_pj": best.result.energy_pj,
                     "hardware_file": str(inputs / "hardware" / f"{hw}.yaml"),
                     "mapping_file": str(inputs / "mapping" / f"{HARDWARE_MAPPING[hw]}.yaml")})
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hardware", default="", help="comma-separated ZigZag example accelerators (default all)")
    parser.add_argument("--tiny", action="store_true", help="only layer1.0.conv1 and fc (a quick check)")
    parser.add_argument("--python", help="a python with zigzag-dse 3.9.1 (default: benchmarks/.zigzag-venv's)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(Path(args.worker[0]), Path(args.worker[1]))
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    from zigzag_crosscheck import HARDWARE, REFERENCE, TINY
    from zigzag_reference import BITS, zigzag_inputs

    import hwmap
    from hwmap.interop.zigzag import zigzag_layers

    chosen = [h for h in args.hardware.split(",") if h] or list(HARDWARE)
    unknown = [h for h in chosen if h not in HARDWARE]
    if unknown:
        parser.error(f"--hardware: unknown {unknown[0]!r}; expected some of {', '.join(HARDWARE)}")
    if args.python:
        python = Path(args.python)
    else:
        from bench_zigzag import zigzag_python

        python = zigzag_python()
    inputs = zigzag_inputs(python)
    graph = hwmap.extract_graph("resnet50")
    nodes = {node.name: node for node in graph.nodes}
    entries = {layer.entry["name"]: layer.entry for layer in zigzag_layers(graph, **BITS)[0]}
    WORK.mkdir(parents=True, exist_ok=True)
    jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        for hw in chosen:
            document = json.loads((REFERENCE / f"zigzag_resnet50_{hw}.json").read_text())
            records = [r for r in document["layers"] if "error" not in r and (not args.tiny or r["name"] in TINY)]
            jobs += jobs_for(hw, records, entries, nodes, Path(tmp), inputs)
    jobs_path, out_path = WORK / "jobs.json", WORK / "zigzag.json"
    jobs_path.write_text(json.dumps(jobs))
    subprocess.run(["nice", "-n", "19", str(python), __file__, "--worker", str(jobs_path), str(out_path)],
                   check=True, env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONWARNINGS": "ignore"})
    report({r["key"]: r for r in json.loads(out_path.read_text())}, jobs)
    return 0


def report(zigzag: dict, jobs: list[dict]) -> None:
    by_hw: dict[str, list[tuple[dict, dict]]] = {}
    for job in jobs:
        by_hw.setdefault(job["key"].split()[0], []).append((job, zigzag[job["key"]]))
    print(f"{'hardware':<15}{'layers':>7}{'equal (1e-6)':>14}{'within 1%':>11}{'largest |hwmap / ZigZag - 1|':>30}")
    failed = []
    for hw, pairs in by_hw.items():
        ratios = [job["hwmap_energy_pj"] / z["energy_pj"] for job, z in pairs if "error" not in z]
        failed += [f"{job['key']}: ZigZag: {z['error']}" for job, z in pairs if "error" in z]
        worst = max((abs(r - 1) for r in ratios), default=float("nan"))
        print(f"{hw:<15}{len(pairs):>7}{sum(abs(r - 1) <= 1e-6 for r in ratios):>14}"
              f"{sum(abs(r - 1) <= 0.01 for r in ratios):>11}{worst:>30.2e}")
    for job, z in (pair for pairs in by_hw.values() for pair in pairs):
        if "error" not in z and abs(job["hwmap_energy_pj"] / z["energy_pj"] - 1) > 1e-6:
            print(f"  {job['key']}: hwmap {job['hwmap_energy_pj']:,.1f} pJ, ZigZag {z['energy_pj']:,.1f} pJ")
    for line in failed:
        print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
