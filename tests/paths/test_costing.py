"""hwmap.paths.costing: paths are costed with the estimate settings of `hwmap estimate`, and cost what it gives."""

from __future__ import annotations

import json

import pytest

import hwmap
from hwmap.cost.settings import EstimateSettings
from hwmap.paths import costing

# resnet18 at 64x64: small enough to trace and map in seconds
PATHS = """\
schema_version: 1
model: resnet18
input: 3x64x64
paths:
  - name: full
  - name: skip-layer4.1
    skip_blocks: [layer4.1]
"""


@pytest.fixture(scope="module")
def paths_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("paths") / "resnet18_64.yaml"
    path.write_text(PATHS)
    return path


def _json(run_cli, *argv: str):
    code, out, err = run_cli(*argv)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(("accel", "options"), [
    ("systolic16x16", ("--objective", "latency")),
    ("magnet16pe_v16", ("--objective", "latency")),
    ("systolic16x16", ("--mapping", "scalesim", "--fusion", "none", "--dataflow", "os")),
    ("magnet16pe_v16", ("--objective", "edp", "--fusion", "none")),
    ("a100_sxm", ("--mode", "eager", "--dtype", "fp32", "--no-tf32")),
])
def test_paths_cost_gives_what_estimate_gives_with_the_same_options(run_cli, paths_file, accel, options):
    rows = {r["name"]: r for r in _json(run_cli, "paths", "cost", str(paths_file), "--accel", accel, *options,
                                        "--json")}
    estimate = _json(run_cli, "estimate", "resnet18", "--input", "3x64x64", "-a", accel, *options, "--json")
    assert rows["full"]["energy_mj"] == estimate["energy_mj"]
    assert rows["full"]["latency_ms"] == estimate["latency_ms"]
    # MACs: resnet18's 1,814,073,344 at 224x224, convs scaled by (64/224)^2 = 4/49, the 512x1000 fc unchanged
    assert rows["full"]["cycles"] == estimate["cycles"] and rows["full"]["macs"] == estimate["macs"] == 148_557_824
    assert rows["skip-layer4.1"]["macs"] < rows["full"]["macs"]


def test_mapping_and_fusion_change_the_paths_numbers(run_cli, paths_file):
    """The options reach the cost model: SCALE-Sim's fold order and unfused operators move more DRAM bytes (the
    array's compute cycles stay SCALE-Sim's either way; unfused operators add vector-unit and DMA cycles)."""
    def full(*options: str) -> dict:
        rows = _json(run_cli, "paths", "cost", str(paths_file), "--accel", "systolic16x16", *options, "--json")
        return next(r for r in rows if r["name"] == "full")

    default, scalesim, unfused = full(), full("--mapping", "scalesim"), full("--fusion", "none")
    assert scalesim["energy_mj"] > default["energy_mj"] and unfused["energy_mj"] > default["energy_mj"]
    assert unfused["cycles"] > default["cycles"]


def test_cost_paths_hands_the_settings_it_made_to_every_estimate(monkeypatch, paths_file):
    received = []
    estimate_graph = costing.estimate_graph

    def receiving(graph, accel, settings):
        received.append(settings)
        return estimate_graph(graph, accel, settings)

    monkeypatch.setattr(costing, "estimate_graph", receiving)
    hwmap.cost_paths(str(paths_file), "magnet16pe_v16", objective="latency")
    assert received == [EstimateSettings(objective="latency")] * 2 and received[0] is received[1]


@pytest.mark.parametrize(("options", "message"), [
    (("--objective", "speed"), "--objective"),
    (("--fusion", "none", "--accel", "a100_sxm"), "--fusion applies to"),
    (("--mode", "eager"), "--mode applies to GPU templates only"),
])
def test_a_setting_that_does_not_apply_fails_before_costing_naming_its_flag(run_cli, paths_file, options, message):
    accel = () if "--accel" in options else ("--accel", "systolic16x16")
    code, out, err = run_cli("paths", "cost", str(paths_file), *accel, *options)
    assert code == 2 and message in err and "Traceback" not in err and out == ""


def test_select_paths_costs_a_paths_yaml_with_the_same_settings(paths_file):
    accuracies = {"provenance": "assumed for the test", "accuracies": {"full": 69.8, "skip-layer4.1": 60.0}}
    result = hwmap.select_paths(str(paths_file), accel="systolic16x16", fusion="none", objective="latency",
                                budgets="1.0", accuracies=accuracies)
    full = next(c for c in hwmap.cost_paths(paths_file, "systolic16x16", fusion="none", objective="latency")
                if c.name == "full")
    assert [p.name for p in result.selection.chosen] == ["full"]  # the whole budget: the most accurate path
    assert result.selection.expected_energy_mj == full.energy_mj
    assert result.selection.expected_latency_ms == full.latency_ms
    assert full.energy_mj != hwmap.cost_paths(paths_file, "systolic16x16")[0].energy_mj  # fusion none counted
