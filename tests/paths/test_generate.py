"""`paths generate --skip-last K` (hwmap.paths.generate): per stage, the last 1..K blocks, and every path named by
what it removes. Graphs only (meta device): the skipped blocks are the stages' last blocks, and each path's MACs
fall by exactly the MACs of the blocks it skips (traced through the real module surgery, not derived).

Regression: ConvNeXt's `stages` and Swin's `layers` are containers of stage modules; the old code took them for
block lists and wrote `skip-stages-last1` / `skip-layers-last1`, which removed the whole first stage."""

from __future__ import annotations

import pytest

from hwmap.paths.generate import _skip_paths, generate_paths, skip_path_name
from hwmap.paths.model import PathSpec, path_graph
from hwmap.paths.transforms import BlockInfo

pytest.importorskip("torch")


def _scope_macs(graph, prefix: str) -> int:
    return sum(n.macs for n in graph.nodes if n.scope == prefix or n.scope.startswith(prefix + "."))


# The last block of every stage, from the published depths: ConvNeXt-T 3-3-9-3, Swin-T 2-2-6-2, ResNet-50
# 3-4-6-3, DeiT-Ti 12 blocks in one list, SegFormer-B0 (MiT-B0) 2-2-2-2.
LAST_BLOCKS = {
    "convnext_tiny": ["stages.0.blocks.2", "stages.1.blocks.2", "stages.2.blocks.8", "stages.3.blocks.2"],
    "swin_tiny_patch4_window7_224": ["layers.0.blocks.1", "layers.1.blocks.1", "layers.2.blocks.5",
                                     "layers.3.blocks.1"],
    "resnet50": ["layer1.2", "layer2.3", "layer3.5", "layer4.2"],
    "deit_tiny_patch16_224": ["blocks.11"],
    "segformer-b0": [f"segformer.stages.{s}.blocks.1" for s in range(4)],
}


@pytest.mark.parametrize("model", sorted(LAST_BLOCKS))
def test_skip_last_1_skips_the_last_block_of_each_stage_and_exactly_its_macs(model):
    paths = generate_paths(model, skip_last=1, check=False)
    skips = [p for p in paths.paths if p.name != "full"]
    assert [p.skip_blocks for p in skips] == [(b,) for b in LAST_BLOCKS[model]]
    assert [p.name for p in skips] == [f"skip-{b}" for b in LAST_BLOCKS[model]]
    assert all(p.accuracy is None for p in skips)  # a transformed model has no published accuracy
    full = path_graph(paths.paths[0])
    for path in skips[:1] + skips[-1:]:  # first and last stage: real surgery, traced again
        graph = path_graph(path)
        (block,) = path.skip_blocks
        removed = _scope_macs(full, block)
        assert removed > 0 and _scope_macs(graph, block) == 0
        assert full.total_macs - graph.total_macs == removed
        # the rest of the stage is still there: only its last block went
        stage = block.rpartition(".")[0]
        assert _scope_macs(graph, stage) == _scope_macs(full, stage) - removed > 0


def test_convnext_skip_last_2_names_the_range_and_removes_both_blocks():
    paths = generate_paths("convnext_tiny", skip_last=2, check=False)
    by_name = {p.name: p for p in paths.paths}
    assert by_name["skip-stages.2.blocks.7-8"].skip_blocks == ("stages.2.blocks.7", "stages.2.blocks.8")
    assert by_name["skip-stages.0.blocks.1-2"].skip_blocks == ("stages.0.blocks.1", "stages.0.blocks.2")
    assert len(paths.paths) == 1 + 4 * 2
    assert not any(p.skip_blocks and any(b.count(".") < 3 for b in p.skip_blocks) for p in paths.paths)  # no stage
    full = path_graph(paths.paths[0])
    graph = path_graph(by_name["skip-stages.2.blocks.7-8"])
    removed = _scope_macs(full, "stages.2.blocks.7") + _scope_macs(full, "stages.2.blocks.8")
    # ConvNeXt-T stage 2 at 224: 14x14 tokens, 384 channels; a block is a 7x7 depthwise conv (49 x 384 MACs per
    # position) and two pointwise layers 384 -> 1536 -> 384 (2 x 384 x 1536): 196 * (18,816 + 1,179,648) MACs
    assert removed == 2 * 196 * (49 * 384 + 2 * 384 * 1536) == 469_797_888
    assert full.total_macs - graph.total_macs == removed


def _blocks(parent: str, flags: list[bool]) -> list[BlockInfo]:
    return [BlockInfo(f"{parent}.{i}" if parent else str(i), "Block", ok) for i, ok in enumerate(flags)]


def test_only_a_trailing_run_of_shape_preserving_blocks_is_skipped_and_stage_containers_are_not_stages():
    full = PathSpec(name="full", model="m", input_chw=None)
    blocks = [*_blocks("stages", [True, False, False]),  # a container of stages: never a stage itself
              *_blocks("stages.0.blocks", [True, True, True]),
              *_blocks("stages.1.blocks", [False, True, True]),  # the first block downsamples
              *_blocks("stages.2.blocks", [True, True, False])]  # the last block changes the shape
    paths = _skip_paths(full, blocks, 3)
    assert [(p.name, p.skip_blocks) for p in paths] == [
        ("skip-stages.0.blocks.2", ("stages.0.blocks.2",)),
        ("skip-stages.0.blocks.1-2", ("stages.0.blocks.1", "stages.0.blocks.2")),
        ("skip-stages.0.blocks.0-2", ("stages.0.blocks.0", "stages.0.blocks.1", "stages.0.blocks.2")),
        ("skip-stages.1.blocks.2", ("stages.1.blocks.2",)),
        ("skip-stages.1.blocks.1-2", ("stages.1.blocks.1", "stages.1.blocks.2")),
    ]
    # a model that is itself one block list (root container)
    assert [p.name for p in _skip_paths(full, _blocks("", [True, True]), 1)] == ["skip-1"]


def test_skip_path_name():
    assert skip_path_name(("layer4.2",)) == "skip-layer4.2"
    assert skip_path_name(("layer4.1", "layer4.2")) == "skip-layer4.1-2"
    assert skip_path_name(("blocks.10", "blocks.11")) == "skip-blocks.10-11"


def test_a_skip_blocks_pattern_equal_to_a_generated_path_is_a_duplicate_name():
    from hwmap.errors import HwmapError

    with pytest.raises(HwmapError, match=r"would be named 'skip-layer4.1' \(a repeated resolution, variant or "
                                         r"skipped block\?\)"):
        generate_paths("resnet18", skip_last=1, skip_blocks=("layer4.1",))
