"""Issue 4 target: costing 100 paths of segformer-b2 on one template in under 30 s (identical graphs traced once,
skipped-block paths derived from their base graph).

Run: python benchmarks/bench_paths.py
"""

from __future__ import annotations

import itertools
import time

from hwmap.api import load_accelerator
from hwmap.paths.costing import cost_paths
from hwmap.paths.model import PathSet, PathSpec

DEPTHS = (3, 4, 6, 3)  # SegFormer-B2 blocks per stage


def skip_names(last: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"segformer.stages.{s}.blocks.{DEPTHS[s] - 1 - i}" for s, k in enumerate(last) for i in range(k))


def hundred_paths() -> PathSet:
    paths = []
    for last in itertools.product((0, 1), (0, 1, 2), range(5), (0, 1)):  # 60 block-skipping combinations
        paths.append(PathSpec(name="skip-" + "".join(map(str, last)), model="segformer-b2", input_chw=None,
                              skip_blocks=skip_names(last)))
    for count in (1, 2, 3):  # 14 pruned decoders
        for dropped in itertools.combinations(range(4), count):
            paths.append(PathSpec(name=f"drop-{dropped}", model="segformer-b2", input_chw=None,
                                  drop_decoder_stages=dropped))
    for size in range(320, 512, 16):  # 12 resolutions, each also with stage 3 shortened by two blocks
        paths.append(PathSpec(name=f"r{size}", model="segformer-b2", input_chw=(3, size, size)))
        paths.append(PathSpec(name=f"r{size}-skip", model="segformer-b2", input_chw=(3, size, size),
                              skip_blocks=skip_names((0, 0, 2, 0))))
    paths.append(PathSpec(name="full-again", model="segformer-b2", input_chw=None))  # identical to skip-0000
    paths.append(PathSpec(name="r320-again", model="segformer-b2", input_chw=(3, 320, 320)))
    assert len(paths) == 100, len(paths)
    return PathSet(tuple(paths))


def main() -> None:
    from hwmap.graph.sources import build_model

    paths = hundred_paths()
    accel = load_accelerator("systolic16x16")
    start = time.perf_counter()
    build_model("segformer-b2")  # imports torch and transformers: start-up, not costing
    print(f"imports and first model build: {time.perf_counter() - start:.1f} s (not counted)")
    start = time.perf_counter()
    costed = cost_paths(paths, accel)
    elapsed = time.perf_counter() - start
    distinct = len({p.graph_key for p in paths.paths})
    print(f"costed {len(costed)} segformer-b2 paths ({distinct} distinct graphs; 27 traced, the rest derived) on "
          f"systolic16x16 in {elapsed:.1f} s  -> {elapsed / 30:.2f} of the 30 s target")
    cheapest = min(costed, key=lambda c: c.energy_mj)
    print(f"energy range {cheapest.energy_mj:.1f} mJ ({cheapest.name}) .. {max(c.energy_mj for c in costed):.1f} mJ")


if __name__ == "__main__":
    main()
