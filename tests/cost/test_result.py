"""GraphCost's naming rule (issue 11 item 3): totals are scalars with the unit in the name, per-layer values live in
the layer table ``cost.layers``, cycles are whole numbers, and template fields read as Accelerator attributes."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

from hwmap.api import estimate, load_accelerator
from hwmap.cost.dispatch import estimate_graph
from hwmap.cost.result import UNIT_ARRAY, GraphCost, LayerCosts, whole_numbers
from hwmap.errors import HwmapError, ResultError
from hwmap.ops.work import Gemm
from tests.conftest import traced
from tests.cost.test_dispatch import _single_layer_graph

TEMPLATES = ["systolic16x16", "magnet16pe_v16", "h100_sxm"]
INT_TOTALS = ("cycles", "compute_cycles", "stall_cycles", "dram_bytes", "macs")
FLOAT_TOTALS = ("latency_ms", "energy_mj", "utilisation", "freq_mhz", "peak_macs_per_cycle")


@pytest.fixture(scope="module", params=TEMPLATES)
def cost(request) -> GraphCost:
    return estimate(traced("resnet18"), request.param)


def _public_values(obj) -> dict[str, object]:
    names = [n for n in dir(obj) if not n.startswith("_")]
    return {n: getattr(obj, n) for n in names if not callable(getattr(obj, n))}


def test_every_public_number_of_a_graph_cost_is_a_scalar(cost):
    values = _public_values(cost)
    assert set(INT_TOTALS) | set(FLOAT_TOTALS) | {"energy_terms_mj", "layers"} <= set(values)
    for name, value in values.items():
        assert not isinstance(value, np.ndarray), f"GraphCost.{name} is an array: per-layer values go in .layers"
        if isinstance(value, dict) and name != "settings":
            assert all(isinstance(v, float) for v in value.values()), name
    for name in INT_TOTALS:  # Python ints, not numpy or float
        assert type(values[name]) is int, (name, type(values[name]))
    for name in FLOAT_TOTALS:
        assert type(values[name]) is float, (name, type(values[name]))


def test_every_per_layer_column_has_one_entry_per_layer(cost):
    table = cost.layers
    n = len(table)
    assert isinstance(table, LayerCosts) and n == len(traced("resnet18").nodes) == len(table.names)
    for name, value in _public_values(table).items():
        if isinstance(value, dict):
            assert name == "energy_terms_pj" and all(np.shape(v) == (n,) for v in value.values())
        else:
            assert len(value) == n, name
    for name in ("compute_cycles", "stall_cycles", "cycles", "dram_bytes", "macs"):
        assert getattr(table, name).dtype == np.int64, name
    assert (table.cycles == table.compute_cycles + table.stall_cycles).all()


def test_totals_are_the_sums_of_the_layer_table(cost):
    t = cost.layers
    assert cost.cycles == int(t.cycles.sum()) == cost.compute_cycles + cost.stall_cycles
    assert (cost.compute_cycles, cost.stall_cycles) == (int(t.compute_cycles.sum()), int(t.stall_cycles.sum()))
    assert (cost.dram_bytes, cost.macs) == (int(t.dram_bytes.sum()), int(t.macs.sum()))
    assert cost.latency_ms == pytest.approx(1e3 * float(t.latency_s.sum()), rel=1e-12)
    assert cost.energy_mj == pytest.approx(float(t.energy_pj.sum()) / 1e9, rel=1e-12)
    assert cost.energy_terms_mj == pytest.approx({k: float(v.sum()) / 1e9 for k, v in t.energy_terms_pj.items()})
    np.testing.assert_allclose(t.energy_pj, sum(t.energy_terms_pj.values()), rtol=1e-12)
    array = np.array([u == UNIT_ARRAY for u in t.units])
    assert cost.utilisation == pytest.approx(t.macs[array].sum() / (cost.peak_macs_per_cycle * t.cycles[array].sum()))
    # the same names in the dict form (--json) and the per-layer frame
    totals = cost.totals_dict()
    for name in (*INT_TOTALS, "latency_ms", "energy_mj", "energy_terms_mj", "utilisation"):
        assert totals[name] == getattr(cost, name), name
    assert not {"total_cycles", "total_macs", "average_utilisation"} & set(totals)
    frame = cost.to_dataframe()
    assert int(frame["cycles"].sum()) == cost.cycles and int(frame["dram_bytes"].sum()) == cost.dram_bytes
    assert frame["latency_s"].sum() * 1e3 == pytest.approx(cost.latency_ms, rel=1e-12)
    assert len(cost.to_records()) == len(t)
    text = repr(cost)
    assert "\n" not in text and len(text) < 200 and f"cycles={cost.cycles:,}," in text


def test_whole_cycles_by_hand_on_a_bandwidth_bound_gemm():
    # GEMM (32 x 16) @ (16 x 16) on systolic16x16 with DRAM at 3 B/cycle: SCALE-Sim ws compute 2*16 + 16 + 32 - 3
    # = 77 cycles; DRAM 512 + 256 + 512 = 1280 B / 3 B per cycle = 426.67 cycles, so the stall is 349.67 cycles,
    # rounded up to 350 (a layer cannot end mid-cycle): 427 cycles, 0.000427 ms at 1000 MHz.
    acc = load_accelerator("systolic16x16").with_overrides({"dram.bw_bytes_per_cycle": 3})
    cost = estimate_graph(_single_layer_graph(Gemm(1, 32, 16, 16)), acc)
    assert (cost.compute_cycles, cost.stall_cycles, cost.cycles, cost.dram_bytes) == (77, 350, 427, 1280)
    assert cost.latency_ms == 427 / 1e6
    # static power 256 * 30 uW + 196608 B * 7.2 nW + 16 lanes * 150 uW + 3 B/cycle * 2000 uW = 17.4955776 mW, i.e.
    # 17.4955776 pJ per cycle, charged for the whole 427 cycles
    assert cost.energy_terms_mj["static"] * 1e9 == pytest.approx(427 * 17.4955776)
    # utilisation: 8192 MACs / (256 MACs per cycle x 427 cycles)
    assert cost.utilisation == pytest.approx(8192 / (256 * 427))


def test_whole_numbers_round_up_but_ignore_float_noise_and_refuse_non_finite_values():
    got = whole_numbers(np.array([0.0, 2.0, 2.25, 100.00000000001, 7.999999999999]), field_name="cycles",
                        names=("a", "b", "c", "d", "e"), what="m on t")
    assert got.dtype == np.int64 and got.tolist() == [0, 2, 3, 100, 8]
    with pytest.raises(ResultError, match=r"m on t: layer c: stall_cycles is inf \(not a finite number\)"):
        whole_numbers(np.array([1.0, 2.0, np.inf]), field_name="stall_cycles", names=("a", "b", "c"), what="m on t")
    with pytest.raises(ResultError, match=r"layer b: dram_bytes is 1e\+30 \(more than 2\^62\)"):
        whole_numbers(np.array([1.0, 1e30]), field_name="dram_bytes", names=("a", "b"), what="m on t")


def test_cycles_beyond_int64_are_an_error_not_a_wrapped_integer():
    # 2^32 x 2^22 int8 inputs = 2^54 B at the slowest DRAM a template may have (0.001 B/cycle): 1.8e19 cycles
    acc = load_accelerator("systolic16x16").with_overrides({"dram.bw_bytes_per_cycle": 0.001})
    with pytest.raises(ResultError, match=r"layer layer:op#0: stall_cycles is 1.80176e\+19 \(more than 2\^62\)"):
        estimate_graph(_single_layer_graph(Gemm(1, 2**32, 1, 2**22)), acc)


def test_breakdown_names_as_the_docs_write_them():
    cost = estimate(traced("resnet18"), "systolic16x16")
    assert cost.shares_by("op_group") == cost.shares_by("op-group") == cost.shares_by()
    assert cost.shares_by("op_class") == cost.shares_by("op-class")
    modules = cost.shares_by("module")
    assert "layer1.0.conv1" in modules and sum(s["cycles"] for s in modules.values()) == pytest.approx(1.0)
    with pytest.raises(HwmapError, match="expected op-group, op-class or module"):
        cost.shares_by("opgroup")


def test_cli_json_uses_the_attribute_names(run_cli):
    code, out, err = run_cli("estimate", "resnet18", "--accel", "systolic8x8", "--json")
    assert code == 0, err
    data = json.loads(out)
    cost = estimate(traced("resnet18"), "systolic8x8")
    for name in (*INT_TOTALS, "latency_ms", "energy_mj", "utilisation"):
        assert data[name] == getattr(cost, name), name
    assert isinstance(data["cycles"], int) and "total_cycles" not in data and "average_utilisation" not in data


# ------------------------------------------------------------------------------------------------ Accelerator


@pytest.mark.parametrize(("name", "field", "value"), [
    ("systolic16x16", "array.rows", 16),
    ("systolic16x16", "buffers.ifmap.size_bytes", 65536),
    ("magnet16pe_v16", "pe_array.vector_width", 16),
    ("h100_sxm", "sm_count", 132),
])
def test_template_fields_read_as_accelerator_attributes(name, field, value):
    acc = load_accelerator(name)
    got = acc
    for part in field.split("."):
        got = getattr(got, part)
    assert got == value
    top = field.split(".")[0]
    assert getattr(acc, top) is getattr(acc.spec, top)


def test_an_unknown_attribute_names_the_template_and_lists_its_fields():
    acc = load_accelerator("systolic16x16")
    with pytest.raises(AttributeError, match=r"accelerator 'systolic16x16' \(kind 'systolic'\) has no field "
                                             r"'pe_array'; its template fields: .*\barray\b.*\bbuffers\b"):
        acc.pe_array  # noqa: B018
    assert not hasattr(acc, "rows") and getattr(acc, "rows", None) is None


def test_accelerators_pickle_and_copy_with_attribute_access():
    # sweeps pickle accelerators to worker processes
    for acc in (load_accelerator("systolic16x16").with_overrides({"array.rows": 32}), load_accelerator("h100_sxm")):
        back = pickle.loads(pickle.dumps(acc))
        assert back == acc and back.name == acc.name and back.kind == acc.kind
        assert copy.deepcopy(acc) == acc and copy.copy(acc) == acc
    assert pickle.loads(pickle.dumps(load_accelerator("systolic16x16").with_overrides({"array.rows": 32}))).array.rows \
        == 32
