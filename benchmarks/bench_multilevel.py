"""Multi-level mapper speed (issue 17 target: cold mapping of every ResNet-50 conv/FC layer on a 3-level
Eyeriss-like hierarchy in under 2 s CPU on this machine).

The hierarchy: DRAM -> a shared global buffer (inputs and partial sums; weights bypass it) -> per-PE scratchpads
for inputs, weights and partial sums -> 14 x 12 PEs, with Eyeriss v1's sizes (Chen et al., ISCA 2016: 108 KB
global buffer, 12 / 224 / 24 16-bit words of input / weight / partial-sum scratchpad, 16-bit data) and the
per-access energies of Timeloop's eyeriss_like ERT (../shared/reference/timeloop/eyeriss_like/ERT.yaml: DRAM 512
pJ and global buffer 14.14 pJ per 64-bit access; scratchpads 0.177 / 1.88 / 0.219 pJ per 16-bit access; MAC 0.208
pJ). Row stationary's freedom as spatial choices: output rows or K over the 14 columns, filter rows, C or K over
the 12 rows.

Measures (CPU seconds, process_time) the cold mapping of every distinct layer shape (in-process cache cleared;
the graph is extracted beforehand, not timed), the warm repeat (every shape cached), and prints per layer shape
the energy, cycles, utilisation, gap to the lower bound and whether the search was exhaustive.

    python benchmarks/bench_multilevel.py [--model resnet50] [--objective energy] [--every-option]

--every-option: also map every shape with the full search on every spatial/bypass option (map_problem's
shortlist=None, not timed against the target) and print both totals: what the shortlist costs in energy.
"""

from __future__ import annotations

import argparse
import time

