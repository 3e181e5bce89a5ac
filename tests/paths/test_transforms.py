"""Path transforms (hwmap.paths.transforms): skipped blocks and SegFormer decoder pruning, on meta models (MAC
arithmetic, errors) and on real weights (the transformed model computes what it claims to)."""

from __future__ import annotations

import copy

import pytest
from conftest import traced

from hwmap.errors import HwmapError
from hwmap.paths.model import PathSpec, apply_path_transforms, build_path_module, path_graph

torch = pytest.importorskip("torch")


def _scope_macs(graph, prefix: str) -> int:
    return sum(n.macs for n in graph.nodes if n.scope == prefix or n.scope.startswith(prefix + "."))


def test_segformer_b2_dropping_stage4_decoder_input_prunes_fuse_conv_and_encoder_stage():
    full = traced("segformer-b2")  # 3x512x512, shared with the other tests of the session
    assert full.input_shapes == ((1, 3, 512, 512),)
    pruned = path_graph(PathSpec(name="drop-s4", model="segformer-b2", input_chw=(3, 512, 512),
                                 drop_decoder_stages=(3,)))
    # Decoder width 768; the fuse conv is a 1x1 conv at stage 1's resolution, 512/4 = 128:
    # full: 4 stages x 768 = 3072 input channels -> 128*128*3072*768 = 38,654,705,664 MACs
    # stage 4 dropped: 3 x 768 = 2304 input channels -> 128*128*2304*768 = 28,991,029,248 MACs
    assert _scope_macs(full, "decode_head.linear_fuse") == 128 * 128 * 3072 * 768
    assert _scope_macs(pruned, "decode_head.linear_fuse") == 128 * 128 * 2304 * 768
    # Encoder stage 4 feeds only the dropped decoder input: it is not run at all, nor is its projection.
    assert _scope_macs(full, "segformer.stages.3") > 0
    assert _scope_macs(pruned, "segformer.stages.3") == 0
    assert _scope_macs(pruned, "decode_head.linear_projections.3") == 0
    # Everything else is untouched: the saving is exactly stage 4, its projection and a quarter of the fuse conv.
    saved = _scope_macs(full, "segformer.stages.3") + _scope_macs(full, "decode_head.linear_projections.3") + \
        128 * 128 * 768 * 768
    assert full.total_macs - pruned.total_macs == saved


def test_skipping_a_shape_changing_block_is_a_clear_error():
    spec = PathSpec(name="bad", model="resnet50", input_chw=(3, 64, 64), skip_blocks=("layer2.0",))
    with pytest.raises(HwmapError, match=r"layer2\.0 change the tensor shape.*skip later blocks"):
        build_path_module(spec)


def test_unknown_skip_pattern_lists_the_models_blocks():
    spec = PathSpec(name="bad", model="resnet50", input_chw=(3, 64, 64), skip_blocks=("layer9.*",))
    with pytest.raises(HwmapError) as info:
        build_path_module(spec)
    message = str(info.value)
    assert "'layer9.*' matches no block of resnet50" in message
    for listing in ("layer1.0-2", "layer2.0-3", "layer3.0-5", "layer4.0-2"):
        assert listing in message


def _real(model: str, *, num_classes: int | None = None, seed: int = 0):
    """The model on the CPU with random weights large enough that every block changes its input visibly."""
    from hwmap.graph.capture import materialise_on_cpu
    from hwmap.graph.sources import build_model

    built = build_model(model, num_classes=num_classes)
    module = built.module
    materialise_on_cpu(module)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0.0, 0.2, generator=generator)
    return module.eval(), built.name


@pytest.mark.parametrize(("model", "block", "parent", "index", "size"), [
    ("test_convnext", "stages.2.blocks.3", "stages.2.blocks", 3, 32),
    ("test_vit", "blocks.4", "blocks", 4, 32),
    ("resnet18", "layer3.1", "layer3", 1, 64),
])
def test_skipped_block_equals_replacing_it_by_identity_on_real_weights(model, block, parent, index, size):
    module, name = _real(model, num_classes=10)
    reference = copy.deepcopy(module)
    reference.get_submodule(parent)[index] = torch.nn.Identity()  # computed independently of hwmap's skip
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = module(x)
        apply_path_transforms(module, PathSpec(name="skip", model=model, input_chw=(3, size, size),
                                               skip_blocks=(block,)), [x[:1]], model_name=name)
        after, expected = module(x), reference(x)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)
    assert not torch.allclose(before, after, atol=1e-3)  # the block did something, and now it does not


def test_dropped_decoder_inputs_equal_zeroing_their_projections_on_real_weights():
    module, name = _real("segformer-b0", num_classes=4)
    reference = copy.deepcopy(module)
    for stage in (0, 3):  # the fuse conv is linear: a zeroed input block contributes what a removed one does
        reference.decode_head.linear_projections[stage].register_forward_hook(lambda _m, _i, out: out * 0)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference(x).logits
        apply_path_transforms(module, PathSpec(name="drop", model="segformer-b0", input_chw=(3, 64, 64),
                                               drop_decoder_stages=(0, 3)), [x], model_name=name)
        pruned = module(x)
    assert isinstance(module.segformer.stages[3], torch.nn.Identity)  # stage 4 is gone, not just unused
    assert module.decode_head.linear_fuse.in_channels == 2 * 256
    torch.testing.assert_close(pruned, expected, rtol=1e-4, atol=1e-4)
