"""Once-For-All ResNet50D subnets (``ofa-resnet50:d=..;e=..;w=..``) built without the ``ofa`` package.

Everything about the supernet comes from the packaged ``hwmap/data/ofa_resnet50_space.json`` (sources and
measured anchors inside it). The built module mirrors what OFA's ``OFAResNets.get_active_subnet()`` returns,
layer for layer, with readable module names:

    stem.conv0/bn0/relu0        conv3x3 s2 (3 -> C0), padding 1
    stem.residual               OfaStemResidual: x + relu(bn(conv3x3 s1 (C0 -> C0)(x))), only when d[0] == 2
    stem.conv2/bn2/relu2        conv3x3 s1 (C0 -> C1)
    stem.pool                   maxpool 3x3 s2 p1
    stages.<s>.<b>              OfaBottleneck: conv1/bn1/relu1 (1x1), conv2/bn2/relu2 (3x3, stride here),
                                conv3/bn3 (1x1), downsample (first block of a stage), relu (after the add)
    stages.<s>.<b>.downsample   [pool: AvgPool2d(stride, stride, ceil_mode=True), only for stride 2] conv (1x1), bn
    head.pool/flatten/fc        global average pool, Linear(C_last -> num_classes) with bias

``parse_ofa_spec`` and ``OfaArch`` need no torch; torch is imported only when a model is built (and when the
module classes ``OfaResNet50``, ``OfaStem``, ``OfaStemResidual``, ``OfaBottleneck`` are first looked up).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwmap.errors import ModelError
from hwmap.limits import MAX_RESOLUTION

if TYPE_CHECKING:
    import torch

__all__ = [
    "OfaArch",
    "OfaSpace",
    "parse_ofa_spec",
    "build_ofa_resnet50",
    "default_resolution",
    "ofa_resnet50_space",
    "make_divisible",
    "SPEC_PREFIX",
]
# Also importable from here, imported from hwmap.graph.ofa_modules on first lookup (module __getattr__) so that
# torch is not imported with this module: OfaResNet50, OfaStem, OfaStemResidual, OfaBottleneck.
_TORCH_CLASS_NAMES = ("OfaResNet50", "OfaStem", "OfaStemResidual", "OfaBottleneck")

SPEC_PREFIX = "ofa-resnet50:"
_SPACE_FILE = "ofa_resnet50_space.json"
_ERR = "ofa-resnet50 spec"
_KEY_ORDER = ("d", "e", "w", "r")


# --------------------------------------------------------------------------------------------- space


def make_divisible(value: float, divisor: int) -> int:
    """OFA's ``make_divisible`` (ofa/utils/pytorch_modules.py), min_val = divisor:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor); if new_v < 0.9 * v: new_v += divisor."""
    new_v = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * value:
        new_v += divisor
    return new_v


@dataclass(frozen=True)
class OfaSpace:
    """The OFA ResNet50D supernet space, read from the packaged JSON; channel tables computed from its values.

    Channel tables are indexed by width index (into ``width_mults``); ``stage_channels[s][w]``.
    """

    depth_choices: tuple[int, ...]
    expand_ratios: tuple[float, ...]
    width_mults: tuple[float, ...]
    base_depths: tuple[int, ...]
    stage_strides: tuple[int, ...]
    max_blocks_per_stage: tuple[int, ...]
    channel_divisible: int
    kernel_size: int
    num_classes: int
    bn_momentum: float
    bn_eps: float
    default_resolution: int
    stem_conv0_channels: tuple[int, ...]
    stem_conv2_channels: tuple[int, ...]
    stage_channels: tuple[tuple[int, ...], ...]

    @property
    def max_depth(self) -> int:
        return max(self.depth_choices)

    @property
    def num_blocks(self) -> int:
        return sum(self.max_blocks_per_stage)

    def mid_channels(self, out_channels: int, expand_ratio: float) -> int:
        """Bottleneck width: make_divisible(round(out * e), 8), as OFA's ``active_middle_channels``
        (Python's round: half to even)."""
        return make_divisible(round(out_channels * expand_ratio), self.channel_divisible)


def _space_text() -> str:
    return importlib.resources.files("hwmap.data").joinpath(_SPACE_FILE).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _space_json() -> dict[str, Any]:
    return json.loads(_space_text())


