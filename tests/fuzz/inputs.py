"""Small valid inputs of every format hwmap reads, written without torch (a hand-built two-layer graph), and the
malformed variants the fuzz suite generates from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"

# conv 3->8, 8x8 -> 4x4, 3x3 stride 2 padding 1: 16 pixels x 8 filters x 27 = 3,456 MACs; linear 128 -> 10: 1,280.
TINY_MACS = 3456 + 1280


def tiny_graph() -> dict:
    conv = {"kind": "conv", "batch": 1, "in_channels": 3, "out_channels": 8, "in_spatial": [8, 8],
            "out_spatial": [4, 4], "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1],
            "groups": 1, "transposed": False}
    linear = {"kind": "gemm", "batch": 1, "m": 1, "n": 10, "k": 128}
    return {
        "format": "hwmap.layer_graph", "schema_version": 1, "model": "tiny", "input_shapes": [[1, 3, 8, 8]],
        "params": 216 + 1280, "param_bytes": 4 * (216 + 1280), "buffer_bytes": 0, "capture_mode": "meta",
        "notes": [], "meta": {}, "total_macs": TINY_MACS,
        "nodes": [
            {"op": "aten.convolution.default", "class": "conv.dense", "scope": "conv", "module": "Conv2d",
             "work": conv, "inputs": [[[1, 3, 8, 8], "float32", "input:0"], [[8, 3, 3, 3], "float32", "param:w"]],
             "outputs": [[[1, 8, 4, 4], "float32"]]},
            {"op": "aten.mm.default", "class": "linear", "scope": "fc", "module": "Linear", "work": linear,
             "inputs": [[[1, 128], "float32", "0"], [[128, 10], "float32", "param:fc.w"]],
             "outputs": [[[1, 10], "float32"]]},
        ],
    }


COSTED_CSV = """\
name,energy_mj,latency_ms,accuracy,weight_group,weight_mb
full,10,5,80,a,20
half,5,3,75,a,20
small,2,1,60,b,5
"""

SPACE_YAML = """\
schema_version: 1
base: systolic8x8
axes:
  array.dataflow: [ws, os]
models: [{model: graph.json, name: tiny}]
"""

PATHS_YAML = """\
schema_version: 1
model: resnet18
paths:
  - name: full
  - name: small
    resolution: 160
"""

TRACE_CSV = "# unit: mJ\nbudget\n6\n3\n12\n"

RESULTS_CSV = """\
point_id,model,status,energy_mj,latency_ms,area_mm2
a,tiny,ok,1.5,2.0,0.3
b,tiny,ok,1.0,3.0,0.2
c,tiny,invalid,,,
"""

HF_CONFIG = '{"model_type": "vit", "image_size": 32, "patch_size": 16, "hidden_size": 32, "num_hidden_layers": 1, ' \
    '"num_attention_heads": 2, "intermediate_size": 64}\n'


def write_inputs(folder: Path) -> dict[str, Path]:
    """Every input kind, valid, in ``folder``; returns kind -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "graph": folder / "graph.json", "costed": folder / "costed.csv", "space": folder / "space.yaml",
        "paths": folder / "paths.yaml", "trace": folder / "trace.csv", "topology": folder / "topology.csv",
        "cfg": folder / "config.cfg", "accel": folder / "accel.yaml", "results": folder / "results.csv",
        "hf": folder / "hf_config.json",
    }
    files["results"].write_text(RESULTS_CSV)
    files["calibration"] = folder / "h100_sxm.calibration.yaml"
    shutil.copy(DATA / "gpu" / "h100_sxm.calibration.yaml", files["calibration"])
    files["hf"].write_text(HF_CONFIG)
    files["graph"].write_text(json.dumps(tiny_graph()))
    files["costed"].write_text(COSTED_CSV)
    files["space"].write_text(SPACE_YAML)
    files["paths"].write_text(PATHS_YAML)
    files["trace"].write_text(TRACE_CSV)
    shutil.copy(DATA / "scalesim" / "conv_os_8x32_sram4k" / "topology.csv", files["topology"])
    shutil.copy(DATA / "scalesim" / "conv_os_8x32_sram4k" / "config.cfg", files["cfg"])
    from hwmap.hardware.catalog import find_template

    files["accel"].write_text(find_template("systolic8x8").read_text())
    files["selection"] = folder / "selection.json"
    files["selection"].write_text(json.dumps(selection_data(files["costed"]), indent=2))
    return files


def selection_data(costed_csv: Path) -> dict:
    """What `select-paths costed.csv --budget 6mJ,3mJ,12mJ --out` writes (through the API)."""
    from hwmap.api import select_paths

    return select_paths(str(costed_csv), budgets="6mJ,3mJ,12mJ").to_dict()
