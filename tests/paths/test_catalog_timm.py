"""Published timm accuracies for pretrained-variant switching, and paths generate checking what it writes."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources

import pytest

pytest.importorskip("timm")

from hwmap.paths.catalog import published_accuracy, timm_accuracy, timm_results  # noqa: E402
from hwmap.paths.generate import expand_variants  # noqa: E402


def _line(number: int) -> dict:
    text = resources.files("hwmap.data").joinpath("timm_results_imagenet.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    return next(csv.DictReader(io.StringIO(lines[0] + "\n" + lines[number - 1] + "\n")))


def test_catalogue_rows_are_the_shipped_file():
    rows = timm_results()
    assert len(rows) > 1500
    b0 = timm_accuracy("efficientnet_b0")  # default tag ra_in1k, default input 224
    assert b0.value == 77.698 and b0.metric == "top1" and b0.source == "catalogue"
    assert "efficientnet_b0.ra_in1k at 224x224" in b0.provenance and "line 1284" in b0.provenance
    row = _line(1284)
    assert row["model"] == "efficientnet_b0.ra_in1k" and row["img_size"] == "224" and row["top1"] == "77.698"
    assert "top-5 93.538" in b0.provenance and "4e5207c7bb65" in b0.provenance
    # The same weights at their other published evaluation size, and an explicit tag.
    assert timm_accuracy("efficientnet_b3", resolution=320).value == 82.296
    assert timm_accuracy("efficientnet_b3").value == 81.472  # default input 288
    assert timm_accuracy("convnext_tiny.fb_in1k").value == 82.066
    # No row, no accuracy: an unpublished size, an unknown tag, a name timm never evaluated.
    assert timm_accuracy("efficientnet_b0", resolution=300) is None
    assert timm_accuracy("efficientnet_b0.no_such_tag") is None
    assert published_accuracy("segformer-b0").metric == "miou"  # the other catalogues still come first
    assert published_accuracy("resnet50").value == 80.382


def test_variant_globs_expand_over_timm_names():
    assert expand_variants(("efficientnet_b[0-3]",), exclude="efficientnet_b3") == \
        ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2"]
    assert expand_variants(("convnext_atto", "convnext_atto")) == ["convnext_atto"]
    from hwmap.errors import HwmapError

    with pytest.raises(HwmapError, match="matches no timm"):
        expand_variants(("zzz_[0-3]",))


def test_pretrained_switching_selects_without_drop_unknown(run_cli, tmp_path):
    paths_file, costed, selection = tmp_path / "p.yaml", tmp_path / "c.csv", tmp_path / "s.json"
    code, _, err = run_cli("paths", "generate", "convnext_femto", "--variants", "convnext_atto", "--out",
                           str(paths_file))
    assert code == 0, err
    code, _, err = run_cli("paths", "cost", str(paths_file), "--accel", "systolic16x16", "--csv", str(costed))
    assert code == 0, err
    rows = {r["name"]: r for r in csv.DictReader(costed.open())}
    assert rows["full"]["accuracy"] == "77.498" and rows["convnext_atto"]["accuracy"] == "75.672"
    assert "convnext_atto.d2_in1k at 224x224" in rows["convnext_atto"]["accuracy_provenance"]
    assert float(rows["convnext_atto"]["energy_mj"]) < float(rows["full"]["energy_mj"])
    code, _, err = run_cli("select-paths", str(costed), "--budget", "0.8,1.0", "--out", str(selection))
    assert code == 0, err
    chosen = {c["name"]: c for c in json.loads(selection.read_text())["chosen"]}
    assert set(chosen) == {"convnext_atto", "full"}
    assert "line 1394 of https://github.com/huggingface/pytorch-image-models/blob/4e5207c7bb65" in \
        chosen["convnext_atto"]["accuracy_source"]


@pytest.mark.parametrize(("args", "message"), [
    (["resnet18", "--resolution", "160,160"], "named 'r160'"),
    (["resnet18", "--skip-blocks", "nothing*"], "path 'skip-nothing\\*' .* matches no block"),
    (["resnet18", "--variants", "resnet_nope"], "path 'resnet_nope' .* unknown model"),
    (["vit_tiny_patch16_224", "--resolution", "160"], "path 'r160' .* does not run"),
    (["graph.json"], "not a saved graph|saved graph or ONNX"),
    (["model.onnx"], "saved graph or ONNX"),
])
def test_generate_refuses_paths_that_cost_would_reject(run_cli, tmp_path, args, message):
    out = tmp_path / "paths.yaml"
    code, _, err = run_cli("paths", "generate", *args, "--out", str(out))
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