@functools.lru_cache(maxsize=1)
def ofa_resnet50_space() -> OfaSpace:
    """The supernet space (cached). Channel counts are computed with ``make_divisible`` exactly as OFAResNets
    does; a packaged JSON whose ``derived_channels`` disagree raises ModelError."""
    raw = _space_json()
    ctor = raw["constructor"]
    div = int(raw["channel_divisible"])
    mults = tuple(float(m) for m in ctor["width_mult_list"])
    # OFAResNets: input_channel = make_divisible(64 * w); mid_input_channel = make_divisible(input_channel // 2).
    conv2 = tuple(make_divisible(raw["stem_base_width"] * m, div) for m in mults)
    conv0 = tuple(make_divisible(c // 2, div) for c in conv2)
    stages = tuple(tuple(make_divisible(width * m, div) for m in mults) for width in raw["stage_width_list"])
    space = OfaSpace(
        depth_choices=tuple(sorted(int(v) for v in ctor["depth_list"])),
        expand_ratios=tuple(sorted(float(v) for v in ctor["expand_ratio_list"])),
        width_mults=mults,
        base_depths=tuple(int(v) for v in raw["base_depth_list"]),
        stage_strides=tuple(int(v) for v in raw["stage_strides"]),
        max_blocks_per_stage=tuple(int(v) for v in raw["max_blocks_per_stage"]),
        channel_divisible=div,
        kernel_size=int(raw["kernel_size"]),
        num_classes=int(ctor["n_classes"]),
        bn_momentum=float(ctor["bn_param"][0]),
        bn_eps=float(ctor["bn_param"][1]),
        default_resolution=int(raw["resolution"]["eval_default_in_eval_ofa_net"]),
        stem_conv0_channels=conv0,
        stem_conv2_channels=conv2,
        stage_channels=stages,
    )
    problems = _check_derived(space, raw["derived_channels"])
    if problems:
        raise ModelError(f"packaged {_SPACE_FILE} is inconsistent: " + "; ".join(problems))
    return space


def _check_derived(space: OfaSpace, derived: dict[str, Any]) -> list[str]:
    """Compare computed channel tables with the JSON's ``derived_channels``; returns one line per mismatch."""
    problems = []
    if list(space.stem_conv0_channels) != derived["stem_conv0_and_conv1_out"]:
        problems.append(f"stem conv0 {space.stem_conv0_channels} != {derived['stem_conv0_and_conv1_out']}")
    if list(space.stem_conv2_channels) != derived["stem_conv2_out"]:
        problems.append(f"stem conv2 {space.stem_conv2_channels} != {derived['stem_conv2_out']}")
    if [list(s) for s in space.stage_channels] != derived["stage_out"]:
        problems.append(f"stage widths {space.stage_channels} != {derived['stage_out']}")
    table = derived["mid_channels_by_stage_width_and_e"]
    for s, widths in enumerate(space.stage_channels):
        for width in widths:
            for e in space.expand_ratios:
                want = table[f"stage{s + 1}"][str(width)][repr(e)]
                got = space.mid_channels(width, e)
                if got != want:
                    problems.append(f"mid channels stage{s + 1} width {width} e {e}: {got} != {want}")
    return problems


# ---------------------------------------------------------------------------------------------- arch


def _fmt_set(values: tuple[Any, ...]) -> str:
    return "{" + ", ".join(repr(v) for v in values) + "}"


@dataclass(frozen=True)
class OfaArch:
    """One OFA ResNet50D subnet, in OFA's own encoding.

    d: 5 depth choices. d[0] == 2 keeps the stem residual conv, d[0] == 0 skips it; d[1..4] are added to
       the base depths (2, 2, 4, 2); a stage keeps its FIRST base + d blocks.
    e: 18 bottleneck expand ratios in supernet block order (stage blocks 4, 4, 6, 4); entries of dropped
       blocks are kept as given but do not change the network.
    w: 6 indices into width_mult_list (0.65, 0.8, 1.0): stem conv0 (+ residual), stem conv2, stages 1-4.
    resolution: input size (square), or None for the default (224).

    Invalid values raise ModelError on construction. ``str(arch)`` is the canonical spec text.
    """

    d: tuple[int, ...]
    e: tuple[float, ...]
    w: tuple[int, ...]
    resolution: int | None = None

    def __post_init__(self) -> None:
        space = ofa_resnet50_space()
        for name in ("d", "e", "w"):
            value = getattr(self, name)
            if not isinstance(value, tuple | list):
                raise ModelError(f"{_ERR}: {name} must be a sequence, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        _check_d(self.d, repr(self.d), space)
        _check_e(self.e, repr(self.e), space, allow_scalar=False)
        _check_w(self.w, repr(self.w), space)
        _check_r(self.resolution, repr(self.resolution))

    def __str__(self) -> str:
        parts = [
            "d=" + ",".join(str(v) for v in self.d),
            "e=" + ",".join(repr(v) for v in (self.e[:1] if len(set(self.e)) == 1 else self.e)),
            "w=" + ",".join(str(v) for v in self.w),
        ]
        if self.resolution is not None:
            parts.append(f"r={self.resolution}")
        return ";".join(parts)

    @property
    def stem_residual(self) -> bool:
        """Whether the stem keeps its residual 3x3 conv (d[0] == max depth, as OFA's input_stem_skipping)."""
        return self.d[0] == ofa_resnet50_space().max_depth

    @property
    def stage_depths(self) -> tuple[int, ...]:
        """Blocks kept in each of the 4 stages (base depth + d[1..4])."""
        return tuple(base + d for base, d in zip(ofa_resnet50_space().base_depths, self.d[1:], strict=True))

    @property
    def active_expand_ratios(self) -> tuple[tuple[float, ...], ...]:
        """Per stage, the expand ratios of the blocks that are kept (dropped blocks' entries left out)."""
        space = ofa_resnet50_space()
        out, start = [], 0
        for depth, n_max in zip(self.stage_depths, space.max_blocks_per_stage, strict=True):
            out.append(self.e[start : start + depth])
            start += n_max
        return tuple(out)


def default_resolution(arch: OfaArch) -> int:
    """The input resolution of ``arch``: its own ``r=``, else OFA's evaluation default (224)."""
    return arch.resolution if arch.resolution is not None else ofa_resnet50_space().default_resolution


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_d(d: tuple[Any, ...], shown: str, space: OfaSpace) -> None:
    n = len(space.base_depths) + 1
    if len(d) != n or not all(_is_int(v) and v in space.depth_choices for v in d):
        raise ModelError(f"{_ERR}: d needs {n} values from {_fmt_set(space.depth_choices)}, got {shown}")
    keep, skip = space.max_depth, min(space.depth_choices)
    if d[0] not in (skip, keep):
        raise ModelError(f"{_ERR}: d[0] (stem residual) must be {skip} (skip it) or {keep} (keep it), got {d[0]}")


def _check_e(e: tuple[Any, ...], shown: str, space: OfaSpace, *, allow_scalar: bool) -> None:
    counts = f"1 or {space.num_blocks}" if allow_scalar else str(space.num_blocks)
    ok = len(e) == space.num_blocks or (allow_scalar and len(e) == 1)
    if not ok or not all(isinstance(v, float | int) and not isinstance(v, bool) for v in e):
        raise ModelError(f"{_ERR}: e needs {counts} values from {_fmt_set(space.expand_ratios)}, got {shown}")
    for i, v in enumerate(e):
        if v not in space.expand_ratios:
            where = "e" if len(e) == 1 else f"e[{i}]"
            raise ModelError(
                f"{_ERR}: {where}={v!r} is not an expand ratio; expected one of {_fmt_set(space.expand_ratios)}"
            )


def _check_w(w: tuple[Any, ...], shown: str, space: OfaSpace) -> None:
    n = len(space.base_depths) + 2
    idx = tuple(range(len(space.width_mults)))
    what = (
        f"indices into width_mult_list {list(space.width_mults)} (not multipliers), "
        f"i.e. values from {_fmt_set(idx)}"
    )
    if len(w) != n or not all(_is_int(v) for v in w):
        raise ModelError(f"{_ERR}: w needs {n} {what}, got {shown}")
    for i, v in enumerate(w):
        if v not in idx:
            raise ModelError(f"{_ERR}: w[{i}]={v} is out of range; w takes {what}")


def _check_r(r: object, shown: str) -> None:
    if r is not None and not (_is_int(r) and r > 0):
        raise ModelError(f"{_ERR}: r needs one positive integer resolution (e.g. 224), got {shown}")


# --------------------------------------------------------------------------------------------- parse

_INT_RE = re.compile(r"[+-]?\d+")


def _items(key: str, raw: str) -> list[str]:
    items = [item.strip() for item in raw.split(",")]
    if not raw.strip() or any(not item for item in items):
        raise ModelError(f"{_ERR}: {key} has an empty value in {raw.strip()!r}")
    return items


def _ints(key: str, raw: str, expected: str) -> tuple[int, ...]:
    items = _items(key, raw)
    if not all(_INT_RE.fullmatch(item) for item in items):
        raise ModelError(f"{_ERR}: {key} needs {expected}, got {raw.strip()!r}")
    return tuple(int(item) for item in items)


def parse_ofa_spec(text: str) -> OfaArch:
    """Parse ``d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2`` (optionally ``;r=224``; ``e`` with 1 or 18 values; an
    ``ofa-resnet50:`` prefix is accepted; whitespace and a trailing ``;`` are ignored). Malformed specs raise
    ModelError with one line naming the field and what was expected."""
    if not isinstance(text, str):
        raise ModelError(f"{_ERR}: expected text like 'd=..;e=..;w=..', got {type(text).__name__}")
    space = ofa_resnet50_space()
    body = text.strip()
    if body.lower().startswith(SPEC_PREFIX):
        body = body[len(SPEC_PREFIX) :].strip()
    example = "d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2"
    if not body:
        raise ModelError(f"{_ERR} is empty; expected 'd=..;e=..;w=..[;r=..]', e.g. '{example}'")

    fields: dict[str, str] = {}
    for segment in body.split(";"):
        if not segment.strip():
            continue
        key, eq, value = segment.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ModelError(f"{_ERR}: expected key=value, got {segment.strip()!r} (e.g. '{example}')")
        if key not in _KEY_ORDER:
            raise ModelError(f"{_ERR}: unknown key {key!r}; expected d, e, w and optionally r")
        if key in fields:
            raise ModelError(f"{_ERR}: key {key!r} given more than once")
        fields[key] = value

    def require(key: str) -> str:
        if key not in fields:
            raise ModelError(f"{_ERR}: missing {key}; expected 'd=..;e=..;w=..[;r=..]', e.g. '{example}'")
        return fields[key].strip()

    n_d = len(space.base_depths) + 1
    d_raw = require("d")
    d = _ints("d", d_raw, f"{n_d} values from {_fmt_set(space.depth_choices)}")
    _check_d(d, repr(d_raw), space)

    e_raw = require("e")
    e_items = _items("e", e_raw)
    try:
        e = tuple(float(item) for item in e_items)
    except ValueError:
        raise ModelError(
            f"{_ERR}: e needs 1 or {space.num_blocks} values from {_fmt_set(space.expand_ratios)}, got {e_raw!r}"
        ) from None
    _check_e(e, repr(e_raw), space, allow_scalar=True)
    if len(e) == 1:
        e = e * space.num_blocks

    n_w = len(space.base_depths) + 2
    w_raw = require("w")
    w = _ints(
        "w",
        w_raw,
        f"{n_w} integer indices into width_mult_list {list(space.width_mults)} (not multipliers)",
    )
    _check_w(w, repr(w_raw), space)

    resolution = None
    if "r" in fields:
        r_raw = fields["r"].strip()
        if not re.fullmatch(r"\+?\d+", r_raw) or not 0 < int(r_raw) <= MAX_RESOLUTION:
            raise ModelError(f"{_ERR}: r needs one positive integer resolution up to {MAX_RESOLUTION} (e.g. 224), "
                             f"got {r_raw!r}")
        resolution = int(r_raw)
    return OfaArch(d=d, e=e, w=w, resolution=resolution)


# --------------------------------------------------------------------------------------------- build


def _torch_classes() -> dict[str, type]:
    """The nn.Module classes (hwmap.graph.ofa_modules), imported on first use so that importing this module does
    not import torch."""
    from hwmap.graph import ofa_modules

    return {name: getattr(ofa_modules, name) for name in _TORCH_CLASS_NAMES}


def __getattr__(name: str) -> type:
    if name in _TORCH_CLASS_NAMES:
        return _torch_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_ofa_resnet50(arch: OfaArch, *, num_classes: int = 1000) -> torch.nn.Module:
    """Build the subnet ``arch`` as a plain nn.Module (random init, on the current default device: build it
    under ``with torch.device('meta'):`` for shape-only work). Input: (N, 3, R, R), see default_resolution."""
    if not isinstance(arch, OfaArch):
        raise ModelError(f"{_ERR}: expected an OfaArch (see parse_ofa_spec), got {type(arch).__name__}")
    if not (_is_int(num_classes) and num_classes > 0):
        raise ModelError(f"ofa-resnet50: num_classes must be a positive integer, got {num_classes!r}")
    return _torch_classes()["OfaResNet50"](arch, num_classes=num_classes, space=ofa_resnet50_space())
