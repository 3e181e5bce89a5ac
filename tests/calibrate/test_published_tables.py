"""The published benchmark tables shipped under hwmap/data/timm_benchmarks read as calibration tables, each row
consistent (throughput x step time = batch), and the subsets hold the rows PROVENANCE.md says they hold."""

from __future__ import annotations

from importlib.resources import files

import pytest

from hwmap.calibrate.table import read_table

ROOT = files("hwmap.data").joinpath("timm_benchmarks")


@pytest.mark.parametrize(("name", "rows", "batch"), [
    ("benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv", 1443, 1024),
    ("benchmark-infer-amp-nchw-pt291-cu128-4090.subset.csv", 84, 1024),
    ("benchmark-infer-amp-nchw-pt291-cu130-pro6000maxq.subset.csv", 85, 2048),
    ("benchmark-infer-amp-nchw-pt291-cu130-5090.subset.csv", 87, 1024),
    ("benchmark-infer-amp-nchw-pt291-cu128-4090-dynamo.subset.csv", 87, 1024),
    ("benchmark-infer-amp-nchw-pt291-cu130-5090-dynamo.subset.csv", 87, 1024),
    ("benchmark-infer-amp-nchw-pt291-cu130-pro6000maxq-dynamo.subset.csv", 87, 2048),
])
def test_shipped_tables_read_and_are_consistent(name, rows, batch):
    table = read_table(str(ROOT.joinpath(name)))
    assert len(table) == rows
    assert sum(r.batch == batch for r in table) > rows // 2  # the table's usual batch
    samples = read_table(str(ROOT.joinpath(name)), columns={"model": "model", "img_size": "infer_img_size",
                                                            "batch": "infer_batch_size",
                                                            "samples_per_s": "infer_samples_per_sec"})
    for by_time, by_rate in zip(table, samples, strict=True):
        assert by_time.step_time_s == pytest.approx(by_rate.step_time_s, rel=0.01), by_time.model


def test_provenance_names_every_shipped_table_with_its_commit():
    text = ROOT.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    for item in ROOT.iterdir():
        if item.name.endswith(".csv"):
            assert f"`{item.name}`" in text
    assert text.count("90cae8c5ab83d2d7e23b1fb2bab1559bfdcbc7e9") >= 12  # six subsets: table rows and URLs
