"""The eight published OFA ResNet50D subnets as switching paths, with RECONSTRUCTED configurations.

OFA published MACs, params and top-1/top-5 of eight specialised ResNet50D subnets (README table, see
``hwmap/data/ofa_resnet50_subnets.json``) but their (d, e, w, resolution) configs are not reachable any more.
``hwmap/data/ofa_resnet50_reconstructed.json`` holds, for each of them, a configuration found by
``search_ofa_configs`` whose exact MACs and params are within 2% of the published ones. These are stand-ins
with the right cost, NOT the published architectures; every entry says so in its ``provenance``.
The file is written by ``experiments/reconstruct_ofa_subnets.py``.

Counting convention (OFA's ``count_flops_given_config`` and ``FlopCounterMode / 2`` on the built model):

    MACs   = sum over conv layers of out_h * out_w * cin * cout * k * k, plus the final linear in * out
             (BN, ReLU, pooling and residual adds are not counted; the fc bias add is not counted)
    params = conv weights (no conv has a bias) + BN weight and bias (2 * C; running stats are buffers)
             + fc weight and bias

No torch is imported here; numpy only inside ``search_ofa_configs``.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from hwmap.errors import ModelError
from hwmap.graph.ofa import OfaArch, OfaSpace, default_resolution, ofa_resnet50_space, parse_ofa_spec

__all__ = [
    "MacsParams",
    "OfaSubnet",
    "OfaMatch",
    "analytic_macs_params",
    "reconstructed_subnets",
    "search_ofa_configs",
    "SEARCH_RESOLUTIONS",
    "RESOLUTION_TIERS",
    "RECONSTRUCTED_FILE",
    "PROVENANCE",
]

RECONSTRUCTED_FILE = "ofa_resnet50_reconstructed.json"
PROVENANCE = (
    "reconstructed by hwmap: search over the OFA ResNet-50 space for a config matching the published MACs and "
    "params within 2%; NOT the published config"
)

# Resolution tiers (lower is preferred): 0 = OFA training image sizes (train_ofa_net.py: 128,160,192,224);
# 1 = the other sizes of the ResNet50 accuracy-predictor list (144,176,240,256); 2 = 208, the only size of
# 128..256 step 16 in neither list (eval_ofa_net.py assigns 128..224 in steps of 4).
RESOLUTION_TIERS: dict[int, int] = {
    128: 0, 160: 0, 192: 0, 224: 0,
    144: 1, 176: 1, 240: 1, 256: 1,
    208: 2,
}  # fmt: skip
SEARCH_RESOLUTIONS: tuple[int, ...] = tuple(sorted(RESOLUTION_TIERS))


# ------------------------------------------------------------------------------------ analytic counter


class MacsParams(NamedTuple):
    """Exact counts of one network: multiply-accumulates (conv + linear) and parameters."""

    macs: int
    params: int


def _conv_out(size: int, kernel: int, stride: int) -> int:
    """Output size of a conv with padding kernel // 2 (all OFA convs): (size + 2p - k) // stride + 1."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def _conv(size_out: int, cin: int, cout: int, kernel: int) -> MacsParams:
    """conv (no bias) + its BN: MACs out_h*out_w*cin*cout*k*k; params cin*cout*k*k + 2*cout."""
    weights = cin * cout * kernel * kernel
    return MacsParams(size_out * size_out * weights, weights + 2 * cout)


def _stem(c0: int, c1: int, *, residual: bool, resolution: int) -> tuple[MacsParams, int]:
    """Stem counts and the size after its maxpool: conv3x3 s2 (3->c0) [+ conv3x3 (c0->c0)] + conv3x3 (c0->c1);
    maxpool 3x3 s2 p1 (same size formula as a padded conv)."""
    size = _conv_out(resolution, 3, 2)
    parts = [_conv(size, 3, c0, 3)]
    if residual:
        parts.append(_conv(size, c0, c0, 3))
    parts.append(_conv(size, c0, c1, 3))
    return _sum(parts), _conv_out(size, 3, 2)


