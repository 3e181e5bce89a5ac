"""ZigZag 3.9.1 export: workload dimensions, hardware values, and ZigZag's own validators when they are at hand.

ZigZag is not an hwmap dependency. The validator tests run ZigZag's parsers (validators and factories) in
benchmarks/.zigzag-venv (created by benchmarks/bench_zigzag.py) or in this interpreter when zigzag is importable,
and skip otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwmap.api import load_accelerator
from hwmap.errors import HwmapError
from hwmap.interop.zigzag import (
    hardware_yaml,
    mapping_yaml,
    write_zigzag_hardware,
    write_zigzag_workload,
    zigzag_hardware_view,
    zigzag_layers,
)
from tests.conftest import traced

ZIGZAG_VENV_PYTHON = Path(__file__).resolve().parents[2] / "benchmarks" / ".zigzag-venv" / "bin" / "python"


@pytest.fixture(scope="module")
def resnet50_layers():
    layers, notes = zigzag_layers(traced("resnet50"), input_bits=8, weight_bits=8, output_bits=32)
    return {layer.node_name.split(":")[0]: layer for layer in layers}, notes


def _dims(layer) -> dict[str, int]:
    return dict(zip(layer.entry["loop_dims"], layer.entry["loop_sizes"], strict=True))


def test_resnet50_has_54_conv_fc_layers_and_all_macs(resnet50_layers):
    layers, notes = resnet50_layers
    assert len(layers) == 54 and notes == []
    # the 7-deep nest gives the MACs of every layer: B*G*K*C*OY*OX*FY*FX (linear: D*C*K)
    total = 0
    for layer in layers.values():
        dims = _dims(layer)
        macs = 1
        for size in dims.values():
            macs *= size
        assert macs == layer.macs
        total += macs
    assert total == traced("resnet50").total_macs == 4_089_184_256


def test_resnet50_layer_dimensions_by_hand(resnet50_layers):
    layers, _ = resnet50_layers
    # conv1: 3 -> 64 channels, 7x7 stride 2 pad 3 on 224x224 -> 112x112; the last window spans
    # (112-1)*2 + 7 = 229 input positions = 3 (front padding) + 224 + 2, so 2 rows/columns of end padding.
    conv1 = layers["conv1"]
    assert _dims(conv1) == {"B": 1, "G": 1, "K": 64, "C": 3, "OY": 112, "OX": 112, "FY": 7, "FX": 7}
    assert conv1.entry["dimension_relations"] == ["ix=2*ox+1*fx", "iy=2*oy+1*fy"]
    assert conv1.entry["pr_loop_sizes"] == [224, 224]
    assert conv1.entry["padding"] == [[3, 2], [3, 2]]
    # layer2.0.conv2 (torchvision v1.5: the stride sits on the 3x3): 128 -> 128, 56x56 -> 28x28, pad 1;
    # span (28-1)*2 + 3 = 57 = 1 + 56 + 0: no end padding.
    conv = layers["layer2.0.conv2"]
    assert _dims(conv) == {"B": 1, "G": 1, "K": 128, "C": 128, "OY": 28, "OX": 28, "FY": 3, "FX": 3}
    assert conv.entry["padding"] == [[1, 0], [1, 0]] and conv.entry["pr_loop_sizes"] == [56, 56]
    # layer4.2.conv3: 1x1, 512 -> 2048 at 7x7
    conv = layers["layer4.2.conv3"]
    assert _dims(conv) == {"B": 1, "G": 1, "K": 2048, "C": 512, "OY": 7, "OX": 7, "FY": 1, "FX": 1}
    assert conv.entry["padding"] == [[0, 0], [0, 0]]
    # downsample of layer3: 1x1 stride 2, 512 -> 1024, 28x28 -> 14x14
    conv = layers["layer3.0.downsample.0"]
    assert _dims(conv) == {"B": 1, "G": 1, "K": 1024, "C": 512, "OY": 14, "OX": 14, "FY": 1, "FX": 1}
    assert conv.entry["dimension_relations"][0] == "ix=2*ox+1*fx"
    # fc: a GEMM of 1 row, 2048 -> 1000, constant weights
    fc = layers["fc"]
    assert fc.form == "gemm" and _dims(fc) == {"D": 1, "C": 2048, "K": 1000}
    assert fc.entry["equation"] == "O[d][k]+=I[d][c]*W[c][k]"
    assert fc.entry["operand_precision"] == {"I": 8, "W": 8, "O": 32, "O_final": 8}
    # 24 distinct problems among the 54 layers (repeated bottleneck blocks)
    assert len({layer.shape_key for layer in layers.values()}) == 24


def test_grouped_depthwise_dilated_convs_and_batched_matmul():
    torch = pytest.importorskip("torch")
    from torch import nn

    from hwmap.api import extract_graph

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.grouped = nn.Conv2d(16, 32, 3, stride=1, padding=1, groups=4)
            self.dw = nn.Conv2d(32, 32, (3, 5), stride=(2, 1), padding=(2, 4), dilation=(2, 2), groups=32)
            self.proj = nn.Linear(20, 24)

        def forward(self, x):
            y = self.dw(self.grouped(x))  # 32 x 20 x 20 -> dw: 32 x 10 x 20
            tokens = y.flatten(2).transpose(1, 2)  # (1, 200, 32)
            q = tokens[..., :20]
            attn = torch.matmul(q.reshape(1, 200, 4, 5).transpose(1, 2), q.reshape(1, 200, 4, 5).permute(0, 2, 3, 1))
            return self.proj(q), attn

    graph = extract_graph(Net(), input_shape=(16, 20, 20))
    layers, notes = zigzag_layers(graph)
    assert notes == ["operand widths from the traced graph's dtypes: 32-bit inputs and 32-bit weights; give a "
                     "template (--accel, accel=) to use its operand bits instead"]  # and no conv left out
    by_scope = {layer.node_name.split(":")[0]: layer for layer in layers}
    grouped = by_scope["grouped"]
    assert _dims(grouped) == {"B": 1, "G": 4, "K": 8, "C": 4, "OY": 20, "OX": 20, "FY": 3, "FX": 3}
    assert grouped.form == "conv"
    dw = by_scope["dw"]
    # H: out (20 + 2*2 - 2*(3-1) - 1)//2 + 1 = 10, span (10-1)*2 + 2*2 + 1 = 23 = 2 + 20 + 1 -> end padding 1
    # W: out (20 + 2*4 - 2*(5-1) - 1)//1 + 1 = 20, span 19 + 8 + 1 = 28 = 4 + 20 + 4 -> end padding 4
    assert dw.form == "depthwise"
    assert _dims(dw) == {"B": 1, "G": 32, "K": 1, "C": 1, "OY": 10, "OX": 20, "FY": 3, "FX": 5}
    assert dw.entry["dimension_relations"] == ["ix=1*ox+2*fx", "iy=2*oy+2*fy"]
    assert dw.entry["padding"] == [[2, 1], [4, 4]]
    # fp32 graph: 32-bit operands and accumulators
    assert dw.entry["operand_precision"] == {"I": 32, "W": 32, "O": 32, "O_final": 32}
    gemms = [layer for layer in layers if layer.form == "gemm"]
    matmul = next(g for g in gemms if "B" in g.entry["loop_dims"])
    # (1, 4, 200, 5) @ (1, 4, 5, 200): 4 heads of 200x5 @ 5x200, both operands activations
    assert _dims(matmul) == {"D": 200, "C": 5, "K": 200, "B": 4}
    assert matmul.entry["equation"] == "O[b][d][k]+=I[b][d][c]*W[b][c][k]"
    linear = next(g for g in gemms if "B" not in g.entry["loop_dims"])
    assert _dims(linear) == {"D": 200, "C": 20, "K": 24}


def test_systolic_hardware_values():
    hw = hardware_yaml(zigzag_hardware_view(load_accelerator("systolic16x16")))
    mems = hw["memories"]
    # ws: the weight and the accumulator sit in PE registers (0 pJ), then three 64 KiB SRAMs, then DRAM
    assert list(mems) == ["reg_I2", "reg_O", "ifmap_sram", "filter_sram", "ofmap_sram", "dram"]
    # 64 KiB, double-buffered: a tile may use half, 32 KiB, as in hwmap's mapper
    assert mems["ifmap_sram"]["size"] == 32768 * 8 and mems["ifmap_sram"]["operands"] == ["I1"]
    # r_cost is per access of bandwidth_max bits: 3.449 pJ/B * (256 PEs * 8 bit) / 8 = 882.944 pJ
    port = mems["ifmap_sram"]["ports"][0]
    assert port["bandwidth_max"] == 2048 and port["bandwidth_min"] == 8
    assert mems["ifmap_sram"]["r_cost"] == pytest.approx(882.944)
    # ofmap holds 32-bit partial sums: 256 * 32 bit = 8192 bit per access, 3.449 * 1024 = 3531.776 pJ
    assert mems["ofmap_sram"]["r_cost"] == pytest.approx(3531.78, abs=0.01)
    # DRAM: 16 B/cycle = 128 bit, 162.5 pJ/B * 16 = 2600 pJ per access, one read/write port
    assert mems["dram"]["r_cost"] == pytest.approx(2600.0)
    assert [p["type"] for p in mems["dram"]["ports"]] == ["read_write"]
    assert mems["dram"]["served_dimensions"] == ["D1", "D2"]
    assert hw["operational_array"] == {"unit_energy": 0.3, "unit_area": 1.0, "dimensions": ["D1", "D2"],
                                       "sizes": [16, 16], "systolic_dimensions": ["D1", "D2"]}
    mapping = {entry["name"]: entry["spatial_mapping"] for entry in
               mapping_yaml(zigzag_hardware_view(load_accelerator("systolic16x16")))}
    assert mapping["Conv"] == {"D1": ["C, 16"], "D2": ["K, 16"]}  # ws: reduction on rows, filters on columns


def test_output_stationary_and_vector_pe_hierarchies():
    os_acc = load_accelerator("systolic16x16").with_overrides({"array.dataflow": "os"})
    os_hw = zigzag_hardware_view(os_acc)
    assert [m.name for m in os_hw.memories][:2] == ["reg_O", "ifmap_sram"]  # only the output is stationary
    assert os_hw.spatial["gemm"] == {"D1": "D", "D2": "K"}
    vec = zigzag_hardware_view(load_accelerator("magnet16pe_v16"))
    assert vec.sizes == (16, 16, 16)
    names = {m.name: m for m in vec.memories}
    assert names["pe_weight"].size_bytes == 65536 and names["pe_weight"].served_dimensions == ("D2", "D3")
    assert names["pe_accumulation"].operands == ("O",) and names["pe_accumulation"].size_bytes == 6144
    # the 128 KiB global buffer is double-buffered: a tile may use 64 KiB
    assert names["global_buffer"].operands == ("I1", "I2", "O") and names["global_buffer"].size_bytes == 65536
    assert names["dram"].bw_bytes_per_cycle == 64
    doc = hardware_yaml(vec)
    # global buffer: 4.759 pJ/B at 16*16*16 MACs * 8 bit = 32768 bit per access -> 4.759 * 4096 = 19492.9 pJ
    assert doc["memories"]["global_buffer"]["r_cost"] == pytest.approx(4.759 * 4096, rel=1e-5)


def test_gpu_template_and_missing_folder_are_clear_errors(tmp_path):
    with pytest.raises(HwmapError, match="systolic and vector_pe"):
        zigzag_hardware_view(load_accelerator("a100_sxm"))
    with pytest.raises(HwmapError, match="expected the hardware .yaml file to write .* or an existing folder"):
        write_zigzag_hardware(load_accelerator("systolic16x16"), tmp_path / "missing")
    with pytest.raises(HwmapError, match="folder .*nowhere does not exist"):
        write_zigzag_hardware(load_accelerator("systolic16x16"), tmp_path / "nowhere" / "x.yaml")


def test_cli_writes_all_files(run_cli, tmp_path):
    code, out, err = run_cli("accels", "export", "magnet16pe_v16", "--format", "zigzag", "--out", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "magnet16pe_v16.hardware.yaml").exists() and (tmp_path / "magnet16pe_v16.mapping.yaml").exists()
    # --out a file, as every other command's: the mapping goes beside it, and the output is the folder's twin
    code, out, err = run_cli("accels", "export", "magnet16pe_v16", "--out", str(tmp_path / "m16.hardware.yaml"))
    assert code == 0, err
    assert (tmp_path / "m16.hardware.yaml").read_text() == (tmp_path / "magnet16pe_v16.hardware.yaml").read_text()
    assert (tmp_path / "m16.mapping.yaml").read_text() == (tmp_path / "magnet16pe_v16.mapping.yaml").read_text()
    code, out, err = run_cli("export", "resnet18", "--format", "zigzag", "--accel", "systolic16x16",
                             "--out", str(tmp_path / "r18.yaml"))
    assert code == 0, err
    entries = yaml.safe_load((tmp_path / "r18.yaml").read_text())
    assert len(entries) == 21  # 20 convs + fc
    assert [e["id"] for e in entries] == list(range(21))
    code, out, err = run_cli("export", "resnet18", "--accel", "systolic16x16", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "--accel" in err and not (tmp_path / "x.csv").exists()


VALIDATE = r"""
import json, sys, yaml, logging
logging.disable(logging.CRITICAL)
from zigzag.parser.accelerator_validator import AcceleratorValidator
from zigzag.parser.accelerator_factory import AcceleratorFactory
from zigzag.parser.mapping_validator import MappingValidator
from zigzag.parser.workload_validator import WorkloadValidator
from zigzag.parser.workload_factory import WorkloadFactory
workload, hardware, mapping = (yaml.safe_load(open(p)) for p in sys.argv[1:4])
out = {}
v = AcceleratorValidator(hardware); out["hardware_valid"] = v.validate()
acc = AcceleratorFactory(v.normalized_data).create()
out["levels"] = {str(op): [m.name for m in acc.memory_hierarchy.get_memory_levels(op)]
                 for op in acc.memory_hierarchy.operands}
