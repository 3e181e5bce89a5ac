"""hwmap.cost.systolic against SCALE-Sim 3.0.0's own reports, plus invariants and the file readers.

Every folder of tests/data/scalesim holds config.cfg + topology.csv + SCALE-Sim's report CSVs (see its README):
the two ResNet-50 references and small cases covering all dataflows, non-square arrays, GEMM topologies, small
SRAMs (DRAM refills), OFMAP drain edge cases and windows hanging off the map.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmap.cost.systolic import ConvGeometry, _skew_diagonal_of, systolic_costs
from hwmap.errors import HwmapError, TemplateError
from hwmap.interop.scalesim import read_config, read_report, read_topology, scalesim_costs

DATA = Path(__file__).resolve().parent.parent / "data" / "scalesim"
CASES = sorted(p.name for p in DATA.iterdir() if (p / "config.cfg").is_file())

# SCALE-Sim column -> SystolicCosts field; equal exactly on every layer of every case.
EXACT_COLUMNS = {
    "Total Cycles (incl. prefetch)": "total_cycles_incl_prefetch",
    "Total Cycles": "compute_cycles",
    "Stall Cycles": "stall_cycles",
    "SRAM IFMAP Start Cycle": "ifmap_sram_start_cycle",
    "SRAM IFMAP Stop Cycle": "ifmap_sram_stop_cycle",
    "SRAM IFMAP Reads": "ifmap_sram_reads_words",
    "SRAM Filter Start Cycle": "filter_sram_start_cycle",
    "SRAM Filter Stop Cycle": "filter_sram_stop_cycle",
    "SRAM Filter Reads": "filter_sram_reads_words",
    "SRAM OFMAP Start Cycle": "ofmap_sram_start_cycle",
    "SRAM OFMAP Stop Cycle": "ofmap_sram_stop_cycle",
    "SRAM OFMAP Writes": "ofmap_sram_writes_words",
    "DRAM IFMAP Start Cycle": "ifmap_dram_start_cycle",
    "DRAM Filter Start Cycle": "filter_dram_start_cycle",
    "DRAM OFMAP Start Cycle": "ofmap_dram_start_cycle",
    "DRAM OFMAP Stop Cycle": "ofmap_dram_stop_cycle",
    "DRAM OFMAP Writes": "ofmap_dram_writes_words",
}
# Equal exactly where the model flags them exact (<field>_exact); estimates elsewhere.
MASKED_COLUMNS = {
    "DRAM IFMAP Stop Cycle": ("ifmap_dram_stop_cycle", "ifmap_dram_exact"),
    "DRAM IFMAP Reads": ("ifmap_dram_reads_words", "ifmap_dram_exact"),
    "DRAM Filter Stop Cycle": ("filter_dram_stop_cycle", "filter_dram_exact"),
    "DRAM Filter Reads": ("filter_dram_reads_words", "filter_dram_exact"),
}
# Floats: SCALE-Sim averages per-fold ratios one fold at a time, so only the last bits may differ.
PERCENT_COLUMNS = {
    "Overall Util %": "overall_util_frac",
    "Mapping Efficiency %": "mapping_efficiency_frac",
    "Compute Util %": "compute_util_frac",
}


def _case(name: str):
    folder = DATA / name
    costs = scalesim_costs(read_topology(folder / "topology.csv"), read_config(folder / "config.cfg"))
    report = read_report(folder / "COMPUTE_REPORT.csv") | read_report(folder / "DETAILED_ACCESS_REPORT.csv")
    return costs, report


@pytest.mark.parametrize("case", CASES)
def test_exact_columns_match_scalesim(case: str) -> None:
    costs, report = _case(case)
    for column, field in EXACT_COLUMNS.items():
        np.testing.assert_array_equal(getattr(costs, field), report[column], err_msg=f"{case}: {column}")


@pytest.mark.parametrize("case", CASES)
def test_dram_read_columns_match_where_flagged_exact(case: str) -> None:
    costs, report = _case(case)
    for column, (field, mask_field) in MASKED_COLUMNS.items():
        mask = getattr(costs, mask_field)
        np.testing.assert_array_equal(getattr(costs, field)[mask], report[column][mask], err_msg=f"{case}: {column}")


@pytest.mark.parametrize("case", CASES)
def test_utilisation_columns_match_scalesim(case: str) -> None:
    costs, report = _case(case)
    for column, field in PERCENT_COLUMNS.items():
        np.testing.assert_allclose(getattr(costs, field) * 100, report[column], rtol=1e-12, err_msg=f"{case}: {column}")


def test_every_dataflow_and_a_non_square_array_is_covered() -> None:
    configs = [read_config(DATA / case / "config.cfg") for case in CASES]
    assert {c.dataflow for c in configs} == {"os", "ws", "is"}
    assert any(c.rows != c.cols for c in configs)
    assert any(read_topology(DATA / case / "topology.csv").input_format == "gemm" for case in CASES)


def test_resnet50_totals_match_the_reference_readme() -> None:
    # README of the references: totals 32x32 ws 6,349,206 cycles, 16x16 os 18,627,324 cycles ("Total Cycles").
    assert _case("resnet50_32x32_ws")[0].compute_cycles.sum() == 6_349_206
    assert _case("resnet50_16x16_os")[0].compute_cycles.sum() == 18_627_324
    assert _case("resnet50_32x32_ws")[0].macs.sum() == 4_089_184_256


def test_os_quirk_adds_rows_plus_cols_ofmap_writes_per_fold() -> None:
    costs, _ = _case("resnet50_16x16_os")
    folds = costs.row_folds * costs.col_folds
    np.testing.assert_array_equal(costs.ofmap_sram_writes_words - costs.ofmap_sram_writes_real_words, folds * (16 + 16))
    # conv1: 112 x 112 pixels x 64 filters really written once each.
    assert costs.ofmap_sram_writes_real_words[0] == 112 * 112 * 64


def test_dram_read_estimates_lie_between_distinct_and_sram_reads() -> None:
    for case in CASES:
        costs, _ = _case(case)
        topology = read_topology(DATA / case / "topology.csv")
        assert np.all(costs.ifmap_dram_reads_words >= topology.conv.ifmap_distinct_words)
        assert np.all(costs.ifmap_dram_reads_words <= costs.ifmap_sram_reads_words)
        assert np.all(costs.filter_dram_reads_words >= topology.k * topology.n)
        assert np.all(costs.filter_dram_reads_words <= costs.filter_sram_reads_words)


# ---------------------------------------------------------------------------------------------------------------
# Formulas on small examples (arithmetic in the comments).


def test_ws_conv1_on_32x32_by_hand() -> None:
    # conv1: m = 112*112 = 12544, n = 64, k = 7*7*3 = 147. ws folds: ceil(147/32) = 5 x ceil(64/32) = 2 = 10.
    # Each fold lasts m + 2R + C - 2 = 12544 + 64 + 30 = 12638 cycles; SCALE-Sim reports 10 * 12638 - 1.
    costs = systolic_costs(
        12544,
        64,
        147,
        rows=32,
        cols=32,
        dataflow="ws",
        ifmap_sram_words=65536,
        filter_sram_words=65536,
        ofmap_sram_words=65536,
    )
    assert costs.compute_cycles == 126_379
    # ifmap re-read once per col fold: 2 * 12544 * 147; partial sums written once per row fold: 5 * 12544 * 64.
    assert costs.ifmap_sram_reads_words == 3_687_936
    assert costs.ofmap_sram_writes_words == 4_014_080
    # Mapping efficiency: k * n / (folds * R * C) = 9408 / 10240.
    assert costs.mapping_efficiency_frac == pytest.approx(0.91875)


def test_gemm_default_equals_explicit_gemm_geometry() -> None:
    kwargs = dict(rows=8, cols=16, ifmap_sram_words=4096, filter_sram_words=4096, ofmap_sram_words=4096)
    for dataflow in ("os", "ws", "is"):
        plain = systolic_costs([100, 7], [30, 90], [50, 3], dataflow=dataflow, **kwargs)
        conv = ConvGeometry.gemm([100, 7], [50, 3])
        geom = systolic_costs([100, 7], [30, 90], [50, 3], dataflow=dataflow, conv=conv, **kwargs)
        for field in plain.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(plain, field), getattr(geom, field), err_msg=field)


def test_broadcasts_layers_against_array_variants() -> None:
    topology = read_topology(DATA / "resnet50_32x32_ws" / "topology.csv")
    rows = np.array([[8], [16], [32]])
    grid = systolic_costs(
        topology.m,
        topology.n,
        topology.k,
        rows=rows,
        cols=32,
        dataflow="ws",
        ifmap_sram_words=65536,
        filter_sram_words=65536,
        ofmap_sram_words=65536,
        conv=topology.conv,
    )
    assert grid.total_cycles_incl_prefetch.shape == (3, 54)
    single = scalesim_costs(topology, read_config(DATA / "resnet50_32x32_ws" / "config.cfg"))
    np.testing.assert_array_equal(grid.total_cycles_incl_prefetch[2], single.total_cycles_incl_prefetch)


def test_rejects_bad_arguments() -> None:
    kwargs = dict(rows=4, cols=4, ifmap_sram_words=1024, filter_sram_words=1024, ofmap_sram_words=1024)
    with pytest.raises(ValueError, match="dataflow"):
        systolic_costs(4, 4, 4, dataflow="rs", **kwargs)
    with pytest.raises(ValueError, match="m must be >= 1"):
        systolic_costs(0, 4, 4, dataflow="os", **kwargs)
    with pytest.raises(ValueError, match="conv geometry"):
        systolic_costs(4, 4, 5, dataflow="os", conv=ConvGeometry.gemm(4, 4), **kwargs)
    with pytest.raises(HwmapError, match="ofmap_sram_words too small"):
        systolic_costs(4, 4, 4, dataflow="os", **{**kwargs, "cols": 300})
    with pytest.raises(HwmapError, match="filter_sram_words = 99; expected >= 100"):
        systolic_costs(4, 4, 4, dataflow="os", **{**kwargs, "filter_sram_words": [99, 2000]})


# ---------------------------------------------------------------------------------------------------------------
# Invariants (hypothesis).

dims = st.integers(min_value=1, max_value=5000)
arrays = st.integers(min_value=1, max_value=128)
dataflows = st.sampled_from(["os", "ws", "is"])


def _costs(m, n, k, rows, cols, dataflow):
    return systolic_costs(
        m,
        n,
        k,
        rows=rows,
        cols=cols,
        dataflow=dataflow,
        ifmap_sram_words=65536,
        filter_sram_words=65536,
        ofmap_sram_words=65536,
    )


@settings(max_examples=300, deadline=None)
@given(m=dims, n=dims, k=dims, rows=arrays, cols=arrays, dataflow=dataflows)
def test_cycles_at_least_macs_per_pe_and_util_in_unit_interval(m, n, k, rows, cols, dataflow) -> None:
    costs = _costs(m, n, k, rows, cols, dataflow)
    # SCALE-Sim's "Total Cycles" is the last cycle index; the bound holds from rows + cols >= 3 on.
    bound = math.ceil(m * n * k / (rows * cols))
    assert costs.compute_cycles + 1 >= bound
    if rows + cols >= 3:
        assert costs.compute_cycles >= bound
        assert 0 < costs.overall_util_frac <= 1
    assert 0 < costs.mapping_efficiency_frac <= 1
    assert 0 < costs.compute_util_frac <= 1
    assert costs.total_cycles_incl_prefetch > costs.compute_cycles
    assert costs.stall_cycles == 0


@settings(max_examples=300, deadline=None)
@given(
    m=dims,
    n=dims,
    k=dims,
    rows=arrays,
    cols=arrays,
    dataflow=dataflows,
    axis=st.sampled_from("mnk"),
    step=st.integers(min_value=1, max_value=300),
)
def test_cycles_monotone_in_m_n_k(m, n, k, rows, cols, dataflow, axis, step) -> None:
    base = _costs(m, n, k, rows, cols, dataflow)
    grown = dict(m=m, n=n, k=k)
    grown[axis] += step
    bigger = _costs(grown["m"], grown["n"], grown["k"], rows, cols, dataflow)
    assert bigger.compute_cycles >= base.compute_cycles
    assert bigger.macs > base.macs


@settings(max_examples=200, deadline=None)
@given(a=st.integers(1, 40), b=st.integers(1, 40), data=st.data())
def test_skew_diagonal_inverts_the_lattice_count(a, b, data) -> None:
    x = data.draw(st.integers(1, a * b))
    # Brute force: the x-th element in order of diagonal i + j.
    diagonals = sorted(i + j for i, j in itertools.product(range(a), range(b)))
    assert _skew_diagonal_of(np.int64(x), np.int64(a), np.int64(b)) == diagonals[x - 1]


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 14),
    w=st.integers(1, 14),
    r=st.integers(1, 5),
    s=st.integers(1, 5),
    c=st.integers(1, 3),
    stride=st.integers(1, 4),
)
def test_distinct_ifmap_words_match_scalesim_address_formula(h, w, r, s, c, stride) -> None:
    r, s = min(r, h), min(s, w)
    conv = ConvGeometry(*(np.array([v]) for v in (h, w, r, s, c, stride)))
    # operand_matrix.calc_ifmap_elem_addr, with the off-map (-1) elements dropped.
    addresses = set()
    pixels = itertools.product(range(conv.ofmap_h[0]), range(conv.ofmap_w[0]))
    for (oh, ow), kr, kc, ch in itertools.product(pixels, range(r), range(s), range(c)):
        if oh * stride + kr < h and ow * stride + kc < w:
            addresses.add(((oh * stride + kr) * w + ow * stride + kc) * c + ch)
    assert conv.ifmap_distinct_words[0] == len(addresses)


# ---------------------------------------------------------------------------------------------------------------
# Readers.


def test_read_topology_conv_and_depthwise_expansion() -> None:
    topology = read_topology(DATA / "conv_is_8x32_sram4k" / "topology.csv")
    assert topology.input_format == "conv"
    # 'dw_DP' with 3 channels becomes 3 one-channel layers, as SCALE-Sim does.
    assert [n for n in topology.names if n.startswith("dw_DP")] == [f"dw_DPChannel_{i}" for i in range(3)]
    i = topology.names.index("conv3x3")
    assert (topology.m[i], topology.n[i], topology.k[i]) == (14 * 14, 24, 3 * 3 * 8)


def test_read_topology_gemm(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("Layer, M, N, K,\nfc1, 100, 30, 50,\n\nfc2, 7, 9, 11, 2:4,\n")
    topology = read_topology(path)
    assert topology.input_format == "gemm" and topology.names == ("fc1", "fc2")
    np.testing.assert_array_equal(topology.m, [100, 7])
    np.testing.assert_array_equal(topology.n, [30, 9])
    np.testing.assert_array_equal(topology.k, [50, 11])
    np.testing.assert_array_equal(topology.conv.ifmap_distinct_words, [5000, 77])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Layer, M, N, K,\nfc1, 100, 30, 50\n", "line 2: row must end with a comma"),
        ("Layer, M, N, K,\nfc1, 100, x, 50,\n", "line 2, field 'N': 'x' is not an integer"),
        ("Layer, M, N, K,\nfc1, 100, 0, 50,\n", "line 2, field 'N': 0; expected a positive integer"),
        ("Layer, M, N,\nfc1, 100, 30,\n", "line 1: unrecognised header"),
        ("Layer, M, N, K,\nfc1, 100, 30,\n", "line 2: 3 fields; expected 4"),
        (
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
            "c, 4, 4, 5, 3, 1, 1, 1,\n",
            "line 2: filter 5x3 larger than ifmap 4x4",
        ),
        ("Layer, M, N, K,\n", "no layer rows"),
        ("Layer, M, N, K,\nfc1, 100, 30, 50, 7,\n", "line 2, last field: '7'; expected an N:M sparsity ratio"),
        ("", "empty file"),
    ],
)
def test_read_topology_errors_name_file_line_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(HwmapError, match=message) as info:
        read_topology(path)
    assert str(path) in str(info.value)


def test_read_config_fields() -> None:
    config = read_config(DATA / "conv_ws_32x8_sram2k" / "config.cfg")
    assert (config.rows, config.cols, config.dataflow) == (32, 8, "ws")
    assert (config.ifmap_sram_words, config.filter_sram_words, config.ofmap_sram_words) == (2048, 8192, 2048)
    assert config.interface_bandwidth == "CALC" and config.bandwidth_words_per_cycle == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Dataflow : ws": "Dataflow : rs"}, r"\[architecture_presets\] Dataflow: 'rs'; expected one of ws, os, is"),
        ({"ArrayHeight:    32": "ArrayHeight: big"}, r"\[architecture_presets\] ArrayHeight: 'big'"),
        ({"ArrayWidth:     8": ""}, r"\[architecture_presets\]: missing field ArrayWidth"),
        ({"InterfaceBandwidth: CALC": "InterfaceBandwidth: FAST"}, "InterfaceBandwidth: 'FAST'; expected CALC or USER"),
        ({"[run_presets]": "[other]"}, r"missing section \[run_presets\]"),
        ({"SparsitySupport : false": "SparsitySupport : maybe"}, "SparsitySupport: 'maybe'; expected true or false"),
        ({"Bandwidth : 10": "Bandwidth : 10\nBandwidth : 20"}, "not a valid .cfg file"),
    ],
)
def test_read_config_errors_are_template_errors(tmp_path: Path, changes: dict[str, str], message: str) -> None:
    path = tmp_path / "x.cfg"
    text = (DATA / "conv_ws_32x8_sram2k" / "config.cfg").read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    with pytest.raises(TemplateError, match=message) as info:
        read_config(path)
    assert str(path) in str(info.value)


def test_user_bandwidth_mode_is_parsed_but_not_modelled(tmp_path: Path) -> None:
    path = tmp_path / "user.cfg"
    text = (DATA / "conv_ws_32x8_sram2k" / "config.cfg").read_text()
    path.write_text(text.replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER"))
    config = read_config(path)
    assert config.bandwidth_words_per_cycle == (10,)
    with pytest.raises(TemplateError, match="USER is not modelled"):
        scalesim_costs(read_topology(DATA / "conv_ws_32x8_sram2k" / "topology.csv"), config)


def test_read_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"config file .*absent.cfg: cannot read it"):
        read_config(tmp_path / "absent.cfg")
