"""Sweeps cost every point with the space's estimate settings (its `estimate:` section), exactly as `estimate`
does with the same settings; the settings are checked once, when the space is read, and part of every point id."""

from __future__ import annotations

import textwrap

import pytest

import hwmap
from hwmap.cost import dispatch
from hwmap.cost.settings import EstimateSettings
from hwmap.dse.space import DesignSpace, DesignSpaceError
from hwmap.dse.sweep import SerialExecutor, point_id, sweep
from hwmap.units import BYTES_PER_MB

BANDWIDTHS = [8, 64]  # bytes per cycle: a DRAM-bound and a compute-bound variant


def _space(base: str, estimate: dict | None = None) -> dict:
    data = {"schema_version": 1, "base": base, "axes": {"dram.bw_bytes_per_cycle": BANDWIDTHS},
            "models": [{"model": "resnet18", "input": "3x64x64"}]}
    return data if estimate is None else {**data, "estimate": estimate}


@pytest.mark.parametrize(("base", "estimate"), [
    ("systolic16x16", {"objective": "latency"}),
    ("magnet16pe_v16", {"objective": "latency"}),
    ("systolic16x16", {"mapping": "scalesim", "fusion": "none"}),
    ("magnet16pe_v16", {"objective": "edp", "fusion": "none"}),
])
def test_every_point_costs_what_estimate_gives_with_the_same_settings(base, estimate):
    table = hwmap.sweep(_space(base, estimate)).table
    assert list(table["status"]) == ["ok", "ok"]
    template = hwmap.load_accelerator(base)
    for bw, row in zip(BANDWIDTHS, table.itertuples(), strict=True):
        direct = hwmap.estimate("resnet18", template.with_overrides({"dram.bw_bytes_per_cycle": bw}),
                                input_shape="3x64x64", **estimate)
        assert row.energy_mj == direct.energy_mj and row.latency_ms == direct.latency_ms
        assert row.cycles == direct.cycles and row.dram_mb * BYTES_PER_MB == pytest.approx(direct.dram_bytes,
                                                                                          rel=1e-12)


def test_the_settings_change_the_numbers_and_reach_every_point_as_they_are(monkeypatch):
    default = hwmap.sweep(_space("systolic16x16")).table
    unfused = hwmap.sweep(_space("systolic16x16", {"fusion": "none"})).table
    assert (unfused["energy_mj"] > default["energy_mj"]).all() and (unfused["cycles"] > default["cycles"]).all()
    received = []
    estimate_graph = dispatch.estimate_graph

    def receiving(graph, accel, settings):
        received.append(settings)
        return estimate_graph(graph, accel, settings)

    monkeypatch.setattr(dispatch, "estimate_graph", receiving)
    space = DesignSpace.from_dict(_space("magnet16pe_v16", {"objective": "latency"}))
    assert space.estimate == EstimateSettings(objective="latency")
    sweep(space, executor=SerialExecutor())
    assert received == [space.estimate] * len(BANDWIDTHS)


def test_paths_workloads_cost_their_paths_with_the_settings(tmp_path):
    (tmp_path / "paths.yaml").write_text(textwrap.dedent("""\
        schema_version: 1
        model: resnet18
        input: 3x64x64
        paths:
          - {name: full, accuracy: {value: 69.8, provenance: "assumed for the test"}}
          - {name: skip, skip_blocks: [layer4.1], accuracy: {value: 60.0, provenance: "assumed for the test"}}
        """))
    space = {"schema_version": 1, "base": "systolic16x16", "axes": {"dram.bw_bytes_per_cycle": [64]},
             "paths": [{"file": str(tmp_path / "paths.yaml"), "budgets": "1.0", "relative": True}],
             "estimate": {"mapping": "scalesim", "fusion": "none"}}
    [row] = hwmap.sweep(space).table.itertuples()
    variant = hwmap.load_accelerator("systolic16x16").with_overrides({"dram.bw_bytes_per_cycle": 64})
    costed = {c.name: c for c in hwmap.cost_paths(tmp_path / "paths.yaml", variant, mapping="scalesim",
                                                  fusion="none")}
    assert row.full_energy_mj == costed["full"].energy_mj and row.full_latency_ms == costed["full"].latency_ms
    assert row.selected_paths == "full"  # a budget of the whole full path: the most accurate path fits


@pytest.mark.parametrize(("base", "estimate", "message"), [
    ("systolic16x16", {"objective": "speed"}, "estimate.objective: input should be 'energy', 'latency' or 'edp'"),
    ("systolic16x16", {"dataflow": "os"}, "estimate.dataflow: unknown field"),
    ("systolic16x16", {"mode": "eager"}, "estimate.mode: unknown field"),  # spaces sweep accelerator templates
    ("systolic16x16", {"fusion": "all"}, "estimate.fusion: input should be 'none' or 'epilogue'"),
    ("magnet16pe_v16", {"mapping": "scalesim"}, "estimate.mapping: scalesim applies to systolic templates"),
    ("magnet16pe_v16", ["objective", "latency"], "estimate: expected a mapping with keys mapping, objective, fusion"),
])
def test_a_bad_estimate_section_is_one_space_error_naming_the_field(base, estimate, message):
    with pytest.raises(DesignSpaceError) as caught:
        DesignSpace.from_dict(_space(base, estimate))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_point_ids_change_with_the_settings_and_stay_as_they_were_without_them():
    plain = DesignSpace.from_dict(_space("systolic16x16"))
    explicit = DesignSpace.from_dict(_space("systolic16x16", {"objective": "energy", "mapping": "best"}))
    latency = DesignSpace.from_dict(_space("systolic16x16", {"objective": "latency"}))
    assert plain.point_fingerprint == plain.base_fingerprint == explicit.point_fingerprint  # old journals resume
    assert latency.point_fingerprint != plain.point_fingerprint  # a journal of other settings resumes nothing
    variant = plain.variants()[0]
    assert point_id(latency.point_fingerprint, variant, "w") != point_id(plain.point_fingerprint, variant, "w")
    assert latency.describe()["estimate"]["objective"] == "latency"