EYERISS_LIKE = """
schema_version: 3
kind: hierarchy
description: "Eyeriss-like row-stationary 14x12 PE array (Eyeriss v1 sizes, Timeloop eyeriss_like energies)"
provenance:
  repository: https://github.com/Accelergy-Project/timeloop-accelergy-exercises
  commit: 2d5510807128e9bd5f1cad0705cdf2ec4612fd4e
  file: workspace/example_designs/example_designs/eyeriss_like/ERT.yaml
  adapted: "energies per access from the ERT; Eyeriss v1 (Chen et al., ISCA 2016) sizes and 16-bit data instead of
    the example's 128 KiB buffer, 192/16-word scratchpads and 8-bit data; bandwidths: DRAM 8 and buffer 16 bytes
    per cycle each way, scratchpads unlimited"
freq_mhz: 200
operand_bits: {input: 16, weight: 16, output: 16}
vector_unit: {lanes: 16, op_energy_pj: 1.5}
hierarchy:
  array_axes: [X, Y]
  levels:
    - {name: DRAM, keeps: [input, weight, output], word_bits: 16, access_width_bits: 64,
       energy: {read_pj: 512.0, write_pj: 512.0, update_pj: 512.0}, mesh: [1, 1],
       read_bandwidth_bytes_per_cycle: 8, write_bandwidth_bytes_per_cycle: 8}
    - {name: shared_glb, keeps: [input, output], bypasses: [weight], capacity_bytes: 110592, word_bits: 16,
       access_width_bits: 64, energy: {read_pj: 14.137929, write_pj: 14.137929, update_pj: 14.137929},
       mesh: [1, 1], read_bandwidth_bytes_per_cycle: 16, write_bandwidth_bytes_per_cycle: 16}
    - {name: ifmap_spad, keeps: [input], bypasses: [weight, output], capacity_bytes: 24, word_bits: 16,
       access_width_bits: 16, energy: {read_pj: 0.176713, write_pj: 0.176713, update_pj: 0.176713},
       mesh: [14, 12]}
    - {name: weights_spad, keeps: [weight], bypasses: [input, output], capacity_bytes: 448, word_bits: 16,
       access_width_bits: 16, energy: {read_pj: 1.881657, write_pj: 1.881657, update_pj: 1.881657},
       mesh: [14, 12]}
    - {name: psum_spad, keeps: [output], bypasses: [input, weight], capacity_bytes: 48, word_bits: 16,
       access_width_bits: 16, energy: {read_pj: 0.2191, write_pj: 0.2191, update_pj: 0.2191}, mesh: [14, 12]}
  compute: {name: mac, mac_energy_pj: 0.207692, mesh: [14, 12]}
  spatial:
    - {axis: X, dims: [OY, K]}
    - {axis: Y, dims: [FY, C, K]}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--objective", default="energy")
    parser.add_argument("--every-option", action="store_true")
    args = parser.parse_args()

    from hwmap.api import extract_graph
    from hwmap.cost import hierarchy_kind
    from hwmap.cost.layers import layer_arrays
    from hwmap.cost.multilevel import problem_of
    from hwmap.cost.result import UNIT_ARRAY
    from hwmap.hardware import loads_accelerator

    graph = extract_graph(args.model)
    accel = loads_accelerator(EYERISS_LIKE, name="eyeriss_like_bench")
    h = hierarchy_kind.hardware_view(accel)
    bits = hierarchy_kind._bits(accel.spec)
    arrays = layer_arrays(graph)
    problems = [problem_of(graph.nodes[i]) for i in range(len(arrays)) if arrays.mask(UNIT_ARRAY)[i]]
    shapes = {p.shape_key(): p for p in problems}
    print(f"{args.model}: {len(problems)} conv/FC layers, {len(shapes)} distinct shapes; hierarchy "
          f"{' -> '.join(lv.name for lv in h.levels)} -> {h.compute.mesh[0]}x{h.compute.mesh[1]} MACs")

    def map_all():
        return [hierarchy_kind.map_layer(h, p, objective=args.objective, bits=bits) for p in problems]

    hierarchy_kind.clear_cache()
    cpu = time.process_time()
    mapped = map_all()
    cold = time.process_time() - cpu
    cpu = time.process_time()
    map_all()
    warm = time.process_time() - cpu
    seen = set()
    print(f"{'layer':34} {'K':>5} {'C':>5} {'OY':>4} {'F':>2} {'s':>2} {'energy uJ':>10} {'cycles':>10} "
          f"{'util':>5} {'gap':>6} exh  spatial")
    for p, m in zip(problems, mapped, strict=True):
        if p.shape_key() in seen:
            continue
        seen.add(p.shape_key())
        r = m.result
        print(f"{p.name[:34]:34} {p.K:5d} {p.C:5d} {p.OY:4d} {p.FY:2d} {p.stride_y:2d} {r.energy_pj / 1e6:10.2f} "
              f"{r.cycles:10.0f} {r.utilisation:5.2f} {m.gap:6.2f} {'yes' if m.exhaustive else 'no ':3}  "
              f"{m.spatial_text()}")
    total_e = sum(m.result.energy_pj for m in mapped) / 1e9
    total_c = sum(m.result.cycles for m in mapped)
    print(f"total: {total_e:.3f} mJ, {total_c:,.0f} cycles over {len(problems)} layers")
    if args.every_option:
        from hwmap.cost.multilevel.search import map_problem

        cpu = time.process_time()
        full = {k: map_problem(h, p, objective=args.objective, operand_bits=bits, shortlist=None)
                for k, p in shapes.items()}
        full_s = time.process_time() - cpu
        full_e = sum(full[p.shape_key()].result.energy_pj for p in problems) / 1e9
        print(f"every option: {full_e:.3f} mJ ({full_s:.2f} s CPU); shortlist: {total_e:.3f} mJ "
              f"(ratio {total_e / full_e:.4f})")
    print(f"cold mapping: {cold:.2f} s CPU ({len(shapes)} shapes; target < 2 s: {'met' if cold < 2 else 'NOT met'});"
          f" warm: {warm * 1e3:.1f} ms CPU")


if __name__ == "__main__":
    main()
