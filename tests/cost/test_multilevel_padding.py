"""A layer's padding in LoopProblem and AccessConventions.clip_input_to_tensor (ZigZag 3.9.1's rule: an input tile's
rows and columns at most the real tensor's), on a padded 3 x 3 conv small enough to count by hand."""

from __future__ import annotations

import pytest

from hwmap.cost.multilevel import LoopProblem, evaluate_mapping, problem_of
from hwmap.cost.multilevel.evaluate import HWMAP_CONVENTIONS, ZIGZAG_CONVENTIONS
from hwmap.cost.multilevel.problem import extent_sum, tile_elements
from hwmap.errors import HwmapError
from hwmap.hardware.hierarchy import build_hierarchy
from hwmap.ops.work import Conv

BITS = {"input": 8, "weight": 8, "output": 8, "psum": 16}
# a 3 x 3 image, 3 x 3 filter, padding 1: 3 x 3 outputs; the windows touch 5 x 5 positions, 3 x 3 of them real
PADDED = LoopProblem(OY=3, OX=3, FY=3, FX=3, padding_y=(1, 1), padding_x=(1, 1), name="padded")


def _two_level():
    def level(name, capacity):
        return {"name": name, "keeps": ["input", "weight", "output"], "capacity_bytes": capacity, "word_bits": 8,
                "access_width_bits": 8, "energy": {"read_pj": 1.0, "write_pj": 1.0, "update_pj": 1.0},
                "mesh": [1]}

    return build_hierarchy({"name": "two", "array_axes": ["X"], "levels": [level("DRAM", None), level("buf", 1024)],
                            "compute": {"name": "mac", "mac_energy_pj": 0.5, "mesh": [1]}}, source="two")


def _mapping(dram_loops, buf_loops):
    return {"spatial": [], "levels": [
        {"level": "DRAM", "keeps": ["input", "weight", "output"], "temporal": dram_loops},
        {"level": "buf", "keeps": ["input", "weight", "output"], "temporal": buf_loops}]}


WHOLE = _mapping([], [["OY", 3], ["OX", 3], ["FY", 3], ["FX", 3]])  # buf holds the whole layer
ROWS = _mapping([["OY", 3]], [["OX", 3], ["FY", 3], ["FX", 3]])  # buf holds one output row at a time


def _dram_input_reads(mapping, conventions):
    return evaluate_mapping(_two_level(), PADDED, mapping, operand_bits=BITS,
                            conventions=conventions).access("DRAM", "input").reads


def test_padding_and_real_input_extent():
    assert PADDED.input_rows("y") == PADDED.input_rows("x") == 3  # 5 touched less 1 + 1 padding
    assert PADDED.elements("input") == 25  # hwmap's compulsory input counts the padded border
    assert tile_elements(PADDED, PADDED.sizes, "input", clip_to_tensor=True) == 9


def test_hwmap_default_fetches_the_padded_border():
    assert HWMAP_CONVENTIONS.clip_input_to_tensor is False
    assert _dram_input_reads(WHOLE, HWMAP_CONVENTIONS) == 25  # 5 x 5
    assert _dram_input_reads(ROWS, HWMAP_CONVENTIONS) == 3 * 3 * 5  # 3 tiles of 3 rows x 5 columns


def test_zigzag_convention_clips_each_tile_to_the_real_tensor():
    assert _dram_input_reads(WHOLE, ZIGZAG_CONVENTIONS) == 9  # 3 x 3: the whole tensor, no padding
    # each one-row tile spans 3 input rows (clip bounds the extent, not the position: the border tiles' 3 rows
    # include a padding row, as in ZigZag) and min(5, 3) = 3 columns
    assert _dram_input_reads(ROWS, ZIGZAG_CONVENTIONS) == 3 * 3 * 3
    result = evaluate_mapping(_two_level(), PADDED, ROWS, operand_bits=BITS, conventions=ZIGZAG_CONVENTIONS)
    assert result.access("buf", "input").writes == 27
    assert result.tile_bytes["buf"] == 3 * 3 + 9 + 2 * 3  # input tile 3 x 3, weights 9, 3 outputs at 16 bits


def test_clipped_extent_sum_matches_the_tiles_counted_one_by_one():
    p = LoopProblem(C=2, OY=7, OX=5, FY=3, FX=3, stride_y=2, padding_y=(1, 0), padding_x=(1, 1), name="odd")
    for oy, fy, ox, fx in ((2, 1, 5, 3), (3, 3, 2, 2), (7, 3, 5, 3), (4, 2, 1, 1)):
        brute = 0
        for y0 in range(0, 7, oy):
            for f0 in range(0, 3, fy):
                for x0 in range(0, 5, ox):
                    for g0 in range(0, 3, fx):
                        tile = {"B": 1, "G": 1, "K": 1, "C": 2, "OY": min(oy, 7 - y0), "FY": min(fy, 3 - f0),
                                "OX": min(ox, 5 - x0), "FX": min(fx, 3 - g0)}
                        brute += tile_elements(p, tile, "input", clip_to_tensor=True)
        tile = {"B": 1, "G": 1, "K": 1, "C": 2, "OY": oy, "OX": ox, "FY": fy, "FX": fx}
        assert extent_sum(p, tile, "input", clip_to_tensor=True) == brute
        assert extent_sum(p, tile, "input", clip_to_tensor=True) <= extent_sum(p, tile, "input")


def test_problem_of_carries_the_conv_padding():
    conv = Conv(batch=1, in_channels=3, out_channels=64, in_spatial=(224, 224), out_spatial=(112, 112),
                kernel=(7, 7), stride=(2, 2), padding=(3, 3), dilation=(1, 1), groups=1)
    p = problem_of(conv)
    # the last window reaches (112 - 1) * 2 + 7 = 229 positions: 3 before the image, 224 in it, 2 after
    assert p.padding_y == p.padding_x == (3, 2)
    assert p.input_rows("y") == p.input_rows("x") == 224


def test_bad_padding_is_one_clear_error():
    with pytest.raises(HwmapError, match="padding_y = \\(-1, 0\\)"):
        LoopProblem(OY=3, FY=3, padding_y=(-1, 0))
    with pytest.raises(HwmapError, match="padding_x .* leaves no input"):
        LoopProblem(OX=1, FX=3, padding_x=(2, 1))
