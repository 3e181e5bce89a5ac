"""Traffic-vs-buffer curves (hwmap.cost.bounds) against the mapper itself, layer by layer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwmap.cost import bounds as B
from hwmap.cost.dispatch import map_target
from hwmap.cost.layers import layer_arrays
from hwmap.cost.mapping import LoopNest, candidate_table, map_layer
from hwmap.cost.memory import memory_hierarchy


@pytest.fixture(scope="module")
def costed():
    from hwmap.api import estimate, extract_graph, load_accelerator

    out = {}
    for model in ("resnet50", "mobilenetv3_small_050"):
        graph = extract_graph(model)
        for name in ("systolic16x16", "systolic64x64", "magnet16pe_v16"):
            accel = load_accelerator(name)
            memory = memory_hierarchy(accel.spec)
            target = map_target(memory, accel.spec)
            cost = estimate(graph, accel, cache=False)
            out[model, name] = (cost, layer_arrays(graph), target, memory)
    return out


def _bounds(costed, model, accel):
    cost, arrays, target, memory = costed[model, accel]
    return B.traffic_bounds(cost, arrays, target, memory), target


@pytest.mark.parametrize("model", ["resnet50", "mobilenetv3_small_050"])
@pytest.mark.parametrize("accel", ["systolic16x16", "systolic64x64", "magnet16pe_v16"])
def test_curves_fall_to_the_compulsory_traffic_and_meet_the_mapper_at_the_template(costed, model, accel):
    bounds, _ = _bounds(costed, model, accel)
    names = [lb.level for lb in bounds.levels]
    assert names == (["global"] if accel.startswith("magnet") else ["ifmap", "filter", "ofmap", "all"])
    for lb in bounds.levels:
        assert len(lb.layers) == sum(m is not None for m in costed[model, accel][0].layers.mappings)
        for lc in lb.layers + (B.LayerCurve("network", "", lb.network, lb.mapped_bytes),):
            c = lc.curve
            assert (np.diff(c.capacity_bytes) > 0).all() and (np.diff(c.traffic_bytes) < 0).all()
            assert c.floor_bytes >= c.compulsory_bytes > 0
            at = c.at(lb.template_capacity_bytes)
            assert at <= lc.mapped_bytes  # the least attainable is never above what the mapper moves
            assert c.at(c.min_capacity_bytes * (1 - 1e-9)) == float("inf")
        if lb.level in ("all", "global"):  # every operand can be held once: the compulsory traffic is reached
            for lc in lb.layers:
                assert lc.curve.floor_bytes == lc.curve.compulsory_bytes
                assert lc.curve.compulsory_capacity_bytes is not None
            assert lb.network.floor_bytes == lb.network.compulsory_bytes


@pytest.mark.parametrize(("model", "accel", "levels"), [
    ("resnet50", "systolic16x16", ("ifmap", "ofmap", "all")),
    ("resnet50", "magnet16pe_v16", ("global",)),
    ("mobilenetv3_small_050", "systolic16x16", ("ifmap", "ofmap")),
    ("mobilenetv3_small_050", "magnet16pe_v16", ("global",)),
    ("mobilenetv3_small_050", "systolic64x64", ("ifmap", "ofmap", "all")),
])
def test_value_at_the_template_capacity_is_hwmap_maps_traffic_on_every_layer(costed, model, accel, levels):
    bounds, _ = _bounds(costed, model, accel)
    for level in levels:
        lb = bounds.level(level)
        assert [lc.curve.at(lb.template_capacity_bytes) for lc in lb.layers] == \
            [lc.mapped_bytes for lc in lb.layers]
        assert lb.network.at(lb.template_capacity_bytes) == lb.mapped_bytes


def _capacities(target, level, capacity):
    if level.shared:
        usable = capacity / level.size_per_usable
        return dataclasses.replace(target, cap_input=usable, cap_weight=usable, cap_output=usable)
    if level.operand is None:
        f = capacity / level.template_bytes
        return dataclasses.replace(target, cap_input=target.cap_input * f, cap_weight=target.cap_weight * f,
                                   cap_output=target.cap_output * f)
    field = {"input": "cap_input", "weight": "cap_weight", "output": "cap_output"}[level.operand]
    return dataclasses.replace(target, **{field: capacity / level.size_per_usable})


@pytest.mark.parametrize("accel", ["systolic16x16", "magnet16pe_v16"])
def test_the_step_function_is_the_mapper_at_every_capacity(costed, accel):
    """Before the running minimum, a layer's curve is the mapper's own DRAM traffic at each capacity: at every
    breakpoint, just below it, and between breakpoints, for every level and a spread of layer shapes."""
    cost, arrays, target, memory = costed["resnet50", accel]
    rng = np.random.default_rng(0)
    rows = [i for i, m in enumerate(cost.layers.mappings) if m is not None]
    for level in B.template_levels(memory):
        for i in rng.choice(rows, size=6, replace=False):
            nest = LoopNest(*(int(v) for v in arrays.nest[i])).canonical()
            curve = B._shape_curve(candidate_table(nest, target), target, level, nest.groups, running_min=False)
            probes = np.r_[curve.capacity_bytes[:40], curve.capacity_bytes[1:40] - 0.5,
                           np.sqrt(curve.capacity_bytes[:-1] * curve.capacity_bytes[1:])[:20]]
            for capacity in probes:
                expected = curve.at(capacity)
                try:
                    mapped = map_layer(nest, _capacities(target, level, capacity), compute_cycles=1e6).dram_bytes
                except Exception:  # noqa: BLE001 - nothing fits: the curve says so with inf
                    mapped = float("inf")
                assert mapped == expected, (level.name, i, capacity)


def test_sum_of_step_functions_on_the_union_of_breakpoints():
    a = B.TrafficCurve(np.array([10.0, 20.0, 40.0]), np.array([9.0, 5.0, 2.0]), 2.0)
    b = B.TrafficCurve(np.array([15.0, 30.0]), np.array([7.0, 1.0]), 1.0)
    total = B.sum_curves([a, b])
    assert total.points() == [(15.0, 16.0), (20.0, 12.0), (30.0, 6.0), (40.0, 3.0)]
    assert total.compulsory_bytes == 3.0 and total.at(14.9) == float("inf") and total.at(1e9) == 3.0