def _block(space: OfaSpace, cin: int, mid: int, cout: int, *, stride: int, size_in: int) -> tuple[MacsParams, int]:
    """Bottleneck counts and its output size: 1x1 (cin->mid) at size_in, 3x3 stride (mid->mid) and 1x1
    (mid->cout) at size_out; shortcut 1x1 (cin->cout) at ceil(size_in / stride) (AvgPool ceil_mode) when
    stride > 1 or cin != cout."""
    k = space.kernel_size
    size_out = _conv_out(size_in, k, stride)
    parts = [_conv(size_in, cin, mid, 1), _conv(size_out, mid, mid, k), _conv(size_out, mid, cout, 1)]
    if stride != 1 or cin != cout:
        parts.append(_conv(-(-size_in // stride), cin, cout, 1))
    return _sum(parts), size_out


def _head(cin: int, num_classes: int) -> MacsParams:
    """Linear(cin -> num_classes) with bias: MACs cin*num_classes, params cin*num_classes + num_classes."""
    return MacsParams(cin * num_classes, cin * num_classes + num_classes)


def _sum(parts: Sequence[MacsParams]) -> MacsParams:
    return MacsParams(sum(p.macs for p in parts), sum(p.params for p in parts))


def analytic_macs_params(arch: OfaArch, resolution: int | None = None, *, num_classes: int = 1000) -> MacsParams:
    """Exact MACs and params of ``arch`` at ``resolution`` (default: the arch's own ``r=``, else 224), in
    closed form per layer; equal to what the module built by ``build_ofa_resnet50`` has (tested)."""
    if not isinstance(arch, OfaArch):
        raise ModelError(f"ofa-resnet50: expected an OfaArch (see parse_ofa_spec), got {type(arch).__name__}")
    size = default_resolution(arch) if resolution is None else resolution
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ModelError(f"ofa-resnet50: resolution needs one positive integer, got {resolution!r}")
    space = ofa_resnet50_space()
    c0, cin = space.stem_conv0_channels[arch.w[0]], space.stem_conv2_channels[arch.w[1]]
    stem, size = _stem(c0, cin, residual=arch.stem_residual, resolution=size)
    parts = [stem]
    for s, ratios in enumerate(arch.active_expand_ratios):
        cout = space.stage_channels[s][arch.w[2 + s]]
        for b, e in enumerate(ratios):
            stride = space.stage_strides[s] if b == 0 else 1
            counts, size = _block(space, cin, space.mid_channels(cout, e), cout, stride=stride, size_in=size)
            parts.append(counts)
            cin = cout
    parts.append(_head(cin, num_classes))
    return _sum(parts)


# ------------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class OfaMatch:
    """One configuration found by ``search_ofa_configs`` for a (MACs, params) target.

    e_tier: 0 = one expand ratio for every block, 1 = one per stage. resolution_tier: see RESOLUTION_TIERS.
    combined_rel_err = |macs_rel_err| + |params_rel_err|. rounds_to_published: MACs within 0.05 G and params
    within 0.05 M of the target, i.e. consistent with the 1-decimal numbers OFA printed.
    candidates_within_tolerance: how many searched configs passed the tolerance; candidates_in_same_tier: how
    many of those share this one's (rounds_to_published, e_tier, resolution_tier), i.e. how far from unique it is.
    """

    arch: OfaArch
    resolution: int
    macs: int
    params: int
    macs_rel_err: float
    params_rel_err: float
    combined_rel_err: float
    e_tier: int
    resolution_tier: int
    rounds_to_published: bool
    candidates_within_tolerance: int
    candidates_in_same_tier: int


def _stage_tables(space: OfaSpace, resolution: int) -> tuple[Any, list[Any], Any]:
    """Per-part count tables at one resolution (numpy int64 arrays, [..., 0] = MACs, [..., 1] = params):
    stem[d0 index (0: skip, 1: keep), w0, w1]; stage[s][w_in, w_s, d_s, e index]; head[w5]."""
    import numpy as np

    n_w, n_d, n_e = len(space.width_mults), len(space.depth_choices), len(space.expand_ratios)
    stem = np.zeros((2, n_w, n_w, 2), dtype=np.int64)
    size_after_stem = 0
    for keep in (0, 1):
        for w0 in range(n_w):
            for w1 in range(n_w):
                counts, size_after_stem = _stem(
                    space.stem_conv0_channels[w0],
                    space.stem_conv2_channels[w1],
                    residual=bool(keep),
                    resolution=resolution,
                )
                stem[keep, w0, w1] = counts
    stages, size = [], size_after_stem
    for s, base in enumerate(space.base_depths):
        table = np.zeros((n_w, n_w, n_d, n_e, 2), dtype=np.int64)
        cins = space.stem_conv2_channels if s == 0 else space.stage_channels[s - 1]
        size_next = 0
        for wi, cin in enumerate(cins):
            for wo, cout in enumerate(space.stage_channels[s]):
                for ei, e in enumerate(space.expand_ratios):
                    mid = space.mid_channels(cout, e)
                    first, size_next = _block(space, cin, mid, cout, stride=space.stage_strides[s], size_in=size)
                    rest, _ = _block(space, cout, mid, cout, stride=1, size_in=size_next)
                    for di, d in enumerate(space.depth_choices):
                        n_rest = base + d - 1
                        table[wi, wo, di, ei] = (first.macs + n_rest * rest.macs, first.params + n_rest * rest.params)
        stages.append(table)
        size = size_next
    head = np.array([_head(space.stage_channels[-1][w], space.num_classes) for w in range(n_w)], dtype=np.int64)
    return stem, stages, head


_N_AXES = 15  # keep-stem, w0..w5, d1..d4, e1..e4


def _totals(space: OfaSpace, resolution: int, which: int) -> Any:
    """MACs (which=0) or params (which=1) of every configuration with one expand ratio per stage, at one
    resolution, as a flat int64 array (C order) over the axes of shape ``_grid_shape(space)``:
    0 keep-stem (d[0] 0 or 2), 1-6 w0..w5, 7-10 d1..d4 (index into depth_list), 11-14 e1..e4 (index into
    expand_ratio_list). A sum of per-part tables by broadcasting."""
    import numpy as np

    stem, stages, head = _stage_tables(space, resolution)

    def place(table: Any, axes: tuple[int, ...]) -> Any:
        shape = [1] * _N_AXES
        for axis, length in zip(axes, table.shape[:-1], strict=True):
            shape[axis] = length
        return table[..., which].reshape(shape)

    total = place(stem, (0, 1, 2))
    w_in_axis = 2  # stage 1 reads the stem conv2 width (w1)
    for s, table in enumerate(stages):
        total = total + place(table, (w_in_axis, 3 + s, 7 + s, 11 + s))
        w_in_axis = 3 + s
    total = total + place(head, (6,))
    return np.ascontiguousarray(np.broadcast_to(total, _grid_shape(space))).reshape(-1)


def _grid_shape(space: OfaSpace) -> tuple[int, ...]:
    n_w, n_d, n_e = len(space.width_mults), len(space.depth_choices), len(space.expand_ratios)
    return (2,) + (n_w,) * 6 + (n_d,) * 4 + (n_e,) * 4


def _arch_at(space: OfaSpace, flat_index: int, resolution: int) -> OfaArch:
    """The OfaArch of one grid cell; blocks a stage drops get that stage's expand ratio."""
    import numpy as np

    idx = [int(v) for v in np.unravel_index(flat_index, _grid_shape(space))]
    keep, w, d_idx, e_idx = idx[0], tuple(idx[1:7]), idx[7:11], idx[11:15]
    d = (space.max_depth if keep else min(space.depth_choices),) + tuple(space.depth_choices[i] for i in d_idx)
    e: list[float] = []
    for s, n_max in enumerate(space.max_blocks_per_stage):
        e += [space.expand_ratios[e_idx[s]]] * n_max
    return OfaArch(d=d, e=tuple(e), w=w, resolution=resolution)


def search_ofa_configs(
    *,
    targets: Sequence[tuple[float, float]],
    tolerance: float = 0.02,
    resolutions: Sequence[int] = SEARCH_RESOLUTIONS,
) -> list[OfaMatch]:
    """For each target ``(macs, params)`` (in MACs and parameters, not G/M), the configuration chosen by the
    rule below, searched exhaustively over d[0] in {0, 2}, d[1..4] and w in {0, 1, 2}, one expand ratio per
    stage (4 x {0.2, 0.25, 0.35}; blocks a stage drops get its ratio) and ``resolutions``:
    2 * 3^6 * 3^4 * 3^4 = 9,565,938 configs per resolution (86.1 M over the 9 default resolutions), counted
    exactly by summing per-part tables built with the same formulas as ``analytic_macs_params``
    (params once, MACs once per resolution; numpy int64).

    Selection rule (lexicographic; deterministic):
      0. keep configs with |MACs - macs| <= tolerance * macs and |params - params| <= tolerance * params;
      1. prefer configs whose counts round to the published 1-decimal numbers (MACs within 0.05e9, params
         within 0.05e6 of the target), since OFA printed rounded values;
      2. prefer one expand ratio for all blocks (e_tier 0) over one per stage (e_tier 1);
      3. prefer OFA training sizes, then accuracy-predictor sizes, then 208 (RESOLUTION_TIERS);
      4. smallest combined relative error |MACs / macs - 1| + |params / params - 1|;
      5. then the smaller resolution, then the smaller grid index (d[0], w, d[1..4], e by stage, ascending).
    Raises ModelError naming the target when no config is within tolerance.
    """
    import numpy as np

    space = ofa_resnet50_space()
    for resolution in resolutions:
        if resolution not in RESOLUTION_TIERS:
            raise ModelError(f"ofa-resnet50 search: resolution {resolution} is not one of {SEARCH_RESOLUTIONS}")
    uniform_e = _uniform_expand_mask(space)
    params_all = _totals(space, resolutions[0], which=1)  # params do not depend on the resolution
    by_params = [np.flatnonzero(np.abs(params_all - p) <= tolerance * p) for _, p in targets]
    best: list[tuple[Any, ...] | None] = [None] * len(targets)
    n_within = [0] * len(targets)
    n_by_tier: list[dict[tuple[bool, int, int], int]] = [{} for _ in targets]
    for resolution in resolutions:
        macs_all = _totals(space, resolution, which=0)
        for t, (macs, params) in enumerate(targets):
            cand = by_params[t]
            hits = cand[np.abs(macs_all[cand] - macs) <= tolerance * macs]
            n_within[t] += hits.size
            if hits.size == 0:
                continue
            key = _best_hit(hits, macs_all[hits], params_all[hits], uniform_e[hits], (macs, params), resolution,
                            n_by_tier[t])
            if best[t] is None or key < best[t]:
                best[t] = key
    out = []
    for t, (macs, params) in enumerate(targets):
        if best[t] is None:
            raise ModelError(
                f"ofa-resnet50 search: no config within {tolerance:.1%} of {macs / 1e9:.3f} GMACs and "
                f"{params / 1e6:.3f} M params"
            )
        out.append(_match(space, best[t], (macs, params), n_within[t], n_by_tier[t]))
    return out


def _uniform_expand_mask(space: OfaSpace) -> Any:
    """Per flat grid index: whether the config has one expand ratio in every stage (e_tier 0)."""
    import numpy as np

    grid = _grid_shape(space)
    n_e = len(space.expand_ratios)
    e_same = np.zeros((n_e,) * 4, dtype=bool)
    for i in range(n_e):
        e_same[i, i, i, i] = True  # one expand ratio in every stage
    return np.broadcast_to(e_same.reshape((1,) * (_N_AXES - 4) + e_same.shape), grid).reshape(-1)


def _best_hit(hits: Any, hit_macs: Any, hit_params: Any, hit_uniform_e: Any, target: tuple[float, float],
              resolution: int, n_by_tier: dict[tuple[bool, int, int], int]) -> tuple[Any, ...]:
    """The selection key (rules 1-5 of search_ofa_configs) of the best of ``hits`` (flat grid indices within
    tolerance at ``resolution``); counts the hits per (not rounding, e_tier, resolution tier) into n_by_tier."""
    import numpy as np

    macs, params = target
    rounds = (np.abs(hit_macs - macs) <= 0.05e9) & (np.abs(hit_params - params) <= 0.05e6)
    e_tier = (~hit_uniform_e).astype(np.int64)
    combined = np.abs(hit_macs / macs - 1.0) + np.abs(hit_params / params - 1.0)
    for not_rounds in (False, True):
        for tier in (0, 1):
            n = int(np.count_nonzero((rounds != not_rounds) & (e_tier == tier)))
            tier_key = (not_rounds, tier, RESOLUTION_TIERS[resolution])
            n_by_tier[tier_key] = n_by_tier.get(tier_key, 0) + n
    order = np.lexsort((hits, combined, e_tier, ~rounds))  # last key is the primary one
    i = order[0]
    return (
        not bool(rounds[i]),
        int(e_tier[i]),
        RESOLUTION_TIERS[resolution],
        float(combined[i]),
        resolution,
        int(hits[i]),
    )


def _match(space: OfaSpace, key: tuple[Any, ...], target: tuple[float, float], n_within: int,
           n_by_tier: dict[tuple[bool, int, int], int]) -> OfaMatch:
    """The OfaMatch of the winning key: its architecture, exact counts and errors against the target."""
    macs, params = target
    not_rounds, e_tier, res_tier, _, resolution, flat_index = key
    arch = _arch_at(space, flat_index, resolution)
    counts = analytic_macs_params(arch)
    macs_rel, params_rel = counts.macs / macs - 1.0, counts.params / params - 1.0
    return OfaMatch(
        arch=arch,
        resolution=resolution,
        macs=counts.macs,
        params=counts.params,
        macs_rel_err=macs_rel,
        params_rel_err=params_rel,
        combined_rel_err=abs(macs_rel) + abs(params_rel),
        e_tier=e_tier,
        resolution_tier=res_tier,
        rounds_to_published=not not_rounds,
        candidates_within_tolerance=n_within,
        candidates_in_same_tier=n_by_tier[(not_rounds, e_tier, res_tier)],
    )


# ------------------------------------------------------------------------------------------ subnets


@dataclass(frozen=True)
class OfaSubnet:
    """One published OFA ResNet50D subnet as a switching path: a RECONSTRUCTED arch with exact counts, and the
    published MACs (G), params (M), top-1/top-5 (%, ImageNet-1k val). ``arch.resolution == resolution``."""

    name: str
    short_name: str
    arch: OfaArch
    resolution: int
    macs: int
    params: int
    published_macs_g: float
    published_params_m: float
    top1: float
    top5: float
    finetuned: bool
    provenance: str  # of the configuration: reconstructed, not published
    accuracy_source: str = ""  # where top1/top5 were published (OFA README table, repository URL and commit)

    @property
    def spec(self) -> str:
        """The model spec accepted by hwmap (``ofa-resnet50:d=..;e=..;w=..;r=..``)."""
        return f"ofa-resnet50:{self.arch}"


def _reconstructed_json() -> dict[str, Any]:
    text = importlib.resources.files("hwmap.data").joinpath(RECONSTRUCTED_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def _load_subnets() -> tuple[OfaSubnet, ...]:
    raw = _reconstructed_json()
    out = []
    for entry in raw["subnets"]:
        arch = parse_ofa_spec(entry["spec"])
        if arch.d != tuple(entry["d"]) or arch.e != tuple(entry["e"]) or arch.w != tuple(entry["w"]):
            raise ModelError(f"packaged {RECONSTRUCTED_FILE}: {entry['name']}: spec disagrees with d/e/w")
        if arch.resolution != entry["resolution"]:
            raise ModelError(f"packaged {RECONSTRUCTED_FILE}: {entry['name']}: spec disagrees with resolution")
        if not entry.get("provenance") or not entry.get("accuracy_source"):
            raise ModelError(f"packaged {RECONSTRUCTED_FILE}: {entry['name']}: no provenance or accuracy_source")
        out.append(
            OfaSubnet(
                name=entry["name"],
                short_name=entry["readme_short_name"],
                arch=arch,
                resolution=int(entry["resolution"]),
                macs=int(entry["macs"]),
                params=int(entry["params"]),
                published_macs_g=float(entry["published_macs_g"]),
                published_params_m=float(entry["published_params_m"]),
                top1=float(entry["top1"]),
                top5=float(entry["top5"]),
                finetuned=bool(entry["finetuned"]),
                provenance=entry["provenance"],
                accuracy_source=entry["accuracy_source"],
            )
        )
    return tuple(out)


def reconstructed_subnets() -> list[OfaSubnet]:
    """The eight published OFA ResNet50D subnets (largest first, as in OFA's README) with reconstructed
    configurations; read from the packaged ``hwmap/data/ofa_resnet50_reconstructed.json``."""
    return list(_load_subnets())
