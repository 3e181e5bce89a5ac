"""The zoo census: one row per model, shares that add up, failures as rows, resumable from its journal."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

pytest.importorskip("timm")

from hwmap.dse.census import family_of, resolve_models, run_census  # noqa: E402
from hwmap.errors import HwmapError  # noqa: E402

TWENTY = [
    "resnet18", "resnet10t", "efficientnet_b[0-1]", "mobilenetv3_small_050", "convnext_atto", "deit_tiny_patch16_224",
    "vit_tiny_patch16_224", "regnetx_002", "lcnet_050", "mnasnet_small", "tinynet_e", "mobilevitv2_050",
    "levit_128s", "edgenext_xx_small", "ghostnet_100", "resnet14t", "repghostnet_050", "semnasnet_050",
    "no_such_model",
]


def test_census_of_twenty_models(tmp_path):
    models = resolve_models(TWENTY)
    assert len(models) == 20 and models[2:4] == ["efficientnet_b0", "efficientnet_b1"]
    out = tmp_path / "census.csv"
    result = run_census(models, accels=["systolic16x16"], out=out, workers=0)
    table = pd.read_csv(out)
    assert list(table.model) == models and result.failed == 1
    failed = table[table.status == "error"]
    assert list(failed.model) == ["no_such_model"] and "unknown model 'no_such_model'" in failed.error.iloc[0]
    ok = table[table.status == "ok"]
    resnet18 = ok[ok.model == "resnet18"].iloc[0]
    assert resnet18.macs == 1_814_073_344 and resnet18.params == 11_689_512  # 1.82 GMACs, 11.7 M at 224x224
    assert resnet18.input == "1x3x224x224"
    # MACs split over the MAC-bearing groups; template time and energy shares over every group.
    groups = [c for c in table.columns if c.startswith("mac_pct.group.")]
    assert (ok[groups].sum(axis=1) - 100).abs().max() < 1e-6
    for kind in ("time_pct", "energy_pct"):
        columns = [c for c in table.columns if c.startswith(f"systolic16x16.{kind}.")]
        assert (ok[columns].sum(axis=1) - 100).abs().max() < 1e-6
    deit = ok[ok.model == "deit_tiny_patch16_224"].iloc[0]
    assert deit["mac_pct.group.attention"] > 5 and deit["mac_pct.group.conv"] < 5
    assert (ok["systolic16x16.energy_mj"] > 0).all()

    # Resume after an interruption: keep the header and the first 5 rows of the journal, trace the rest.
    journal = tmp_path / "census.csv.journal.jsonl"
    lines = journal.read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "census" and len(lines) == 21
    journal.write_text("\n".join(lines[:6]) + "\n" + lines[6][:20])  # a torn seventh line
    again = run_census(models, accels=["systolic16x16"], out=out, workers=0, resume=True)
    assert again.resumed == 5
    pd.testing.assert_frame_equal(pd.read_csv(out).drop(columns=["trace_s", "cpu_s"]),
                                  table.drop(columns=["trace_s", "cpu_s"]))
    with pytest.raises(HwmapError, match="pass resume=True"):
        run_census(models, accels=["systolic16x16"], out=out, workers=0)


def test_census_cli_on_local_processes(tmp_path):
    out = tmp_path / "c.csv"
    run = subprocess.run([sys.executable, "-m", "hwmap", "census", "resnet18", "lcnet_050", "-a", "systolic16x16",
                          "-a", "h100_sxm", "--out", str(out), "-w", "2", "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["models"] == 2
    table = pd.read_csv(out)
    assert list(table.status) == ["ok", "ok"] and table["h100_sxm.latency_ms"].gt(0).all()


def test_census_patterns_and_families():
    with pytest.raises(HwmapError, match="matches no timm"):
        resolve_models(["zzz_*"])
    assert family_of("convnext_tiny.fb_in1k") == "convnext" and family_of("resnet50d") == "resnet"
    assert family_of("vit_base_patch16_224") == "vit" and family_of("efficientnet_b3") == "efficientnet"
