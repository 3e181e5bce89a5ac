"""Run ZigZag 3.9.1 LOMA on hwmap-exported layers, one layer at a time; runs INSIDE benchmarks/.zigzag-venv.

Not part of hwmap (hwmap never imports ZigZag): bench_zigzag.py starts this script with the venv's python.

    python zigzag_runner.py --workload W.yaml --hardware H.yaml --mapping M.yaml --ids 0,3,7 --out R.json
        [--lpf-limit 6] [--opt energy]

The stages are those of zigzag.api.get_hardware_performance_zigzag without the save/visualisation stages (they
write pickles and figures per layer and only cost time). Per layer it writes energy (total, MAC, per operand per
level), latency_total2 cycles, DRAM bytes per operand and direction, the chosen temporal and spatial mapping, and
the wall time of the search.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import yaml


def _stages():
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage, MinimalEnergyStage, MinimalLatencyStage, SumStage
    from zigzag.stages.workload_iterator import WorkloadStage

    return (WorkloadParserStage, AcceleratorParserStage, SumStage, WorkloadStage, SpatialMappingGeneratorStage,
            TemporalMappingGeneratorStage, CostModelStage,
            {"energy": MinimalEnergyStage, "latency": MinimalLatencyStage, "EDP": MinimalEDPStage})


def run_layer(layer: dict, hardware: str, mapping: str, *, lpf_limit: int, opt: str) -> dict:
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.main import MainStage

    parse_w, parse_a, sum_stage, per_layer, spatial, temporal, cost, reducers = _stages()
    reduce = reducers[opt]
    main = MainStage(
        list_of_callables=[parse_w, parse_a, sum_stage, per_layer, reduce, spatial, reduce, temporal, cost],
        accelerator=hardware, workload=[layer], mapping=mapping, dump_folder="/tmp/zigzag-unused",
        loma_lpf_limit=lpf_limit, loma_show_progress_bar=False, nb_mappings_generated=3,
        enable_mix_spatial_mapping_generation=False, access_same_data_considered_as_no_access=True,
        temporal_mapping_type=TemporalMappingType("uneven"),
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    results = main.run()
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    cme = results[0][1][0][0]
    return {"id": layer["id"], "name": layer["name"], "wall_s": wall_s, "cpu_s": cpu_s, **describe(cme)}


def describe(cme) -> dict:
    """The numbers the comparison needs from one CostModelEvaluation."""

    dram_bytes: dict[str, float] = {}
    per_level: dict[str, dict[str, float]] = {}
    hierarchy = cme.accelerator.memory_hierarchy
    for layer_op, accesses in cme.memory_word_access.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        levels = hierarchy.get_memory_levels(mem_op=mem_op)
        energies = cme.mem_energy_breakdown[layer_op]
        per_level[str(layer_op)] = {lvl.name: float(e) for lvl, e in zip(levels, energies, strict=True)}
        top = levels[-1]
        for direction, count in accesses[len(levels) - 1].data.items():
            bw_bits = top.get_max_bandwidth(mem_op, direction) or 0
            dram_bytes[f"{layer_op}.{direction.name}"] = float(count) * bw_bits / 8
    tm = cme.temporal_mapping.mapping_dic_origin
    temporal = {str(op): [[(str(dim), int(size)) for dim, size in level] for level in levels]
                for op, levels in tm.items()}
    spatial = {str(oa): {str(dim): float(size) for dim, size in m.items()}
               for oa, m in cme.layer.spatial_mapping.items()}
    return {
        "energy_pj": float(cme.energy_total),
        "mac_energy_pj": float(cme.mac_energy),
        "mem_energy_pj": float(cme.mem_energy),
        "energy_by_operand_level_pj": per_level,
        "latency_cycles": float(cme.latency_total2),
        "ideal_cycles": float(cme.ideal_cycle),
        "stall_slack_cycles": float(cme.stall_slack_comb),
        "onloading_cycles": float(cme.data_onloading_cycle),
        "offloading_cycles": float(cme.data_offloading_cycle),
        "dram_bytes": dram_bytes,
        "dram_bytes_total": sum(dram_bytes.values()),
        "temporal_mapping": temporal,
        "spatial_mapping": spatial,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", required=True)
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--mapping", required=True)
    parser.add_argument("--ids", required=True, help="comma-separated workload ids to run")
    parser.add_argument("--out", required=True, help="JSON lines file, one layer per line (appended)")
    parser.add_argument("--lpf-limit", type=int, default=6)
    parser.add_argument("--opt", choices=("energy", "latency", "EDP"), default="energy")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    with open(args.workload) as handle:
        layers = {layer["id"]: layer for layer in yaml.safe_load(handle)}
    for layer_id in (int(i) for i in args.ids.split(",") if i):
        layer = dict(layers[layer_id], id=0)  # a one-layer workload: its W operand is its own constant
        layer["operand_source"] = {"W": 0}
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            result = run_layer(layer, args.hardware, args.mapping, lpf_limit=args.lpf_limit, opt=args.opt)
        except Exception as failed:  # noqa: BLE001 - recorded per layer (LOMA raises when no mapping fits)
            result = {"id": layer_id, "name": layer["name"], "error": f"{type(failed).__name__}: {failed}",
                      "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start}
            print(f"{layer_id} {layer['name']}: ZigZag failed: {result['error'].splitlines()[0]}", flush=True)
            with open(args.out, "a") as handle:
                handle.write(json.dumps(result) + "\n")
            continue
        result["id"] = layer_id
        with open(args.out, "a") as handle:
            handle.write(json.dumps(result) + "\n")
        print(f"{layer_id} {layer['name']}: {result['energy_pj'] / 1e6:.4f} uJ, "
              f"{result['latency_cycles']:.0f} cycles, DRAM {result['dram_bytes_total'] / 1e6:.3f} MB, "
              f"{result['wall_s']:.1f} s ({result['cpu_s']:.1f} s CPU)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
