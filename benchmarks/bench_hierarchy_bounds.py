"""Speed of the traffic-vs-capacity curves of a hierarchy template (hwmap.cost.hierarchy_bounds; issue 18 item 1:
`hwmap bounds resnet50 --accel eyeriss_like` within a few seconds warm, every level).

Measures, in one process and in CPU seconds (process_time; the machine is shared), the estimate the curves start
from (the multi-level mapper over every layer, in-process cache cleared) and then, per on-chip level, the curves of
every conv/GEMM layer and their sum; prints each level's time, its ratio to the estimate, the whole-network value
at the template's capacity beside the mapper's traffic there, and the compulsory traffic. The graph is extracted
beforehand (not timed), as a warm `hwmap bounds` reads it from the graph cache.

    python benchmarks/bench_hierarchy_bounds.py [--model resnet50] [--accel eyeriss_like]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--accel", default="eyeriss_like")
    args = parser.parse_args()

    from hwmap.api import estimate, extract_graph, load_accelerator
    from hwmap.cost import hierarchy_kind
    from hwmap.cost.hierarchy_bounds import bounded_levels, hierarchy_traffic_bounds

    graph = extract_graph(args.model)
    accel = load_accelerator(args.accel)
    hierarchy_kind.clear_cache()
    start = time.process_time()
    cost = estimate(graph, accel, cache=False)
    estimate_s = time.process_time() - start
    h = hierarchy_kind.hardware_view(accel)
    print(f"{args.model} on {args.accel}: estimate (multi-level mapper, cold) {estimate_s:.2f} s CPU")
    print(f"{'level':<16}{'from':<22}{'curves s CPU':>13}{'x estimate':>11}{'MB at template':>16}"
          f"{'mapper MB':>11}{'compulsory MB':>15}{'steps':>7}")
    total, slowest = 0.0, 0.0
    for index in bounded_levels(h):
        name = h.levels[index].name
        start = time.process_time()
        lb = hierarchy_traffic_bounds(cost, accel, levels=[name]).levels[0]
        seconds = time.process_time() - start
        total += seconds
        slowest = max(slowest, seconds)
        net = lb.network
        print(f"{name:<16}{lb.above:<22}{seconds:>13.2f}{seconds / estimate_s:>11.2f}"
              f"{net.at(lb.template_capacity_bytes) / 1e6:>16.3f}{lb.mapped_bytes / 1e6:>11.3f}"
              f"{net.compulsory_bytes / 1e6:>15.3f}{len(net.capacity_bytes):>7}")
    print(f"every level: {total:.2f} s CPU ({total / estimate_s:.2f} x the estimate); the slowest level with its "
          f"estimate (what `hwmap bounds --level L` computes after reading the graph): "
          f"{estimate_s + slowest:.2f} s CPU")


if __name__ == "__main__":
    main()
