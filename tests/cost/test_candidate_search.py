"""A candidate table's order search (three traffics per candidate, hwmap.cost.mapping._best_orders) gives the six
class orders' search bit for bit: the same best order, DRAM bytes and buffer energy for every tiling, and the
lookups built on it give the per-capacity mapper's answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwmap.cost import candidate_store, mapping
from hwmap.cost.mapping import LoopNest, MapTarget

# Shapes with every class's trip count at one and above one: 1 x 1 and strided k x k convs, batches, groups, GEMMs
# with a single row, layers smaller than any floor.
SHAPES = [
    LoopNest(n=1, k=64, c=64, p=56, q=56, r=3, s=3),
    LoopNest(n=2, k=96, c=48, p=28, q=28, r=3, s=3, stride_h=2, stride_w=2),
    LoopNest(n=1, k=24, c=3, p=112, q=112, r=7, s=7, stride_h=2, stride_w=2),
    LoopNest(n=3, k=1, c=1, p=9, q=5, r=5, s=1, stride_h=3, stride_w=1, groups=4),
    LoopNest(n=1, k=1000, c=2048, p=1, q=1),
    LoopNest(n=1, k=768, c=3072, p=196, q=1),
    LoopNest(n=1, k=1, c=1, p=1, q=1),
    LoopNest(n=4, k=7, c=5, p=3, q=2, r=2, s=2),
]


def _target(**energies) -> MapTarget:
    values = dict(input_bytes=1.0, weight_bytes=1.0, psum_bytes=4.0, output_bytes=1.0, cap_input=0.0,
                  cap_weight=0.0, cap_output=0.0, shared=False, dram_pj_per_byte=0.0,
                  fill_input_pj_per_byte=3.0, fill_weight_pj_per_byte=2.0, out_read_pj_per_byte=1.5,
                  out_write_pj_per_byte=2.5, dram_bw_bytes_per_cycle=1.0, static_pj_per_cycle=0.0)
    return MapTarget(**{**values, **energies})


TARGETS = [
    _target(),  # unequal energies: buffer energy breaks DRAM ties differently per order
    _target(fill_input_pj_per_byte=1.0, fill_weight_pj_per_byte=1.0, out_read_pj_per_byte=1.0,
            out_write_pj_per_byte=1.0),
    _target(input_bytes=2.0, weight_bytes=0.5, psum_bytes=3.0, output_bytes=2.0, fill_input_pj_per_byte=0.0,
            fill_weight_pj_per_byte=7.0, out_read_pj_per_byte=0.0, out_write_pj_per_byte=0.0),
]


def _six_order_search(nest: LoopNest, t: MapTarget):
    """Every class order's traffic (_traffic on all six), then the first order with the least DRAM bytes and,
    among those, the least buffer energy: the search the table stands for, spelled out."""
    table = mapping.build_candidate_table(nest, t)
    nn, kk, cc, qq = (table.trips[:, i:i + 1] for i in range(4))
    pp = table.p_trips[None, :]
    positions = tuple(p[:, :, None] for p in mapping._ALL_ORDER_POSITIONS)  # (orders, 1, 1)
    *_, dram, buffer_pj, _ = mapping._traffic(nest, t, positions, kk, cc, nn, qq, pp)
    dram, buffer_pj = np.broadcast_arrays(dram, buffer_pj)
    d_least = dram.min(axis=0)
    least = dram == d_least
    b_least = np.where(least, buffer_pj, np.inf).min(axis=0)
    order = np.argmax(least & (buffer_pj == b_least), axis=0)
    return table, order, d_least, b_least


@pytest.mark.parametrize("nest", SHAPES, ids=str)
@pytest.mark.parametrize("target", TARGETS, ids=["unequal", "equal", "words"])
def test_three_traffics_give_the_six_order_search_bit_for_bit(nest, target):
    table, order, dram, buffer_pj = _six_order_search(nest, target)
    assert table.best_order.shape == order.shape == mapping._table_shape(nest)
    np.testing.assert_array_equal(table.best_order, order)
    assert np.array_equal(table.dram, dram) and np.array_equal(table.buffer_pj, buffer_pj)  # bits, not closeness
    assert table.dram_cells[-1] == np.inf and np.array_equal(table.dram_cells[:-1], dram.ravel())
    # Every order is some candidate's best somewhere in these shapes, not just the first one.
    if nest == SHAPES[0]:
        assert len(np.unique(table.best_order)) >= 3


@pytest.mark.parametrize("nest", SHAPES, ids=str)
def test_a_stored_table_reads_back_the_searched_one(nest):
    t = TARGETS[0]
    searched = mapping.build_candidate_table(nest, t)
    read = mapping.build_candidate_table(nest, t, searched.best_order.copy())
    for field in ("best_order", "dram", "buffer_pj", "dram_cells"):
        assert np.array_equal(getattr(read, field), getattr(searched, field)), field


def test_the_blocked_search_equals_one_block(monkeypatch):
    nest, t = SHAPES[1], TARGETS[0]
    columns, width = mapping._table_shape(nest)
    monkeypatch.setattr(mapping, "_BLOCK_ELEMENTS", columns * width)  # one block
    whole = mapping.build_candidate_table(nest, t)
    monkeypatch.setattr(mapping, "_BLOCK_ELEMENTS", 7)  # one P tile per block
    blocked = mapping.build_candidate_table(nest, t)
    monkeypatch.setattr(mapping, "_BLOCK_ELEMENTS", columns * 3)  # 3 P tiles per block, the last one partial
    assert width % 3 != 0
    partial = mapping.build_candidate_table(nest, t)
    for field in ("best_order", "dram", "buffer_pj", "dram_cells"):
        assert np.array_equal(getattr(blocked, field), getattr(whole, field)), field
        assert np.array_equal(getattr(partial, field), getattr(whole, field)), field


@pytest.mark.parametrize("shared", [False, True])
def test_lookups_equal_the_per_capacity_search_over_capacities_and_floors(tmp_path, monkeypatch, shared):
    """The ranked lookup (_fitting, _lookup_choice) against the per-capacity grid on every shape, objective and a
    spread of capacities and floors, including capacities where nothing or only floorless tiles fit."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    base = dataclasses.replace(TARGETS[1], dram_pj_per_byte=80.0, dram_bw_bytes_per_cycle=16.0,
                               static_pj_per_cycle=2.0, shared=shared)
    rng = np.random.default_rng(18)
    compared = failed = 0
    mapping.clear_mapper_caches()
    try:
        with candidate_store.used(False):
            for nest in SHAPES[:6]:
                for _ in range(6):
                    ci, cw, co = (float(2 ** rng.integers(2, 19)) for _ in range(3))
                    caps = (ci, ci, ci) if shared else (ci, cw, co)
                    for floors in ((1, 1), (16, 16), (32, 8), (128, 128)):
                        target = dataclasses.replace(base, cap_input=caps[0], cap_weight=caps[1],
                                                     cap_output=caps[2], min_k=floors[0], min_c=floors[1])
                        for objective in ("energy", "latency", "edp"):
                            args = dict(compute_cycles=3e4, fixed_energy_pj=5e2, objective=objective)
                            with mapping.per_capacity_search():
                                cold = _mapped(nest, target, args)
                            key = mapping._grid_key(target)
                            mapping.candidate_table(nest, key)
                            assert mapping._use_table(nest, key)
                            assert _mapped(nest, target, args) == cold, (nest, target, objective)
                            compared += 1
                            failed += isinstance(cold, type)
    finally:
        mapping.clear_mapper_caches()
    assert compared == 6 * 6 * 4 * 3 and 0 < failed < compared  # some capacities fit nothing


def _mapped(nest, target, args):
    try:
        return mapping.map_layer(nest, target, **args)
    except Exception as exc:  # noqa: BLE001 - both paths must fail alike
        return type(exc)
