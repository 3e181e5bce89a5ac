"""OFA ResNet50D subnets built from hwmap/data/ofa_resnet50_space.json, checked against the measured anchors
in that file (ofa 0.1.0.post202307202001, its own MAC counter: conv + final linear MACs; params exact)."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwmap.errors import HwmapError, ModelError
from hwmap.graph.ofa import (
    OfaArch,
    build_ofa_resnet50,
    default_resolution,
    make_divisible,
    ofa_resnet50_space,
    parse_ofa_spec,
)

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

MAX = "d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2"
R50D = "d=2,1,2,2,1;e=0.25;w=2,2,2,2,2,2"  # ResNet50-D: depths 3,4,6,3 + stem residual
D2_E025 = "d=2,2,2,2,2;e=0.25;w=2,2,2,2,2,2"
MIN = "d=0,0,0,0,0;e=0.2;w=0,0,0,0,0,0"

# (spec, params) -- measured_anchors_here in the JSON
PARAM_ANCHORS = [(MAX, 48_105_992), (R50D, 25_576_264), (D2_E025, 30_109_256), (MIN, 6_539_280)]
# (spec, resolution, MMACs) -- measured_anchors_here in the JSON
MAC_ANCHORS = [
    (MAX, 224, 7491.64),
    (R50D, 224, 4328.82),
    (R50D, 128, 1414.87),
    (R50D, 160, 2209.59),
    (R50D, 192, 3180.90),
    (D2_E025, 224, 4765.56),
    (MIN, 224, 962.19),
    (MIN, 128, 315.08),
]


def _raw_json() -> dict:
    return json.loads(importlib.resources.files("hwmap.data").joinpath("ofa_resnet50_space.json").read_text())


def _meta_model(spec: str) -> torch.nn.Module:
    with torch.device("meta"):
        return build_ofa_resnet50(parse_ofa_spec(spec))


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {spec: _meta_model(spec) for spec in (MAX, R50D, D2_E025, MIN)}


def _mmacs(model: torch.nn.Module, resolution: int) -> float:
    x = torch.empty(1, 3, resolution, resolution, device="meta")
    model.eval()  # eval + no_grad halve the meta-forward time; conv/linear MACs are the same
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    assert y.shape == (1, 1000)
    return counter.get_total_flops() / 2 / 1e6  # FlopCounterMode counts 2 FLOPs per MAC


# ------------------------------------------------------------------------------------------ anchors


def test_anchor_table_matches_packaged_json():
    anchors = _raw_json()["measured_anchors_here"]
    by_arch = {}
    for entry in anchors.values():
        if not isinstance(entry, dict) or "arch" not in entry:
            continue
        a = entry["arch"]
        e = a["e"] if isinstance(a["e"], list) else [a["e"]]
        spec = f"d={','.join(map(str, a['d']))};e={','.join(map(str, e))};w={','.join(map(str, a['w']))}"
        key = str(parse_ofa_spec(spec))
        by_arch.setdefault(key, {})["params"] = entry["params"]
        by_arch[key][entry["image_size"]] = entry["ofa_mmacs"]
        for size, mmacs in entry.get("mmacs_at_other_sizes", {}).items():
            by_arch[key][int(size)] = mmacs
    for spec, params in PARAM_ANCHORS:
        assert by_arch[spec]["params"] == params
    for spec, resolution, mmacs in MAC_ANCHORS:
        assert by_arch[spec][resolution] == pytest.approx(mmacs, abs=0.005)


@pytest.mark.parametrize(("spec", "params"), PARAM_ANCHORS)
def test_params_equal_anchor(models, spec, params):
    # conv weights (no bias) + BN weight/bias + fc weight/bias; BN running stats are buffers, not params
    assert sum(p.numel() for p in models[spec].parameters()) == params


@pytest.mark.parametrize(("spec", "resolution", "mmacs"), MAC_ANCHORS)
def test_macs_within_0_1_percent_of_anchor(models, spec, resolution, mmacs):
    assert _mmacs(models[spec], resolution) == pytest.approx(mmacs, rel=1e-3)


def test_macs_by_hand_for_the_stem_conv0():
    # conv0 of the max net at 224: out 112x112, cin 3, cout 32, k 3 -> 112*112*3*32*9 = 10,838,016 MACs
    model = _meta_model(MAX)
    with FlopCounterMode(display=False) as counter:
        model.stem.conv0(torch.empty(1, 3, 224, 224, device="meta"))
    assert counter.get_total_flops() == 2 * 112 * 112 * 3 * 32 * 9


# ---------------------------------------------------------------------------------- channel tables


def test_make_divisible_matches_ofa():
    # int(v + 4) // 8 * 8, at least 8, bumped by 8 if it fell below 0.9 v
    assert [make_divisible(v, 8) for v in (41.6, 51.2, 64, 166.4, 3, 33.6, 11)] == [40, 48, 64, 168, 8, 32, 16]


def test_derived_channel_tables_agree_with_json():
    derived = _raw_json()["derived_channels"]
    space = ofa_resnet50_space()
    assert list(space.stem_conv0_channels) == derived["stem_conv0_and_conv1_out"] == [24, 24, 32]
    assert list(space.stem_conv2_channels) == derived["stem_conv2_out"] == [40, 48, 64]
    assert [list(s) for s in space.stage_channels] == derived["stage_out"]
    table = derived["mid_channels_by_stage_width_and_e"]
    checked = 0
    for stage, by_width in table.items():
        s = int(stage.removeprefix("stage")) - 1
        assert sorted(int(w) for w in by_width) == sorted(space.stage_channels[s])
        for width, by_e in by_width.items():
            for e, mid in by_e.items():
                assert space.mid_channels(int(width), float(e)) == mid, (stage, width, e)
                checked += 1
    assert checked == 4 * 3 * 3


def test_built_layers_use_the_table_channels():
    space = ofa_resnet50_space()
    arch = parse_ofa_spec("d=2,0,1,2,0;e=0.2;w=0,1,2,1,0,2")
    with torch.device("meta"):
        model = build_ofa_resnet50(arch)
    assert model.stem.conv0.out_channels == model.stem.residual.conv.out_channels == 24
    assert model.stem.conv2.out_channels == 48
    cin = 48
    for s, stage in enumerate(model.stages):
        out = space.stage_channels[s][arch.w[2 + s]]
        for block in stage:
            mid = space.mid_channels(out, 0.2)
            assert (block.conv1.in_channels, block.conv1.out_channels) == (cin, mid)
            assert (block.conv2.in_channels, block.conv2.out_channels) == (mid, mid)
            assert (block.conv3.in_channels, block.conv3.out_channels) == (mid, out)
            cin = out
    assert model.head.fc.in_features == space.stage_channels[3][2] == 2048


# --------------------------------------------------------------------------------------- structure


def test_module_names_and_block_classes(models):
    names = dict(models[R50D].named_modules())
    for name in (
        "stem.conv0",
        "stem.residual",
        "stem.residual.conv",
        "stem.conv2",
        "stem.pool",
        "stages.0.0.conv1",
        "stages.0.0.conv2",
        "stages.0.0.conv3",
        "stages.0.0.downsample.conv",
        "stages.1.0.downsample.pool",
        "stages.3.2.conv3",
        "head.fc",
    ):
        assert name in names, name
    assert "stem.residual" not in dict(models[MIN].named_modules())
    blocks = [n for n, m in models[R50D].named_modules() if type(m).__name__ == "OfaBottleneck"]
    assert len(blocks) == 16
    from hwmap.graph.ofa import OfaBottleneck  # defined lazily

    assert all(isinstance(names[n], OfaBottleneck) for n in blocks)
    assert [len(stage) for stage in models[R50D].stages] == [3, 4, 6, 3]
    assert [len(stage) for stage in models[MIN].stages] == [2, 2, 4, 2]


def test_layer_types_biases_strides_and_shortcuts(models):
    model = models[R50D]
    allowed = (
        torch.nn.Conv2d,
        torch.nn.BatchNorm2d,
        torch.nn.ReLU,
        torch.nn.MaxPool2d,
        torch.nn.AvgPool2d,
        torch.nn.AdaptiveAvgPool2d,
        torch.nn.Flatten,
        torch.nn.Linear,
    )
    for name, module in model.named_modules():
        if not list(module.children()):
            assert isinstance(module, allowed), name
        if isinstance(module, torch.nn.Conv2d):
            assert module.bias is None, name
            assert module.padding == (module.kernel_size[0] // 2,) * 2, name
        if isinstance(module, torch.nn.BatchNorm2d):
            assert (module.eps, module.momentum) == (1e-5, 0.1), name
    assert model.head.fc.bias is not None
    assert model.stem.conv0.stride == (2, 2)
    for s, stage in enumerate(model.stages):
        stride = 1 if s == 0 else 2
        first = stage[0]
        assert first.conv2.stride == (stride, stride) and first.conv1.stride == (1, 1)
        assert first.downsample is not None
        pool = getattr(first.downsample, "pool", None)
        if stride == 1:
            assert pool is None
        else:
            assert (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) == (2, 2, 0, True)
        assert all(block.downsample is None for block in stage[1:])


def test_per_block_expand_ratios_and_dropped_entries():
    # stage 3 (supernet blocks 8..13) keeps 4 + d[3] blocks; entries of dropped blocks do not matter
    e = ["0.2"] * 18
    e[8], e[13] = "0.35", "0.35"  # block 13 is dropped with d[3] = 0
    arch = parse_ofa_spec(f"d=0,0,0,0,0;e={','.join(e)};w=0,0,0,0,0,0")
    assert arch.active_expand_ratios[2] == (0.35, 0.2, 0.2, 0.2)
    with torch.device("meta"):
        model = build_ofa_resnet50(arch)
        smaller = build_ofa_resnet50(parse_ofa_spec(MIN))
    assert [b.mid_channels for b in model.stages[2]] == [232, 136, 136, 136]  # 664 * 0.35 -> 232, * 0.2 -> 136
    assert [b.supernet_index for b in model.stages[2]] == [8, 9, 10, 11]
    params = sum(p.numel() for p in model.parameters())
    same_net = dataclasses.replace(arch, e=arch.e[:13] + (0.2,) + arch.e[14:])
    with torch.device("meta"):
        assert sum(p.numel() for p in build_ofa_resnet50(same_net).parameters()) == params
    assert params > sum(p.numel() for p in smaller.parameters())


def test_num_classes_and_resolution():
    arch = parse_ofa_spec(MIN + ";r=160")
    assert default_resolution(arch) == 160
    assert default_resolution(parse_ofa_spec(MIN)) == 224
    with torch.device("meta"):
        model = build_ofa_resnet50(arch, num_classes=10)
        assert model(torch.empty(2, 3, 160, 160)).shape == (2, 10)
    assert model.arch == arch
    with pytest.raises(ModelError, match="num_classes"):
        build_ofa_resnet50(arch, num_classes=0)


def test_cpu_forward_runs():
    # one tiny real forward: the shortcut add and the stem residual add line up
    torch.manual_seed(0)
    model = build_ofa_resnet50(parse_ofa_spec("d=2,0,0,0,0;e=0.2;w=0,0,0,0,0,0")).eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 64, 64))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


# ------------------------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (MAX, MAX),
        (" d = 2, 2,2,2,2 ;  e=0.35 ; w=2,2,2,2,2,2 ; ", MAX),
        ("ofa-resnet50:" + MAX, MAX),
        ("w=2,2,2,2,2,2;e=0.35;d=2,2,2,2,2", MAX),
        ("d=2,2,2,2,2;e=" + ",".join(["0.35"] * 18) + ";w=2,2,2,2,2,2", MAX),
        ("d=0,1,0,2,1;e=0.20;w=0,1,2,0,1,2;r=192", "d=0,1,0,2,1;e=0.2;w=0,1,2,0,1,2;r=192"),
        (
            "d=2,2,2,2,2;e=" + ",".join(["0.2", "0.25", "0.35"] * 6) + ";w=1,1,1,1,1,1",
            "d=2,2,2,2,2;e=" + ",".join(["0.2", "0.25", "0.35"] * 6) + ";w=1,1,1,1,1,1",
        ),
    ],
)
def test_parse_and_str_round_trip(text, canonical):
    arch = parse_ofa_spec(text)
    assert str(arch) == canonical
    assert parse_ofa_spec(str(arch)) == arch
    assert len(arch.d) == 5 and len(arch.e) == 18 and len(arch.w) == 6
    assert all(isinstance(v, float) for v in arch.e)
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.d = (0, 0, 0, 0, 0)  # type: ignore[misc]


def test_parse_values():
    arch = parse_ofa_spec("d=0,1,0,2,1;e=0.25;w=0,1,2,0,1,2;r=192")
    assert arch == OfaArch(d=(0, 1, 0, 2, 1), e=(0.25,) * 18, w=(0, 1, 2, 0, 1, 2), resolution=192)
    assert arch.stage_depths == (3, 2, 6, 3)
    assert not arch.stem_residual
    assert parse_ofa_spec(MAX).resolution is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("d=2,2", "d needs 5 values from {0, 1, 2}, got '2,2'"),
        ("d=2,2;e=0.35;w=2,2,2,2,2,2", "d needs 5 values from {0, 1, 2}, got '2,2'"),
        ("d=2,2,2,2,3;e=0.35;w=2,2,2,2,2,2", "d needs 5 values"),
        ("d=2,2,x,2,2;e=0.35;w=2,2,2,2,2,2", "d needs 5 values"),
        ("d=2,2,,2,2;e=0.35;w=2,2,2,2,2,2", "d has an empty value"),
        ("d=1,2,2,2,2;e=0.35;w=2,2,2,2,2,2", "d[0] (stem residual) must be 0"),
        ("d=2,2,2,2,2;e=0.3;w=2,2,2,2,2,2", "e=0.3 is not an expand ratio"),
        ("d=2,2,2,2,2;e=abc;w=2,2,2,2,2,2", "e needs 1 or 18 values"),
        ("d=2,2,2,2,2;e=0.2,0.25;w=2,2,2,2,2,2", "e needs 1 or 18 values"),
        ("d=2,2,2,2,2;e=" + ",".join(["0.2"] * 17 + ["0.5"]) + ";w=2,2,2,2,2,2", "e[17]=0.5"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,3", "w[5]=3 is out of range"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,-1", "w[5]=-1 is out of range"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2", "w needs 6"),
        ("d=2,2,2,2,2;e=0.35;w=1.0,1.0,1.0,1.0,1.0,1.0", "not multipliers"),
        ("d=2,2,2,2,2;e=0.35", "missing w"),
        ("e=0.35;w=2,2,2,2,2,2", "missing d"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2;k=3", "unknown key 'k'"),
        ("d=2,2,2,2,2;d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2", "key 'd' given more than once"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2;r=0", "r needs one positive integer"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2;r=22.4", "r needs one positive integer"),
        ("d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2;r=", "r needs one positive integer"),
        ("d 2,2,2,2,2;e=0.35;w=2,2,2,2,2,2", "expected key=value"),
    ],
)
def test_malformed_specs_raise_one_line_model_error(text, needle):
    with pytest.raises(ModelError) as info:
        parse_ofa_spec(text)
    message = str(info.value)
    assert isinstance(info.value, HwmapError)
    assert "\n" not in message
    assert message.startswith("ofa-resnet50 spec")
    assert needle in message, message


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"d": (2, 2, 2, 2)}, "d needs 5"),
        ({"d": (1, 2, 2, 2, 2)}, "d[0]"),
        ({"e": (0.35,)}, "e needs 18"),
        ({"e": (0.3,) * 18}, "e[0]=0.3"),
        ({"w": (2, 2, 2, 2, 2, 9)}, "w[5]=9"),
        ({"w": (True,) * 6}, "w needs 6"),
        ({"resolution": -1}, "r needs"),
    ],
)
def test_direct_construction_is_validated(fields, needle):
    base = parse_ofa_spec(MAX)
    with pytest.raises(ModelError, match=None) as info:
        dataclasses.replace(base, **fields)
    assert needle in str(info.value)


def test_parse_rejects_non_text():
    with pytest.raises(ModelError, match="expected text"):
        parse_ofa_spec(None)  # type: ignore[arg-type]


def test_build_rejects_non_arch():
    with pytest.raises(ModelError, match="OfaArch"):
        build_ofa_resnet50(MAX)  # type: ignore[arg-type]


def test_parsing_does_not_import_torch():
    code = (
        "import sys\n"
        "from hwmap.graph.ofa import parse_ofa_spec\n"
        f"assert str(parse_ofa_spec({MAX!r})) == {MAX!r}\n"
        "assert 'torch' not in sys.modules, 'torch imported by parsing an ofa spec'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