m = MappingValidator(mapping); out["mapping_valid"] = m.validate()
w = WorkloadValidator(workload); out["workload_valid"] = w.validate()
dnn = WorkloadFactory(w.normalized_data, m.normalized_data).create()
out["macs"] = [int(node.total_mac_count) for node in dnn.topological_sort()]
print(json.dumps(out))
"""


def _zigzag_python() -> str | None:
    try:
        import zigzag  # noqa: F401
    except ImportError:
        return str(ZIGZAG_VENV_PYTHON) if ZIGZAG_VENV_PYTHON.exists() else None
    return sys.executable


@pytest.mark.parametrize("accel", ["systolic16x16", "systolic16x16:os", "systolic16x16:is", "magnet16pe_v16"])
def test_zigzag_own_validators_accept_the_files(tmp_path, accel):
    python = _zigzag_python()
    if python is None:
        pytest.skip("ZigZag 3.9.1 not installed (run benchmarks/bench_zigzag.py --tiny to create its venv)")
    graph = traced("resnet18")
    name, _, dataflow = accel.partition(":")
    acc = load_accelerator(name)
    if dataflow:
        acc = acc.with_overrides({"array.dataflow": dataflow})
    hw = zigzag_hardware_view(acc)
    workload = tmp_path / "w.yaml"
    write_zigzag_workload(graph, workload, input_bits=hw.input_bits, weight_bits=hw.weight_bits,
                          output_bits=hw.output_bits)
    hardware, mapping = write_zigzag_hardware(acc, tmp_path).paths
    done = subprocess.run([python, "-c", VALIDATE, str(workload), hardware, mapping], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hardware_valid"] and result["mapping_valid"] and result["workload_valid"]
    # ZigZag's own MAC count of every layer equals hwmap's
    layers, _ = zigzag_layers(graph)
    assert result["macs"] == [layer.macs for layer in layers]
    assert sum(result["macs"]) == graph.total_macs
    if accel == "systolic16x16":
        assert result["levels"]["I2"] == ["reg_I2", "filter_sram", "dram"]
        assert result["levels"]["O"] == ["reg_O", "ofmap_sram", "dram"]
    elif dataflow == "os":  # only the output is stationary in the PE
        assert result["levels"]["I2"] == ["filter_sram", "dram"] and result["levels"]["I1"] == ["ifmap_sram", "dram"]
    elif dataflow == "is":
        assert result["levels"]["I1"] == ["reg_I1", "ifmap_sram", "dram"]
    else:
        assert result["levels"]["I2"] == ["reg_W", "pe_weight", "global_buffer", "dram"]
        assert result["levels"]["I1"] == ["pe_input", "global_buffer", "dram"]


def test_int4_template_prices_half_byte_words():
    acc = load_accelerator("systolic16x16").with_overrides(
        {"operand_bits.input": 4, "operand_bits.weight": 4, "technology.precision": "int4"})
    hw = zigzag_hardware_view(acc)
    mems = hardware_yaml(hw)["memories"]
    # a 4-bit weight register; accesses counted in 4-bit units so a nibble is not rounded up to a byte
    assert mems["reg_I2"]["size"] == 4
    port = mems["ifmap_sram"]["ports"][0]
    assert port["bandwidth_min"] == 4 and port["bandwidth_max"] == 256 * 4
    # 3.449 pJ/B * 1024 bit / 8 = 441.472 pJ per access: still 3.449 pJ per byte moved
    assert mems["ifmap_sram"]["r_cost"] == pytest.approx(441.472)
    layers, _ = zigzag_layers(traced("resnet18"), input_bits=hw.input_bits, weight_bits=hw.weight_bits,
                              output_bits=hw.output_bits)
    assert layers[0].entry["operand_precision"] == {"I": 4, "W": 4, "O": 32, "O_final": 4}
