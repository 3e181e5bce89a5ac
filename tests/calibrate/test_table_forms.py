"""A measurement table's parameter count says which form of a re-parameterisable model it measured (timm's newer
tables list RepVGG and LeViT fused for inference); `--from-table` traces that form."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwmap.calibrate.table import TableError, ran_fused, read_table, trace_timm


@pytest.mark.parametrize(("model", "params_m", "fused"), [
    ("repvgg_a2", 25.5, True),  # timm's PyTorch 2.9.1 tables (4090, 5090, Max-Q)
    ("repvgg_a2", 28.21, False),  # timm's RTX 3090 table
    ("levit_128", 9.19, True),
    ("levit_128", 9.21, False),
    ("resnet18", 11.69, False),  # nothing to fuse
])
def test_the_rows_parameter_count_picks_trained_or_fused_form(model, params_m, fused):
    assert ran_fused(model, params_m) is fused


def test_the_fused_repvgg_has_the_tables_macs():
    # repvgg_a2 fused: 5.12 GMACs per image in the 4090 table (5.7 as trained in the 3090 table)
    trained = trace_timm("repvgg_a2", img_size=224, batch=1)
    fused = trace_timm("repvgg_a2", img_size=224, batch=1, fused=True)
    assert fused.total_macs == pytest.approx(5.12e9, rel=0.005)
    assert trained.total_macs == pytest.approx(5.7e9, rel=0.005)
    assert fused.meta.get("reparameterized") is True


def test_the_parameter_column_is_optional_and_checked(tmp_path: Path):
    head = "model,infer_img_size,infer_batch_size,infer_step_time,param_count\n"
    path = tmp_path / "t.csv"
    path.write_text(head + "repvgg_a2,224,1024,117.6,25.5\nresnet18,224,1024,74.6,\n")
    rows = read_table(path)
    assert [r.params_m for r in rows] == [25.5, None]
    path.write_text(head + "repvgg_a2,224,1024,117.6,many\n")
    with pytest.raises(TableError, match=r"t.csv:2: the parameter count \(param_count\) must be a number"):
        read_table(path)
    path.write_text("model,infer_img_size,infer_batch_size,infer_step_time\nresnet18,224,1024,74.6\n")
    assert read_table(path)[0].params_m is None
