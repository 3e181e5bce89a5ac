"""evaluate_mapping against a literal loop-by-loop replay of small layers on 2- and 3-level hierarchies."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from hwmap.cost.multilevel import LoopProblem, MappingError, evaluate_mapping
from hwmap.cost.multilevel.nest import resolve
from hwmap.cost.multilevel.problem import RELEVANT
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, build_hierarchy

BITS = {"input": 8, "weight": 8, "output": 8}


def _level(name, keeps, bypasses=(), capacity=None, mesh=(1, 1), **extra):
    return {"name": name, "keeps": keeps, "bypasses": bypasses, "capacity_bytes": capacity, "word_bits": 8,
            "access_width_bits": 8, "energy": {"read_pj": 1.0, "write_pj": 1.0, "update_pj": 1.0}, "mesh": mesh,
            **extra}


def two_level(capacity=1e9, mesh=(2, 2)):
    return build_hierarchy({
        "name": "two", "array_axes": ["X", "Y"],
        "levels": [_level("DRAM", ["input", "weight", "output"]),
                   _level("buf", ["input", "weight", "output"], capacity=capacity)],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": mesh}}, source="two")


def three_level(glb=1e9, spad=1e9):
    return build_hierarchy({
        "name": "three", "array_axes": ["X", "Y"],
        "levels": [_level("DRAM", ["input", "weight", "output"]),
                   _level("glb", ["input", "output"], ["weight"], capacity=glb),
                   _level("ispad", ["input"], ["weight", "output"], capacity=spad, mesh=(2, 2)),
                   _level("wspad", ["weight"], ["input", "output"], capacity=spad, mesh=(2, 2)),
                   _level("ospad", ["output"], ["input", "weight"], capacity=spad, mesh=(2, 2))],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]}}, source="three")


def non_nested():
    """Operands fanning out at different levels (as ZigZag's edge_tpu_like): output registers per column (2 x 1),
    then input registers per row (1 x 2); the 2 x 2 MACs unroll K along X and C along Y."""
    return build_hierarchy({
        "name": "trees", "array_axes": ["X", "Y"],
        "levels": [_level("DRAM", ["input", "weight", "output"]),
                   _level("sram", ["input", "weight"], ["output"], capacity=1e9),
                   _level("orf", ["output"], ["input", "weight"], capacity=1e9, mesh=(2, 1)),
                   _level("irf", ["input"], ["weight", "output"], capacity=1e9, mesh=(1, 2))],
        "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [2, 2]}}, source="trees")


# ------------------------------------------------------------------------------------------------ the replay


def _data(problem, op, coords):
    """The data element of op a MAC at loop coordinates touches."""
    c = coords
    if op == "weight":
        return (c["G"], c["K"], c["C"], c["FY"], c["FX"])
    if op == "output":
        return (c["B"], c["G"], c["K"], c["OY"], c["OX"])
    return (c["B"], c["G"], c["C"], c["OY"] * problem.stride_y + c["FY"] * problem.dilation_y,
            c["OX"] * problem.stride_x + c["FX"] * problem.dilation_x)


def _tile_data(problem, op, base, extent):
    ranges = [range(base[d], min(base[d] + extent[d], problem.size(d))) if d in RELEVANT[op] else range(1)
              for d in LOOP_DIMS]
    out = set()
    for point in itertools.product(*ranges):
        out.add(_data(problem, op, dict(zip(LOOP_DIMS, point, strict=True))))
    return out


def replay(h, problem, mapping):
    """Accesses (elements) per (level, operand, action) by walking every iteration of the nest.

    Which loops a level's tile holds is read from the meshes, independently of the mapper's nest: a level's
    instance spans the spatial loops along the axes it has one instance on, and the temporal loops of its own
    and deeper levels."""
    nest = resolve(mapping, h, problem)
    loops = nest.loops
    strides = []
    for i in range(len(loops)):
        strides.append(math.prod(lp.factor for lp in loops[i + 1:] if lp.dim == loops[i].dim))
    names = [lv.name for lv in h.levels]
    counts = {(lv, op, a): 0 for lv in names for op in OPERANDS for a in ("read", "write", "update")}
    held, visited, parent_union, drains = {}, {}, {}, {}
    mac_seen, fresh_seen = {}, set()
    sizes = problem.sizes

    def inside(level, lp):
        if not lp.spatial:
            return lp.level >= level
        return h.levels[level].mesh[h.array_axes.index(lp.axis)] == 1

    def instance(idx, level):
        return tuple(idx[i] for i, lp in enumerate(loops) if lp.spatial and not inside(level, lp))

    def step(idx, level):
        return tuple(idx[i] for i, lp in enumerate(loops) if not lp.spatial and lp.level < level)

    # Time runs through the temporal loops; at each step every spatial instance works at once: walk them innermost.
    walk = [i for i, lp in enumerate(loops) if not lp.spatial] + [i for i, lp in enumerate(loops) if lp.spatial]
    for walked in itertools.product(*(range(loops[i].factor) for i in walk)):
        idx = [0] * len(loops)
        for i, value in zip(walk, walked, strict=True):
            idx[i] = value
        coords = dict.fromkeys(LOOP_DIMS, 0)
        for i, lp in enumerate(loops):
            coords[lp.dim] += idx[i] * strides[i]
        if any(coords[d] >= sizes[d] for d in LOOP_DIMS):
            continue
        for op in OPERANDS:
            keepers = nest.keepers(op)
            for p, c in zip(keepers, keepers[1:], strict=False):
                base = dict.fromkeys(LOOP_DIMS, 0)
                extent = dict.fromkeys(LOOP_DIMS, 1)
                for i, lp in enumerate(loops):
                    if inside(c, lp):
                        extent[lp.dim] *= lp.factor
                    else:
                        base[lp.dim] += idx[i] * strides[i]
                tile = tuple(base[d] for d in LOOP_DIMS if d in RELEVANT[op])
                key = (op, c, instance(idx, c))
                if held.get(key) == tile:
                    continue
                when = (step(idx, c), instance(idx, p))
                data = _tile_data(problem, op, base, extent)
                if op == "output" and key in held:
                    _drain(drains, (op, p, c) + held[key + ("when",)], held[key + ("data",)])
                    counts[(names[c], op, "read")] += len(held[key + ("data",)])
                refill = op != "output" or tile in visited.setdefault(key, set())
                if refill:
                    parent_union.setdefault((op, p, c) + when, set()).update(data)
                    counts[(names[c], op, "write")] += len(data)
                visited.setdefault(key, set()).add(tile)
                held[key], held[key + ("data",)] = tile, data
                held[key + ("when",)] = (when[0], when[1])
            c = keepers[-1]
            element = _data(problem, op, coords)
            mac_seen.setdefault((op, c), set()).add((step(idx, len(loops) + 1), instance(idx, c), element))
            if op == "output":
                first = (instance(idx, c), element) not in fresh_seen
                fresh_seen.add((instance(idx, c), element))
                counts[(names[c], op, "read")] -= 1 if first else 0
    for key in [k for k in held if len(k) == 3 and k[0] == "output"]:
        op, c, _inst = key
        p = max(k for k in nest.keepers(op) if k < c)
        counts[(names[c], op, "read")] += len(held[key + ("data",)])
        _drain(drains, (op, p, c, "end", held[key + ("when",)][1]), held[key + ("data",)])
    for (op, p, _c, *_), data in parent_union.items():
        counts[(names[p], op, "read")] += len(data)
    for (op, p, _c, *_), datas in drains.items():
        counts[(names[p], op, "update")] += sum(len(d) for d in datas)
    for (op, c), seen in mac_seen.items():
        action = "update" if op == "output" else "read"
        counts[(names[c], op, action)] += len(seen)
        if op == "output":
            counts[(names[c], op, "read")] += len(seen)
    return counts


def _drain(drains, key, data):
    """Drains of one step and parent instance reduce into one update per element (their union)."""
    bucket = drains.setdefault(key, [set()])
    bucket[0].update(data)


# ------------------------------------------------------------------------------------------------ mappings


def _split(size, parts, rng):
    """size as a product of ``parts`` factors (exact divisors), at random."""
    factors = [1] * parts
    rest = size
    for prime in _primes(size):
        factors[rng.randrange(parts)] *= prime
        rest //= prime
    return factors


def _primes(n):
    out, d = [], 2
    while n > 1:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out


def random_mapping(h, problem, rng, spatial_dims):
    """A random exact mapping: spatial loops of spatial_dims {axis: (level, dim)}, every other factor spread over
    the levels' temporal loops in random orders."""
    sizes = dict(problem.sizes)
    spatial = []
    for axis, (level, dim) in spatial_dims.items():
        fanout = 2
        if sizes[dim] % fanout == 0:
            spatial.append({"level": level, "axis": axis, "dim": dim, "factor": fanout})
            sizes[dim] //= fanout
    levels = [{"level": lv.name, "keeps": list(lv.keeps), "temporal": []} for lv in h.levels]
    for dim in LOOP_DIMS:
        for index, f in enumerate(_split(sizes[dim], len(levels), rng)):
            if f > 1:
                levels[index]["temporal"].append([dim, f])
    for level in levels:
        rng.shuffle(level["temporal"])
    return {"spatial": spatial, "levels": levels}


PROBLEMS = [
    LoopProblem(K=4, C=2, OY=4, OX=2, FY=3, FX=1, name="conv"),
    LoopProblem(B=2, K=2, C=4, OY=2, OX=4, FY=2, FX=2, stride_y=2, name="strided"),
    LoopProblem(K=4, C=4, OY=4, OX=1, FY=1, FX=1, stride_y=2, name="pointwise_s2"),
    LoopProblem(G=2, K=2, C=2, OY=4, name="grouped_gemm"),
]


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", range(6))
def test_two_level_matches_replay(problem, seed):
    h = two_level()
    rng = random.Random(seed)
    mapping = random_mapping(h, problem, rng, {"X": ("buf", "K"), "Y": ("buf", rng.choice(["C", "OY", "FY"]))})
    _assert_same(h, problem, mapping)


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", range(6))
def test_three_level_matches_replay(problem, seed):
    h = three_level()
    rng = random.Random(100 + seed)
    mapping = random_mapping(h, problem, rng, {"X": ("glb", rng.choice(["OY", "K"])),
                                               "Y": ("glb", rng.choice(["FY", "C", "OX"]))})
    _assert_same(h, problem, mapping)


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", range(4))
def test_non_nested_fanouts_match_replay(problem, seed):
    """Each operand sees the spatial loops below the keeper where its own instances multiply."""
    h = non_nested()
    rng = random.Random(200 + seed)
    mapping = random_mapping(h, problem, rng, {"X": ("sram", "K"), "Y": ("sram", "C")})
    _assert_same(h, problem, mapping)


def _assert_same(h, problem, mapping):
    result = evaluate_mapping(h, problem, mapping, operand_bits=BITS)
    counts = replay(h, problem, mapping)
    for level in h.levels:
        for op in OPERANDS:
            a = result.access(level.name, op)
            got = {"read": a.reads, "write": a.writes, "update": a.updates}
            want = {action: counts[(level.name, op, action)] for action in got}
            assert got == pytest.approx(want), (level.name, op, mapping)


def test_padding_is_counted_but_moves_nothing():
    """K = 5 mapped as 2 x 3 (one padded K): the iteration space has 6 Ks, the data only 5."""
    h, problem = two_level(), LoopProblem(K=5, C=2, OY=2, name="padded")
    mapping = {"levels": [{"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": [["K", 2], ["C", 2]]},
                          {"level": "buf", "keeps": ["input", "weight", "output"],
                           "temporal": [["K", 3], ["OY", 2]]}]}
    result = evaluate_mapping(h, problem, mapping, operand_bits=BITS)
    assert result.padded_iterations == 24 and result.macs == 20
    assert result.padding == pytest.approx(1 - 20 / 24)
    assert result.access("DRAM", "weight").reads == 10  # every weight once
    assert result.access("DRAM", "input").reads == 2 * 4  # the input once per K tile (K above C)
    counts = replay(h, problem, mapping)
    assert result.access("DRAM", "input").reads == counts[("DRAM", "input", "read")]


def test_energy_cycles_and_utilisation():
    h, problem = two_level(), LoopProblem(K=4, C=4, OY=2, name="gemm")
    mapping = {"spatial": [{"level": "buf", "axis": "X", "dim": "K", "factor": 2},
                           {"level": "buf", "axis": "Y", "dim": "C", "factor": 2}],
               "levels": [{"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": []},
                          {"level": "buf", "keeps": ["input", "weight", "output"],
                           "temporal": [["K", 2], ["C", 2], ["OY", 2]]}]}
    r = evaluate_mapping(h, problem, mapping, operand_bits=BITS)
    assert r.compute_cycles == 8 and r.macs == 32 and r.utilisation == 1.0
    # DRAM: every operand once (whole layer fits): 8 inputs + 16 weights read, 8 outputs written.
    assert (r.access("DRAM", "input").reads, r.access("DRAM", "weight").reads) == (8, 16)
    assert r.access("DRAM", "output").updates == 8
    # buf: MAC reads with multicast: inputs shared over the K axis, weights over none, outputs reduced over C.
    assert r.access("buf", "input").reads == 32 / 2 and r.access("buf", "weight").reads == 32
    assert r.access("buf", "output").updates == 16
    accesses = sum(a.reads + a.writes + a.updates for a in r.accesses)
    assert r.energy_pj == pytest.approx(accesses * 1.0 + 32 * 0.5)


def test_capacity_overflow_is_one_line_naming_the_level():
    h, problem = two_level(capacity=16), LoopProblem(K=4, C=4, OY=2, name="gemm")
    mapping = {"levels": [{"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": []},
                          {"level": "buf", "keeps": ["input", "weight", "output"],
                           "temporal": [["K", 4], ["C", 4], ["OY", 2]]}]}
    with pytest.raises(MappingError, match=r"^mapping: levels\[buf\]: capacity_bytes: the tiles need 32 bytes"):
        evaluate_mapping(h, problem, mapping, operand_bits=BITS)
    r = evaluate_mapping(h, problem, mapping, operand_bits=BITS, strict=False)
    assert not r.fits and r.tile_bytes["buf"] == 32


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m["levels"].pop(), r"levels: level: \['DRAM'\] must list the hierarchy's memory levels"),
    (lambda m: m["levels"][1].update(keeps=["input"]), r"levels\[buf\]: keeps: '(weight|output)' is kept by"),
    (lambda m: m["levels"][1]["temporal"].pop(), r"levels: OY: the factors multiply to 1, less than the layer's 2"),
    (lambda m: m["levels"][1]["temporal"].append(["Z", 2]), r"levels\[buf\]\.temporal\[3\]\[0\]: Input should be"),
    (lambda m: m.update(spatial=[{"level": "buf", "axis": "X", "dim": "K", "factor": 4}]),
     r"spatial\[buf\.X\]: factor: unrolls 4 over a fanout of 2"),
    (lambda m: m.update(spatial=[{"level": "buf", "axis": "Z", "dim": "K", "factor": 2}]),
     r"spatial\[buf\.Z\.K\]: axis: unknown axis 'Z'"),
])
def test_bad_mappings_are_one_line(edit, message):
    mapping = {"levels": [{"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": []},
                          {"level": "buf", "keeps": ["input", "weight", "output"],
                           "temporal": [["K", 4], ["C", 4], ["OY", 2]]}]}
    edit(mapping)
    with pytest.raises(MappingError, match=message) as info:
        evaluate_mapping(two_level(), LoopProblem(K=4, C=4, OY=2), mapping, operand_bits=BITS)
    assert "\n" not in str(info.value)
