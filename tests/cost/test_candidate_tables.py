"""Candidate tables (a layer shape's tilings searched once, every buffer configuration looked up) give the mapper's
per-capacity answers bit for bit, in one process and across processes (the on-disk store)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwmap.cost import candidate_store, mapping
from hwmap.cost.dispatch import estimate_graph, map_target
from hwmap.cost.layers import layer_arrays
from hwmap.cost.memory import memory_hierarchy
from hwmap.cost.result import UNIT_ARRAY


@pytest.fixture()
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    mapping.clear_mapper_caches()
    yield tmp_path
    mapping.clear_mapper_caches()


def _shapes(model: str):
    from hwmap.api import extract_graph

    arrays = layer_arrays(extract_graph(model))
    gemm = arrays.mask(UNIT_ARRAY)
    return sorted({mapping.LoopNest(*(int(v) for v in arrays.nest[i])).canonical()
                   for i in range(len(arrays)) if gemm[i]}, key=str)


def _configurations(base: mapping.MapTarget, count: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        ci, cw, co = (float(2 ** rng.integers(9, 21)) * rng.choice([1.0, 1.5]) for _ in range(3))
        if base.shared:
            yield dataclasses.replace(base, cap_input=ci, cap_weight=ci, cap_output=ci)
        else:
            yield dataclasses.replace(base, cap_input=ci, cap_weight=cw, cap_output=co)


@pytest.mark.parametrize(("model", "accel"), [("resnet50", "systolic16x16"), ("mobilenetv3_small_050",
                                                                             "magnet16pe_v16"),
                                              ("deit_tiny_patch16_224", "systolic64x64")])
def test_lookup_equals_the_per_capacity_search_on_every_shape(cache_home, model, accel):
    from hwmap.api import load_accelerator

    spec = load_accelerator(accel).spec
    base = map_target(memory_hierarchy(spec), spec)
    compared = 0
    for t in _configurations(base, 8, seed=len(model)):
        for nest in _shapes(model):
            for floors in ((t.min_k, t.min_c), (1, 1), (64, 8)):
                for objective in ("energy", "latency", "edp"):
                    target = dataclasses.replace(t, min_k=floors[0], min_c=floors[1])
                    args = dict(compute_cycles=5e4, fixed_energy_pj=1e3, objective=objective)
                    with mapping.per_capacity_search():
                        try:
                            cold = mapping.map_layer(nest, target, **args)
                        except Exception as exc:  # noqa: BLE001 - both paths must fail alike
                            cold = type(exc)
                    mapping._map_group.cache_clear()
                    key = mapping._grid_key(target)
                    mapping.candidate_table(nest, key)  # the table path from here on
                    assert mapping._use_table(nest, key)
                    try:
                        looked_up = mapping.map_layer(nest, target, **args)
                    except Exception as exc:  # noqa: BLE001
                        looked_up = type(exc)
                    assert looked_up == cold, (nest, target, objective)
                    compared += 1
    assert compared > 300


def test_a_sweep_over_buffer_sizes_equals_cold_estimates_and_a_second_process_reads_the_store(cache_home):
    from hwmap.api import extract_graph, load_accelerator

    graph = extract_graph("resnet18")
    base = load_accelerator("systolic16x16")
    variants = [base.with_overrides({"buffers.ifmap.size_bytes": i, "buffers.filter.size_bytes": i,
                                     "buffers.ofmap.size_bytes": o, "array.rows": r}, name=f"v{i}-{o}-{r}")
                for i in (8192, 32768, 262144) for o in (4096, 65536) for r in (16, 32)]
    swept = [estimate_graph(graph, v) for v in variants]
    assert mapping._TABLES  # the second configuration of each shape switched to the tables
    stored = sorted((cache_home / "hwmap" / "candidates").glob("*.candidates.npz"))
    assert len(stored) == len(mapping._TABLES)
    with mapping.per_capacity_search():
        for variant, cost in zip(variants, swept, strict=True):
            mapping.clear_mapper_caches()
            cold = estimate_graph(graph, variant)
            assert cold.layers.mappings == cost.layers.mappings
            assert float(cold.energy_mj) == float(cost.energy_mj) and cold.cycles == cost.cycles
    # A new process: tables come from the store, and the answers are the same.
    mapping.clear_mapper_caches()
    built = []
    original = mapping.build_candidate_table
    mapping.build_candidate_table = lambda nest, t, orders=None: built.append(orders is None) or original(
        nest, t, orders)
    try:
        again = [estimate_graph(graph, v) for v in variants]
    finally:
        mapping.build_candidate_table = original
    assert built and not any(built)  # every table read back, none searched again
    assert [a.layers.mappings for a in again] == [s.layers.mappings for s in swept]


def test_a_damaged_or_foreign_store_file_is_a_miss(cache_home):
    key = candidate_store.table_key({"nest": [1, 2, 3], "target": [1.0]})
    assert candidate_store.load(key) is None
    assert candidate_store.store(key, np.zeros((2, 3), dtype=np.int8)) is not None
    assert candidate_store.load(key).shape == (2, 3)
    path = cache_home / "hwmap" / "candidates" / candidate_store.entry_name(key)
    assert path.name.startswith("1x2x3-") and path.is_file()
    path.write_bytes(path.read_bytes()[:40])
    assert candidate_store.load(key) is None
    other = candidate_store.table_key({"nest": [1, 2, 4], "target": [1.0]})
    candidate_store.store(other, np.zeros((2, 3), dtype=np.int8))
    path_other = cache_home / "hwmap" / "candidates" / candidate_store.entry_name(other)
    path.write_bytes(path_other.read_bytes())  # the right name, another table inside
    assert candidate_store.load(key) is None
    assert candidate_store.load(other).shape == (2, 3)


def test_no_cache_switch_neither_reads_nor_writes(cache_home):
    key = candidate_store.table_key({"nest": [5]})
    candidate_store.store(key, np.ones((1, 2), dtype=np.int8))
    candidate_store.set_enabled(False)
    try:
        assert candidate_store.load(key) is None
        assert candidate_store.store(candidate_store.table_key({"nest": [6]}), np.ones((1, 1), np.int8)) is None
    finally:
        candidate_store.set_enabled(True)
    assert [e.label for e in candidate_store.store_info().entries] == ["5"]
    assert candidate_store.load(key).tolist() == [[1, 1]]


def test_store_info_and_clear(cache_home):
    candidate_store.store(candidate_store.table_key({"nest": [1]}), np.zeros((1, 1), dtype=np.int8))
    info = candidate_store.store_info()
    assert [e.label for e in info.entries] == ["1"] and info.folder == str(cache_home / "hwmap" / "candidates")
    assert info.size_bytes == (cache_home / "hwmap" / "candidates" / info.entries[0].file).stat().st_size > 0
    assert len(candidate_store.clear_store().entries) == 1
    assert candidate_store.store_info().entries == ()


@pytest.mark.parametrize("model", ["resnet50", "deit_tiny_patch16_224"])
def test_largest_p_tile_per_operand_equals_the_joint_one(cache_home, model):
    """Separate levels: the largest P tile of every column is the minimum of what the input level alone and the
    output level alone allow (each cached per capacity), where the weight tile fits; the same integers as the
    joint computation, also at capacities equal to a tile's exact need (where rounding could split them)."""
    from hwmap.api import load_accelerator

    spec = load_accelerator("systolic16x16").spec
    base = map_target(memory_hierarchy(spec), spec)
    rng = np.random.default_rng(7)
    compared = 0
    for nest in _shapes(model):
        table = mapping.candidate_table(nest, base)
        exact_in = table.input_need(table.p_tiles).ravel()
        exact_out = np.outer(table.out_per_p, table.p_tiles).ravel()
        capacities = [*(float(2 ** rng.integers(9, 21)) for _ in range(6)), *rng.choice(exact_in, 6),
                      *rng.choice(exact_out, 6)]
        for ci, co, cw in zip(capacities, rng.permutation(capacities), rng.permutation(capacities), strict=True):
            t = dataclasses.replace(base, cap_input=float(ci), cap_weight=float(cw), cap_output=float(co))
            joint = mapping._largest_p(nest, t, table.in_per_row, table.out_per_p, table.w_tile)
            split = np.minimum(mapping._largest_p_of(nest, t, "input", t.cap_input),
                               mapping._largest_p_of(nest, t, "output", t.cap_output))
            np.testing.assert_array_equal(np.where(table.w_tile <= t.cap_weight, split, 0), joint)
            compared += int((joint >= 1).sum())
    assert compared > 10_000  # most configurations let many columns fit
