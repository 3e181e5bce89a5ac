"""Reconstructed configs of the eight published OFA ResNet50D subnets (hwmap/paths/ofa_subnets.py and the
packaged hwmap/data/ofa_resnet50_reconstructed.json), and the analytic MAC/param counter behind the search.

Measured counts come from the module built by build_ofa_resnet50 on the meta device: params via
module.parameters(), MACs via FlopCounterMode / 2 (conv + linear only, as OFA's counter)."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from hwmap.errors import ModelError
from hwmap.graph.ofa import OfaArch, build_ofa_resnet50, ofa_resnet50_space, parse_ofa_spec
from hwmap.paths.ofa_subnets import (
    PROVENANCE,
    RESOLUTION_TIERS,
    MacsParams,
    OfaSubnet,
    analytic_macs_params,
    reconstructed_subnets,
    search_ofa_configs,
)

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

TOLERANCE = 0.02


def _data(name: str) -> dict:
    return json.loads(importlib.resources.files("hwmap.data").joinpath(name).read_text(encoding="utf-8"))


def _measure(arch: OfaArch, resolution: int) -> MacsParams:
    """Exact (MACs, params) of the built module: one meta forward under FlopCounterMode."""
    with torch.device("meta"):
        model = build_ofa_resnet50(arch).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, resolution, resolution, device="meta"))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return MacsParams(flops // 2, sum(p.numel() for p in model.parameters()))


SUBNETS = reconstructed_subnets()
PUBLISHED = _data("ofa_resnet50_subnets.json")
PACKAGED = _data("ofa_resnet50_reconstructed.json")


# ------------------------------------------------------------------------------- reconstructed subnets


@pytest.mark.parametrize("subnet", SUBNETS, ids=[s.short_name for s in SUBNETS])
def test_built_subnet_is_within_2_percent_of_published(subnet):
    measured = _measure(subnet.arch, subnet.resolution)
    assert measured == (subnet.macs, subnet.params)  # the packaged exact counts are the built model's
    assert abs(measured.macs / (subnet.published_macs_g * 1e9) - 1) <= TOLERANCE
    assert abs(measured.params / (subnet.published_params_m * 1e6) - 1) <= TOLERANCE


def test_subnets_carry_the_published_numbers_in_order():
    published = PUBLISHED["subnets"]
    assert len(SUBNETS) == len(published) == 8
    for subnet, pub in zip(SUBNETS, published, strict=True):
        assert isinstance(subnet, OfaSubnet)
        assert (subnet.name, subnet.short_name) == (pub["name"], pub["readme_short_name"])
        assert (subnet.published_macs_g, subnet.published_params_m) == (pub["macs_g"], pub["params_m"])
        assert (subnet.top1, subnet.top5, subnet.finetuned) == (pub["top1"], pub["top5"], pub["finetuned"])
        assert subnet.arch.resolution == subnet.resolution
        assert parse_ofa_spec(subnet.spec) == subnet.arch
        assert subnet.spec == f"ofa-resnet50:{subnet.arch}" and ";r=" in subnet.spec
        assert analytic_macs_params(subnet.arch) == (subnet.macs, subnet.params)
    assert [s.published_macs_g for s in SUBNETS] == sorted((s.published_macs_g for s in SUBNETS), reverse=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SUBNETS[0].top1 = 0.0  # type: ignore[misc]


def test_json_carries_provenance_on_every_entry():
    assert PACKAGED["source"] == PUBLISHED["source"]
    assert PACKAGED["provenance"] == PROVENANCE
    assert "search_method" in PACKAGED
    assert "NOT the published config" in PROVENANCE
    for entry in PACKAGED["subnets"]:
        assert entry["provenance"] == PROVENANCE, entry["name"]
        assert entry["spec"].startswith("ofa-resnet50:") and parse_ofa_spec(entry["spec"]).resolution
        assert len(entry["e"]) == 18 and len(entry["d"]) == 5 and len(entry["w"]) == 6
        assert entry["macs_rel_err"] == pytest.approx(entry["macs"] / (entry["published_macs_g"] * 1e9) - 1, abs=1e-6)
        assert entry["params_rel_err"] == pytest.approx(
            entry["params"] / (entry["published_params_m"] * 1e6) - 1, abs=1e-6
        )
    assert all(s.provenance == PROVENANCE for s in SUBNETS)


def test_search_reproduces_the_packaged_configs():
    # The rule is a lexicographic minimum and every packaged pick is in resolution tier 0, so a search over
    # fewer tier-0 sizes that still holds a pick's size must return the same pick. Searching one size keeps
    # this test fast (the full search, ~5 s: experiments/reconstruct_ofa_subnets.py --check).
    assert all(e["resolution_tier"] == 0 for e in PACKAGED["subnets"])
    size = SUBNETS[-1].resolution
    assert RESOLUTION_TIERS[size] == 0
    picked = [s for s in SUBNETS if s.resolution == size]
    targets = [(s.published_macs_g * 1e9, s.published_params_m * 1e6) for s in picked]
    matches = search_ofa_configs(targets=targets, resolutions=(size,))
    assert [m.arch for m in matches] == [s.arch for s in picked]
    for m, entry in zip(matches, [e for e in PACKAGED["subnets"] if e["resolution"] == size], strict=True):
        assert (m.macs, m.params) == analytic_macs_params(m.arch) == (entry["macs"], entry["params"])
        assert max(abs(m.macs_rel_err), abs(m.params_rel_err)) <= TOLERANCE
        assert m.rounds_to_published and (m.e_tier, m.resolution_tier) == (0, 0)
        assert 0 < m.candidates_in_same_tier <= m.candidates_within_tolerance


def test_search_raises_when_nothing_matches():
    with pytest.raises(ModelError, match="no config within 2.0%"):
        search_ofa_configs(targets=[(50e9, 1e6)], resolutions=(128,))
    with pytest.raises(ModelError, match="resolution 100"):
        search_ofa_configs(targets=[(1e9, 1e7)], resolutions=(100,))


# ---------------------------------------------------------------------------------- analytic counter

MAX = "d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2"
R50D = "d=2,1,2,2,1;e=0.25;w=2,2,2,2,2,2"
D2_E025 = "d=2,2,2,2,2;e=0.25;w=2,2,2,2,2,2"
MIN = "d=0,0,0,0,0;e=0.2;w=0,0,0,0,0,0"


def _anchors() -> list[tuple[str, int, float, int]]:
    """(spec, resolution, MMACs, params) from measured_anchors_here (ofa's own counter, 2 decimals)."""
    out = []
    for entry in _data("ofa_resnet50_space.json")["measured_anchors_here"].values():
        if not isinstance(entry, dict) or "arch" not in entry:
            continue
        a = entry["arch"]
        e = a["e"] if isinstance(a["e"], list) else [a["e"]]
        spec = f"d={','.join(map(str, a['d']))};e={','.join(map(str, e))};w={','.join(map(str, a['w']))}"
        out.append((spec, entry["image_size"], entry["ofa_mmacs"], entry["params"]))
        for size, mmacs in entry.get("mmacs_at_other_sizes", {}).items():
            out.append((spec, int(size), mmacs, entry["params"]))
    return out


ANCHORS = _anchors()


def test_anchor_list_is_complete():
    assert {(spec, r) for spec, r, _, _ in ANCHORS} >= {
        (MAX, 224), (R50D, 224), (R50D, 128), (R50D, 160), (R50D, 192), (D2_E025, 224), (MIN, 224), (MIN, 128),
    }  # fmt: skip


@pytest.mark.parametrize(("spec", "resolution", "mmacs", "params"), ANCHORS)
def test_analytic_counter_equals_anchor(spec, resolution, mmacs, params):
    counts = analytic_macs_params(parse_ofa_spec(spec), resolution)
    assert counts.params == params
    assert counts.macs / 1e6 == pytest.approx(mmacs, abs=0.005)  # anchors are printed with 2 decimals


def _random_archs(n: int, seed: int) -> list[tuple[OfaArch, int]]:
    space = ofa_resnet50_space()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        arch = OfaArch(
            d=(rng.choice((0, 2)),) + tuple(rng.choice(space.depth_choices) for _ in range(4)),
            e=tuple(rng.choice(space.expand_ratios) for _ in range(18)),
            w=tuple(rng.randrange(3) for _ in range(6)),
        )
        out.append((arch, rng.choice((97, 128, 144, 161, 176, 208, 240, 256))))  # odd sizes too
    return out


# the largest and smallest anchors + random archs at odd sizes (each forward costs ~0.6 s); the 8 reconstructed
# subnets above add 8 more built-vs-analytic cases (built == packaged counts == analytic_macs_params), and
# tests/graph/test_ofa.py checks the built R50D/D2_E025 anchors
BUILT_CASES = [(parse_ofa_spec(spec), r) for spec, r in ((MAX, 224), (MIN, 128))]
BUILT_CASES += _random_archs(2, seed=2024)


@pytest.mark.parametrize(("arch", "resolution"), BUILT_CASES, ids=[f"{a}@{r}" for a, r in BUILT_CASES])
def test_analytic_counter_equals_built_model(arch, resolution):
    assert analytic_macs_params(arch, resolution) == _measure(arch, resolution)


def test_analytic_counter_by_hand_for_the_min_net_head_and_resolution_default():
    # Linear(1328 -> 1000) with bias: 1,328,000 MACs and 1,329,000 params; removing the 1000-class head from
    # num_classes=1000 to 10 changes MACs by 1328 * 990 and params by 1329 * 990 (conv part unchanged)
    arch = parse_ofa_spec(MIN)
    full, small = analytic_macs_params(arch, 224), analytic_macs_params(arch, 224, num_classes=10)
    assert full.macs - small.macs == 1328 * 990
    assert full.params - small.params == 1329 * 990
    assert analytic_macs_params(arch) == full  # no r= in the spec: 224
    assert analytic_macs_params(dataclasses.replace(arch, resolution=128)) == analytic_macs_params(arch, 128)


def test_analytic_counter_rejects_bad_input():
    with pytest.raises(ModelError, match="OfaArch"):
        analytic_macs_params(MIN)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="resolution"):
        analytic_macs_params(parse_ofa_spec(MIN), 0)


def test_loading_subnets_imports_neither_torch_nor_numpy():
    code = (
        "import sys\n"
        "from hwmap.paths.ofa_subnets import reconstructed_subnets, analytic_macs_params\n"
        "s = reconstructed_subnets()\n"
        "assert analytic_macs_params(s[0].arch).macs == s[0].macs\n"
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
