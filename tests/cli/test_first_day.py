"""What a new user's first day ran into, each fixed or answered in the output itself: the full model list, cache
entries told apart, accels export --out as a file, 1x1-conv tiles in the user's terms, ZigZag operand widths,
SCALE-Sim cycles to compare, and a one-line print(graph)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwmap.api

ROOT = Path(__file__).resolve().parents[2]


def test_models_top_zero_lists_every_name(run_cli):
    code, cut, _ = run_cli("models")
    assert code == 0 and "..." in cut and "hwmap models --top 0" in cut
    code, full, _ = run_cli("models", "--top", "0")
    assert code == 0 and "..." not in full
    timm_line = next(line for line in full.splitlines() if line.startswith("timm ("))
    count = int(timm_line.split("(")[1].split(")")[0])
    assert len(timm_line.split(": ", 1)[1].split(", ")) == count > 1000


def test_cache_info_tells_graphs_of_one_model_apart(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for extra in ([], ["--batch", "2"], ["--resolution", "160"], ["--num-classes", "10"]):
        assert run_cli("flops", "resnet18", *extra)[0] == 0
    code, out, _ = run_cli("cache", "info")
    assert code == 0
    for shown in ("resnet18 1x3x224x224 -> 1x1000, 11.69 M params", "resnet18 2x3x224x224 -> 2x1000",
                  "resnet18 1x3x160x160 -> 1x1000", "resnet18 1x3x224x224 -> 1x10, 11.18 M params"):
        assert shown in out
    code, out, _ = run_cli("cache", "info", "--json")
    rows = json.loads(out)["graphs"]["files"]
    assert sorted((tuple(r["input_shape"]), tuple(r["output_shape"])) for r in rows) == [
        ((1, 3, 160, 160), (1, 1000)), ((1, 3, 224, 224), (1, 10)), ((1, 3, 224, 224), (1, 1000)),
        ((2, 3, 224, 224), (2, 1000))]


def test_accels_export_out_is_a_file_like_every_other_out(run_cli, tmp_path):
    code, out, err = run_cli("accels", "export", "systolic16x16", "--out", str(tmp_path / "s16.yaml"))
    assert code == 0, err
    assert (tmp_path / "s16.yaml").is_file() and (tmp_path / "s16.mapping.yaml").is_file()
    assert f"wrote {tmp_path / 's16.mapping.yaml'}" in out
    code, _, err = run_cli("accels", "export", "systolic16x16", "--out", str(tmp_path / "s16.txt"))
    assert code == 2 and "--out " in err and "expected the hardware .yaml file to write" in err


def test_map_shows_one_by_one_conv_tiles_as_output_pixels(run_cli):
    code, out, err = run_cli("map", "resnet50", "-a", "systolic16x16", "--layer", "layer1.0.conv[12]")
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "layer1.0.conv" in line}
    # conv1 is 1x1 on 56x56: costed as a GEMM with 3136 rows; its pixel tile is NPQ, not a 'P126' taller than 56
    assert "NPQ" in rows["layer1.0.conv1"] and " P" not in rows["layer1.0.conv1"].split("│")[3]
    assert "P28" in rows["layer1.0.conv2"] and "NPQ" not in rows["layer1.0.conv2"]
    assert "NPQ counts output pixels of all images" in " ".join(out.split())


def test_zigzag_export_says_which_operand_widths_it_used(run_cli, tmp_path):
    code, out, _ = run_cli("export", "resnet18", "--format", "zigzag", "--out", str(tmp_path / "w.yaml"))
    assert code == 0 and "operand widths from the traced graph's dtypes: 32-bit inputs and 32-bit weights" in out
    code, out, _ = run_cli("export", "resnet18", "--format", "zigzag", "--out", str(tmp_path / "w.yaml"), "-a",
                           "systolic16x16")
    assert code == 0 and "operand widths" not in out


def test_scalesim_cfg_estimate_says_what_to_compare():
    config = ROOT / "tests" / "data" / "scalesim" / "conv_ws_32x8_sram2k" / "config.cfg"
    from hwmap.cli.cost_commands import scalesim_cycles_note

    cost = hwmap.api.estimate("resnet18", str(config))
    note = scalesim_cycles_note(cost)
    assert f"{cost.compute_cycles:,} compute cycles" in note and f"{cost.stall_cycles:,} stall cycles" in note
    assert cost.cycles == cost.compute_cycles + cost.stall_cycles


def test_cli_prints_the_scalesim_note(run_cli):
    config = ROOT / "tests" / "data" / "scalesim" / "conv_ws_32x8_sram2k" / "config.cfg"
    code, out, _ = run_cli("estimate", "resnet18", "-a", str(config))
    assert code == 0 and "SCALE-Sim's CALC mode models no DRAM stalls" in " ".join(out.split())


def test_print_graph_is_one_line():
    graph = hwmap.api.extract_graph("resnet18")
    assert repr(graph) == ("LayerGraph('resnet18', input 1x3x224x224, 90 nodes, 1,814,073,344 MACs, "
                           "11,689,512 params)")
    assert str(graph) == repr(graph)


@pytest.mark.parametrize("argv", [["estimate", "resnet18", "-a", "systolic8x8"], ["flops", "resnet18"]])
def test_first_commands_end_their_output_with_a_newline(run_cli, argv):
    code, out, _ = run_cli(*argv)
    assert code == 0 and out.endswith("\n")
