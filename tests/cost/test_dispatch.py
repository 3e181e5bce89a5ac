"""Cost-model contracts: every template estimates, invariants hold, the CLI reports the op-class contrast."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmap.api import estimate, load_accelerator
from hwmap.cost.dispatch import estimate_graph
from hwmap.cost.result import UNIT_ARRAY
from hwmap.graph.ir import LayerGraph, Node
from hwmap.hardware.catalog import list_accelerators
from hwmap.ops.classes import OpClass
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Conv, Gemm
from tests.conftest import traced

SCALESIM = Path(__file__).parents[1] / "data" / "scalesim"
CNN_TEMPLATES = [name for name in list_accelerators() if load_accelerator(name).kind in ("systolic", "vector_pe")]


def _single_layer_graph(work, op_class=OpClass.LINEAR) -> LayerGraph:
    gemm = work.gemm if isinstance(work, Conv) else work
    inputs = (TensorMeta((gemm.batch, gemm.m, gemm.k), "float32", "input:0"),
              TensorMeta((gemm.k, gemm.n), "float32", "param:w"))
    outputs = (TensorMeta((gemm.batch, gemm.m, gemm.n), "float32", "0"),)
    node = Node(0, "test.op", work, op_class, "layer", "Test", inputs, outputs)
    return LayerGraph("one-layer", ((1,),), (node,), params=gemm.k * gemm.n, param_bytes=0, buffer_bytes=0)


@pytest.mark.parametrize("name", CNN_TEMPLATES)
def test_every_template_estimates_a_small_model(name):
    cost = estimate(traced("resnet18"), name)
    assert cost.macs == 1_814_073_344
    assert cost.cycles >= cost.macs / load_accelerator(name).peak_macs_per_cycle
    assert 0 < cost.utilisation <= 1
    assert cost.energy_mj > 0 and all(v >= 0 for v in cost.energy_terms_mj.values())
    assert {"mac", "dram", "static", "vector"} <= set(cost.energy_terms_mj)
    frame = cost.to_dataframe()
    assert len(frame) == len(traced("resnet18").nodes)
    assert frame["energy_pj"].sum() == pytest.approx(cost.energy_mj * 1e9)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_dataflow_override(dataflow):
    cost = estimate(traced("resnet18"), "systolic16x16", dataflow=dataflow)
    assert cost.settings["dataflow"] == dataflow


def test_scalesim_reference_totals_through_estimate():
    # SCALE-Sim 3.0.0 totals for ResNet-50 (shared/reference/scalesim/README.md)
    topology = SCALESIM / "resnet50_32x32_ws" / "topology.csv"
    ws = estimate(topology, SCALESIM / "resnet50_32x32_ws" / "config.cfg")
    os_ = estimate(topology, SCALESIM / "resnet50_16x16_os" / "config.cfg")
    assert ws.compute_cycles == 6_349_206
    assert os_.compute_cycles == 18_627_324


def test_traced_resnet50_gets_scalesim_cycles_on_the_same_array():
    # hwmap's own trace of ResNet-50 lowers to the same GEMMs as the reference topology
    cfg = load_accelerator(SCALESIM / "resnet50_32x32_ws" / "config.cfg")
    cost = estimate(traced("resnet50"), cfg)
    assert cost.layers.compute_cycles[[u == UNIT_ARRAY for u in cost.layers.units]].sum() == 6_349_206


def test_depthwise_conv_runs_one_gemm_per_group():
    conv = Conv(batch=1, in_channels=64, out_channels=64, in_spatial=(16, 16), out_spatial=(16, 16),
                kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=64)
    one_group = Conv(batch=1, in_channels=1, out_channels=1, in_spatial=(16, 16), out_spatial=(16, 16),
                     kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    acc = load_accelerator("systolic16x16")
    many = estimate_graph(_single_layer_graph(conv, OpClass.CONV_DEPTHWISE), acc)
    one = estimate_graph(_single_layer_graph(one_group, OpClass.CONV_DENSE), acc)
    assert many.layers.compute_cycles[0] == 64 * one.layers.compute_cycles[0]
    # ws: 9 taps on 9 of 16 rows and one filter on 1 of 16 columns: utilisation far below 1/16
    assert many.layers.utilisation[0] < 1 / 16


gemm_dims = st.tuples(st.integers(1, 4), st.integers(1, 300), st.integers(1, 300), st.integers(1, 300))


@settings(max_examples=40, deadline=None)
@given(dims=gemm_dims, name=st.sampled_from(CNN_TEMPLATES), dataflow=st.sampled_from(["ws", "os", "is"]))
def test_invariants(dims, name, dataflow):
    batch, m, n, k = dims
    acc = load_accelerator(name)
    flow = dataflow if acc.kind == "systolic" else None
    cost = estimate_graph(_single_layer_graph(Gemm(batch, m, n, k)), acc, dataflow=flow)
    assert cost.cycles >= batch * m * n * k / acc.peak_macs_per_cycle
    assert 0 < cost.layers.utilisation[0] <= 1
    doubled = estimate_graph(_single_layer_graph(Gemm(2 * batch, m, n, k)), acc, dataflow=flow)
    assert doubled.cycles >= cost.cycles
    assert doubled.energy_mj >= cost.energy_mj


@settings(max_examples=25, deadline=None)
@given(dims=gemm_dims, coefficient=st.sampled_from(["mac_energy_pj", "dram.energy_pj_per_byte",
                                                     "vector_unit.op_energy_pj", "leakage.mac_uw",
                                                     "leakage.dram_interface_uw_per_byte_per_cycle"]))
def test_energy_grows_with_each_coefficient(dims, coefficient):
    acc = load_accelerator("systolic16x16")
    graph = _single_layer_graph(Gemm(*dims))
    base = estimate_graph(graph, acc).energy_mj
    value = acc.template_dict()
    for key in coefficient.split("."):
        value = value[key]
    bigger = estimate_graph(graph, acc.with_overrides({coefficient: value * 2})).energy_mj
    assert bigger >= base


def test_pointwise_conv_costs_the_same_as_the_equivalent_linear():
    conv = Conv(batch=1, in_channels=96, out_channels=160, in_spatial=(14, 14), out_spatial=(14, 14),
                kernel=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)
    linear = Gemm(batch=1, m=14 * 14, n=160, k=96)
    for name in ("systolic16x16", "magnet16pe_v16"):
        acc = load_accelerator(name)
        a = estimate_graph(_single_layer_graph(conv, OpClass.CONV_POINTWISE), acc)
        b = estimate_graph(_single_layer_graph(linear), acc)
        assert a.cycles == b.cycles
        np.testing.assert_allclose(a.energy_mj, b.energy_mj)


@pytest.mark.parametrize("accel", ["systolic16x16", "magnet16pe_v16"])
def test_cli_estimate_segformer_reports_class_shares(run_cli, accel):
    code, out, err = run_cli("estimate", "segformer-b2", "--accel", accel, "--json", "--by", "op-group")
    assert code == 0, err
    data = json.loads(out)
    shares = data["shares_by_op_group"]
    for group in ("attention", "conv", "linear"):
        assert 0 < shares[group]["cycles"] < 1 and 0 < shares[group]["energy"] < 1
    assert shares["conv"]["macs"] == pytest.approx(0.692, abs=0.001)
    assert data["latency_ms"] == pytest.approx(data["cycles"] / 1e6)  # 1000 MHz


def test_cli_estimate_layer_csv(run_cli, tmp_path):
    out = tmp_path / "layers.csv"
    code, text, err = run_cli("estimate", "resnet18", "--accel", "systolic8x8", "--by", "layer", "--csv", str(out))
    assert code == 0, err
    assert "top 20 layers by energy" in text
    assert out.read_text().splitlines()[0].startswith("layer,op_class,module,unit,macs,gemm_batch")


def test_unknown_template_lists_known_ones(run_cli):
    code, _, err = run_cli("estimate", "resnet18", "--accel", "systolic16")
    assert code == 2
    assert "systolic16x16" in err and len(err.strip().splitlines()) == 1


def test_bad_template_file_names_file_and_field(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    template = Path(__file__).parents[2] / "accelerators" / "systolic16x16.yaml"
    bad.write_text(template.read_text().replace("size_bytes: 65536", "size_bytes: -5", 1))
    code, _, err = run_cli("estimate", "resnet18", "--accel", str(bad))
    assert code == 2
    assert "bad.yaml" in err and "buffers.ifmap.size_bytes" in err


def test_dataflow_on_a_vector_pe_template_is_an_error(run_cli):
    code, _, err = run_cli("estimate", "resnet18", "--accel", "magnet16pe_v8", "--dataflow", "os")
    assert code == 2 and "applies to systolic templates" in err


def test_accels_commands(run_cli):
    code, out, _ = run_cli("accels", "list", "--json")
    assert code == 0 and {"systolic16x16", "magnet16pe_v16"} <= {t["name"] for t in json.loads(out)}
    code, out, _ = run_cli("accels", "show", "systolic32x32")
    assert code == 0 and "rows: 32" in out
    code, out, _ = run_cli("accels", "validate", "systolic8x8", "magnet16pe_v32")
    assert code == 0 and out.count("valid") == 2


def test_graph_cost_repr_is_one_line_of_totals_and_breakdown_names_take_underscores():
    from hwmap.errors import HwmapError

    cost = estimate(traced("resnet18"), "systolic16x16")
    text = repr(cost)
    assert "\n" not in text and len(text) < 200
    assert text.startswith("GraphCost(model='resnet18', accelerator='systolic16x16', layers=")
    assert f"cycles={cost.cycles:,}" in text
    assert cost.shares_by("op_group") == cost.shares_by("op-group")
    assert cost.shares_by("op_class") == cost.shares_by("op-class")
    with pytest.raises(HwmapError, match="unknown breakdown 'layer'"):
        cost.shares_by("layer")
