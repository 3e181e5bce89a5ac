"""Accelerator.with_overrides on lists of named sections (a hierarchy's levels by name, its spatial unrollings by
axis): the one field set, everything else unchanged, and one clear error for a path that does not fit."""

from __future__ import annotations

import pytest

from hwmap.errors import TemplateError
from hwmap.hardware.kinds import register_kind
from hwmap.hardware.loader import load_accelerator
from hwmap.hardware.schema import named_items


@pytest.fixture(scope="module")
def eyeriss():
    return load_accelerator("eyeriss_like")


def _levels(accel):
    return {level["name"]: level for level in accel.template_dict()["hierarchy"]["levels"]}


def test_a_level_field_by_name_changes_that_field_only(eyeriss):
    variant = eyeriss.with_overrides({"hierarchy.levels.shared_glb.capacity_bytes": 4096})
    before, after = _levels(eyeriss), _levels(variant)
    assert after["shared_glb"]["capacity_bytes"] == 4096 and before["shared_glb"]["capacity_bytes"] == 131072
    assert {k: v for k, v in after["shared_glb"].items() if k != "capacity_bytes"} == \
        {k: v for k, v in before["shared_glb"].items() if k != "capacity_bytes"}
    assert {n: lv for n, lv in after.items() if n != "shared_glb"} == \
        {n: lv for n, lv in before.items() if n != "shared_glb"}
    assert variant.name == "eyeriss_like[hierarchy.levels.shared_glb.capacity_bytes=4096]"
    # the built hierarchy (what the cost reads) sees it
    assert variant.spec.built("v").levels[1].capacity_bytes == 4096


def test_nested_mappings_merge_into_named_items(eyeriss):
    dotted = eyeriss.with_overrides({"hierarchy.levels.DRAM.energy.read_pj": 100.0})
    nested = eyeriss.with_overrides(hierarchy={"levels": {"DRAM": {"energy": {"read_pj": 100.0}}}})
    item = eyeriss.with_overrides({"hierarchy.levels.DRAM": {"energy": {"read_pj": 100.0}}})
    for variant in (dotted, nested, item):
        dram = _levels(variant)["DRAM"]["energy"]
        assert dram["read_pj"] == 100.0 and dram["write_pj"] == 512.0  # the other actions kept


def test_spatial_unrollings_are_addressed_by_axis(eyeriss):
    variant = eyeriss.with_overrides({"hierarchy.spatial.X.dims": ["K"]})
    spatial = {s["axis"]: s["dims"] for s in variant.template_dict()["hierarchy"]["spatial"]}
    assert spatial == {"X": ["K"], "Y": ["FX", "C", "K"]}


@pytest.mark.parametrize(("overrides", "words"), [
    ({"hierarchy.levels.glb.capacity_bytes": 1},
     "'hierarchy.levels' has no item named 'glb'; its items: DRAM, shared_glb, ifmap_spad, weights_spad, psum_spad"),
    ({"hierarchy.levels.shared_glb": 5}, "cannot set 'hierarchy.levels.shared_glb' to 5: it is an item of "
                                         "'hierarchy.levels'; set its fields"),
    ({"hierarchy.levels.shared_glb.capacity_bytes": -1}, "shared_glb: capacity_bytes: -1 bytes"),
    ({"hierarchy.levels.shared_glb.energy.read_pj": -1}, "shared_glb: energy.read_pj: -1 is a negative energy"),
])
def test_bad_paths_and_values_are_one_error(eyeriss, overrides, words):
    with pytest.raises(TemplateError) as caught:
        eyeriss.with_overrides(overrides)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_named_items_needs_distinct_names():
    assert named_items([{"name": "a"}, {"name": "b"}]) == {"a": {"name": "a"}, "b": {"name": "b"}}
    assert named_items([{"axis": "X", "dims": []}])["X"] == {"axis": "X", "dims": []}
    assert named_items([{"name": "a"}, {"name": "a"}]) is None  # duplicates: no address
    assert named_items([{"name": "a"}, {"other": 1}]) is None
    assert named_items([1, 2]) is None and named_items([]) is None and named_items({"name": "a"}) is None


def test_a_sweepable_kind_needs_a_cost_module():
    with pytest.raises(TemplateError, match="sweepable needs a cost module"):
        register_kind("nocost_sweepable", schema="hwmap.hardware.schema:SystolicSpec", cost=None, sweepable=True)
