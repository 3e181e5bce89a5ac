"""Issue 9 acceptance: mapping invariants (hypothesis), golden energies term by term, word sizes from bits, fusion."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from hwmap.api import load_accelerator
from hwmap.cost.dispatch import estimate_graph, map_target
from hwmap.cost.mapping import LoopNest, map_layer
from hwmap.cost.memory import capacity_words, memory_hierarchy
from hwmap.cost.systolic import systolic_costs
from hwmap.ops.classes import OpClass
from hwmap.ops.work import Conv, Gemm
from tests.conftest import traced
from tests.cost.test_dispatch import _single_layer_graph as _graph

TEMPLATES = ["systolic8x8", "systolic16x16", "systolic32x32", "magnet16pe_v8", "magnet16pe_v16"]




convs = st.builds(
    lambda c, k, hw, r, s, g: Conv(batch=1, in_channels=c * g, out_channels=k * g, in_spatial=(hw, hw),
                                   out_spatial=((hw - r) // s + 1, (hw - r) // s + 1), kernel=(r, r), stride=(s, s),
                                   padding=(0, 0), dilation=(1, 1), groups=g),
    st.integers(1, 96), st.integers(1, 96), st.integers(7, 40), st.sampled_from([1, 3, 5, 7]),
    st.sampled_from([1, 2]), st.sampled_from([1, 1, 1, 4]))
gemms = st.builds(Gemm, st.integers(1, 3), st.integers(1, 400), st.integers(1, 400), st.integers(1, 600))
layers = st.one_of(convs, gemms)


def _nest(work) -> LoopNest:
    from hwmap.cost.layers import nest_row

    return LoopNest(*nest_row(work, work.gemm if isinstance(work, Conv) else work))


# ------------------------------------------------------------------------------------------------ invariants


@settings(max_examples=60, deadline=None)
@given(work=layers, name=st.sampled_from(TEMPLATES), shrink=st.sampled_from([1, 4, 16, 64]))
def test_dram_traffic_is_at_least_compulsory_and_shrinking_a_buffer_never_lowers_it(work, name, shrink):
    acc = load_accelerator(name)
    target = dataclasses.replace(map_target(memory_hierarchy(acc), acc.spec), min_k=1, min_c=1)
    nest = _nest(work)
    m = map_layer(nest, target, compute_cycles=1000.0)
    # compulsory: every operand at least once; the output exactly once at output precision (+ spilled psums)
    assert m.input_read_bytes >= m.input_compulsory_bytes > 0
    assert m.weight_read_bytes >= m.weight_compulsory_bytes > 0
    assert m.output_write_bytes == m.output_compulsory_bytes > 0
    assert m.psum_write_bytes == m.psum_read_bytes >= 0
    # buffers holding whole tensors: exactly the compulsory traffic
    huge = dataclasses.replace(target, cap_input=1e15, cap_weight=1e15, cap_output=1e15)
    whole = map_layer(nest, huge, compute_cycles=1000.0)
    assert whole.input_read_bytes == whole.input_compulsory_bytes
    assert whole.weight_read_bytes == whole.weight_compulsory_bytes and whole.psum_write_bytes == 0
    # a smaller buffer (each operand's in turn, or the shared one) never moves less
    for field in (("cap_input",), ("cap_weight",), ("cap_output",), ("cap_input", "cap_weight", "cap_output")):
        if target.shared and len(field) == 1:
            continue
        small = dataclasses.replace(target, **{f: getattr(target, f) / shrink for f in field})
        try:
            s = map_layer(nest, small, compute_cycles=1000.0)
        except Exception:  # noqa: BLE001 - nothing fits any more: no traffic to compare
            continue
        assert s.dram_bytes >= m.dram_bytes * (1 - 1e-12)
        assert s.energy_pj >= m.energy_pj * (1 - 1e-12)


def _grouped_conv(hw: int, *, groups: int = 4, c: int = 1, k: int = 3, r: int = 3) -> Conv:
    """groups x (c -> k channels), r x r kernel, stride 1, no padding, on hw x hw: the shape of ``convs`` above."""
    return Conv(batch=1, in_channels=c * groups, out_channels=k * groups, in_spatial=(hw, hw),
                out_spatial=(hw - r + 1, hw - r + 1), kernel=(r, r), stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                groups=groups)


# derandomize: the same examples on every run. The mapper still misses one candidate (a K or C tile equal to the
# array's floor when that is no minimal tile ceil(dim / t): test_a_k_tile_equal_to_the_arrays_floor_is_searched,
# a strict xfail), which random examples hit in 1-2 of ~4,300; until it is searched, CI must not depend on luck.
@settings(max_examples=40, deadline=None, derandomize=True)
@given(work=layers, name=st.sampled_from(["systolic8x8", "systolic16x16", "systolic32x32"]),
       dataflow=st.sampled_from(["ws", "os", "is"]), objective=st.sampled_from(["energy", "latency", "edp"]))
# found by hypothesis: one group's floor tile, 3 x 37 x 37 psums, overflows the ofmap buffer by 44 B (skipped)
@example(work=_grouped_conv(39), name="systolic8x8", dataflow="os", objective="energy")
# one group's psums (6,348 B) fit, the layer's (25,392 B) do not: comparable, and the mapper is no worse
@example(work=_grouped_conv(25), name="systolic8x8", dataflow="os", objective="energy")
@example(work=_grouped_conv(25), name="systolic8x8", dataflow="ws", objective="latency")
# found by hypothesis: its floor tile, 8 of 12 channels of 37x37 outputs, needs 43,808 B of psums (skipped)
@example(work=_grouped_conv(39, groups=1, k=12), name="systolic8x8", dataflow="os", objective="energy")
def test_best_mapping_is_no_worse_than_scalesim_and_energy_covers_the_macs(work, name, dataflow, objective):
    acc = load_accelerator(name)
    graph = _graph(work, OpClass.CONV_DENSE if isinstance(work, Conv) else OpClass.LINEAR)
    best = estimate_graph(graph, acc, dataflow=dataflow, objective=objective)
    scalesim = estimate_graph(graph, acc, dataflow=dataflow, mapping="scalesim")
    # Comparable only where the mapper's output tile does not bind. SCALE-Sim never holds more outputs than one
    # fold (it drains them fold by fold, at output precision); the mapper holds one tile of every operand, the
    # output tile as 32-bit partial sums. Its smallest tile that keeps the input whole (all N, P, Q of one group and
    # a K tile of the array's floor, min(min_k, K): one fold of array columns) must fit its ofmap buffer, else it
    # splits P or Q and re-reads the input halo where SCALE-Sim need not. E.g. a 1-channel 3x3 conv, 23x23x8 outputs
    # on systolic8x8 os or ws (floor 8): 16,928 B of psums in a 16 KiB usable half, 675 B of input for 625 B. Groups
    # of a grouped conv (elements of a batched GEMM) run one after another: one group's tile must fit (see
    # test_grouped_conv_whose_psums_just_overflow_... below). Checked: with every integer tile a mapper candidate
    # (see test_a_k_tile_equal_to_the_arrays_floor_is_searched), 6,000 examples of this test pass.
    target = map_target(memory_hierarchy(acc), acc.spec, dataflow=dataflow)
    nest = _nest(work).canonical()
    floor_tile_psum_bytes = min(target.min_k, nest.k) * nest.output_words // nest.k * target.psum_bytes
    assume(floor_tile_psum_bytes <= target.cap_output)
    value = {"energy": lambda c: c.energy_mj, "latency": lambda c: c.cycles,
             "edp": lambda c: c.energy_mj * c.cycles}[objective]
    assert value(best) <= value(scalesim) * (1 + 1e-9)
    assert best.layers.compute_cycles[0] == scalesim.layers.compute_cycles[0]  # the array's timing does not change
    macs = best.macs
    assert best.energy_mj * 1e9 >= macs * acc.spec.mac_energy_pj
    assert np.isfinite(best.layers.energy_pj).all() and (best.layers.dram_bytes >= 0).all()


def test_grouped_conv_whose_psums_just_overflow_the_ofmap_buffer_re_reads_only_the_input_halo():
    # 4 groups of a 1 -> 3 channel 3x3 conv on 39x39 (37x37 outputs), systolic8x8 os (16,384 B usable ofmap half).
    # One group's outputs: 37 * 37 * 3 = 4,107 B int8, which fit, but 16,428 B as 32-bit psums, 44 B too many.
    work = _grouped_conv(39)
    acc = load_accelerator("systolic8x8")
    graph = _graph(work, OpClass.CONV_DENSE)
    scalesim = estimate_graph(graph, acc, dataflow="os", mapping="scalesim").layers.mappings[0]
    # SCALE-Sim holds output words: each group's input (39 * 39 = 1,521 B), weights (27 B) and outputs (4,107 B)
    # move once: 4 * 5,655 = 22,620 B
    assert (scalesim.input_read_bytes, scalesim.dram_bytes) == (6_084, 22_620)
    for objective in ("energy", "latency", "edp"):
        best = estimate_graph(graph, acc, dataflow="os", objective=objective).layers.mappings[0]
        # The whole-output tile does not fit as psums, so the mapper splits Q into 19 + 18 columns, whose input
        # tiles span 21 + 20 = 41 of the 39 input columns: 4 groups * 2 columns * 39 rows = 312 B of halo. It keeps
        # the K tile at 3: the os array's 8 columns unroll K (floor min(8, 3) = 3); a K tile of 1 would keep the
        # whole input but run each fold on one of the three columns that SCALE-Sim's cycle count has busy.
        assert best.tiles_text() == "N1 K3 C1 P37 Q19 R3 S3" and best.psum_passes == 1
        assert (best.input_read_bytes, best.weight_read_bytes, best.output_write_bytes) == (6_084 + 312, 108, 16_428)
        assert best.dram_bytes == 22_932
    # SCALE-Sim's mapping (one whole-output tile per group) is in the mapper's space: 44 B more ofmap buffer and the
    # mapper picks exactly it
    target = map_target(memory_hierarchy(acc), acc.spec, dataflow="os")
    roomier = map_layer(_nest(work), dataclasses.replace(target, cap_output=16_428.0), compute_cycles=15_820.0)
    assert roomier.tiles_text() == "N1 K3 C1 P37 Q37 R3 S3" and roomier.dram_bytes == scalesim.dram_bytes


@pytest.mark.xfail(strict=True, reason="mapper: the spatial floor filters the minimal tiles ceil(K / t), so a K tile "
                   "equal to the floor (8 of K = 9: SCALE-Sim's own column folds 8 + 1) is never a candidate")
def test_a_k_tile_equal_to_the_arrays_floor_is_searched():
    # A 1 -> 9 channel 3x3 conv on 24x24 (22x22 outputs), systolic8x8 os: floor min(8, 9) = 8. A K tile of 8 with all
    # 22x22 outputs holds 8 * 484 * 4 = 15,488 B of psums (16,384 usable) and reads the input once, as SCALE-Sim does:
    # 576 + 81 + 4,356 = 5,013 DRAM bytes. The mapper's K candidates are 9, 5, 3, 2, 1; the floor leaves 9 (17,424 B
    # of psums), so it splits Q and reads 48 B of input halo: 5,061 B. (Found by the hypothesis test above, where it
    # fails now and then; with every integer tile a candidate, 6,000 examples of it pass.)
    graph = _graph(_grouped_conv(24, groups=1, k=9), OpClass.CONV_DENSE)
    acc = load_accelerator("systolic8x8")
    scalesim = estimate_graph(graph, acc, dataflow="os", mapping="scalesim").layers.mappings[0]
    best = estimate_graph(graph, acc, dataflow="os").layers.mappings[0]
    assert scalesim.dram_bytes == 5_013
    assert best.dram_bytes == 5_013


@settings(max_examples=30, deadline=None)
@given(c=st.integers(1, 300), k=st.integers(1, 300), hw=st.integers(1, 30), name=st.sampled_from(TEMPLATES))
def test_pointwise_conv_and_equivalent_linear_get_the_same_mapping_cost(c, k, hw, name):
    conv = Conv(batch=1, in_channels=c, out_channels=k, in_spatial=(hw, hw), out_spatial=(hw, hw), kernel=(1, 1),
                stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)
    acc = load_accelerator(name)
    a = estimate_graph(_graph(conv, OpClass.CONV_POINTWISE), acc).layers.mappings[0]
    b = estimate_graph(_graph(Gemm(1, hw * hw, k, c)), acc).layers.mappings[0]
    assert (a.dram_bytes, a.energy_pj, a.order, a.tiles) == (b.dram_bytes, b.energy_pj, b.order, b.tiles)


# ------------------------------------------------------------------------------------------------ golden energies


def test_golden_energy_terms_systolic16x16():
    # GEMM (32 x 16) @ (16 x 16) on systolic16x16 (ws, int8, 32-bit psums, 64 KiB double-buffered buffers).
    cost = estimate_graph(_graph(Gemm(1, 32, 16, 16)), load_accelerator("systolic16x16"))
    t = {k: float(v[0]) for k, v in cost.layers.energy_terms_pj.items()}
    sc = systolic_costs(32, 16, 16, rows=16, cols=16, dataflow="ws", ifmap_sram_words=65536,
                        filter_sram_words=65536, ofmap_sram_words=65536)
    # SCALE-Sim ws, one fold: the filter block k x n = 256 words read once, the ifmap m x k = 512 words streamed,
    # m x n = 512 outputs written; 'Total Cycles' = 2 * 16 + 16 + 32 - 2 - 1 = 77.
    assert (int(sc.filter_sram_reads_words), int(sc.ifmap_sram_reads_words)) == (256, 512)
    assert (int(sc.ofmap_sram_writes_real_words), int(sc.compute_cycles)) == (512, 77)
    # mac: 32 * 16 * 16 = 8192 MACs * 0.3 pJ = 2457.6 pJ
    assert t["mac"] == pytest.approx(2457.6)
    # every tensor fits (512 B input, 256 B weights, 512 * 4 B psums <= 32 KiB): DRAM reads 512 + 256 B, writes
    # 512 B of int8 outputs = 1280 B * 162.5 pJ/B = 208000 pJ
    assert cost.layers.dram_bytes[0] == 1280 and t["dram"] == pytest.approx(208000)
    # sram.ifmap: array reads 512 B * 3.449 + DRAM fill 512 B * 3.449 = 1765.888 + 1765.888 = 3531.776 pJ
    assert t["sram.ifmap"] == pytest.approx(3531.776)
    # sram.filter: 256 B * 3.449 read + 256 B * 3.449 fill = 1765.888 pJ
    assert t["sram.filter"] == pytest.approx(1765.888)
    # sram.ofmap: 512 psums * 4 B * 3.449 written by the array + 512 B * 3.449 read out to DRAM
    #   = 7063.552 + 1765.888 = 8829.44 pJ
    assert t["sram.ofmap"] == pytest.approx(8829.44)
    # cycles: max(77 compute, 1280 B / 16 B per cycle = 80) = 80 (3 stall cycles); static power
    #   256 * 30 uW + 196608 B * 7.2 nW + 16 lanes * 150 uW + 16 B/cycle * 2000 uW = 43.4955776 mW
    #   = 43.4955776 pJ per cycle at 1000 MHz: 80 * 43.4955776 = 3479.646208 pJ
    assert (cost.layers.compute_cycles[0], cost.layers.stall_cycles[0]) == (77, 3)
    assert t["static"] == pytest.approx(3479.646208)
    assert t["vector"] == 0
    assert cost.energy_mj * 1e9 == pytest.approx(2457.6 + 208000 + 3531.776 + 1765.888 + 8829.44 + 3479.646208)


def test_golden_energy_terms_magnet16pe_v16():
    # GEMM (32 x 16) @ (16 x 16) on magnet16pe_v16 (16 PEs x 16 lanes x 16-wide vectors, int8, 24-bit psums).
    cost = estimate_graph(_graph(Gemm(1, 32, 16, 16)), load_accelerator("magnet16pe_v16"))
    t = {k: float(v[0]) for k, v in cost.layers.energy_terms_pj.items()}
    # compute: ceil(32 / 16 PEs) = 2 pixels per PE x ceil(16 / 16) lane steps x ceil(16 / 16) vector steps = 2
    assert cost.layers.compute_cycles[0] == 2
    # mac: 8192 MACs * 0.275 pJ = 2252.8 pJ
    assert t["mac"] == pytest.approx(2252.8)
    # PE buffers: input reads 32 * 16 = 512 B * 1.768 = 905.216; weight reads 16 busy PEs * 256 = 4096 B * 3.449
    #   = 14127.104; accumulation writes 512 psums * 3 B * 1.083 = 1663.488 (no reads: one vector step)
    #   total 16695.808 pJ
    assert t["sram.pe_buffers"] == pytest.approx(16695.808)
    # global buffer: feeds 512 + 256 B and takes 512 B of outputs from the PEs: 1280 B * 4.759 = 6091.52;
    #   the mapping fills 768 B from DRAM and drains 512 B to DRAM: 1280 B * 4.759 = 6091.52; total 12183.04 pJ
    assert t["sram.global"] == pytest.approx(12183.04)
    # DRAM: 512 + 256 + 512 = 1280 B * 162.5 = 208000 pJ
    assert cost.layers.dram_bytes[0] == 1280 and t["dram"] == pytest.approx(208000)
    # cycles: max(2, 1280 B / 64 B per cycle = 20) = 20; static power 4096 * 27.5 uW + 1540096 B * 7.2 nW
    #   + 256 lanes * 150 uW + 64 B/cycle * 2000 uW = 112.64 + 11.0886912 + 38.4 + 128 = 290.1286912 mW
    #   -> 20 * 290.1286912 = 5802.573824 pJ
    assert cost.layers.stall_cycles[0] == 18 and t["static"] == pytest.approx(5802.573824)
    assert cost.energy_mj * 1e9 == pytest.approx(2252.8 + 16695.808 + 12183.04 + 208000 + 5802.573824)


# ------------------------------------------------------------------------------------------------ word sizes


def test_int4_and_fp16_buffer_capacities_in_words():
    assert capacity_words(65536, 4) == 131072 and capacity_words(65536, 8) == 65536
    assert capacity_words(65536, 16) == 32768 and capacity_words(6144, 24) == 2048
    base = load_accelerator("systolic16x16")
    int4 = base.with_overrides({"technology.precision": "int4", "operand_bits.input": 4, "operand_bits.weight": 4})
    fp16 = base.with_overrides({"technology.precision": "fp16", "operand_bits.input": 16,
                                "operand_bits.weight": 16})
    for acc, words, bits in ((int4, 131072, 4), (fp16, 32768, 16)):
        mem = memory_hierarchy(acc)
        assert mem.dram_facing("input").words(bits) == words and mem.dram_facing("weight").words(bits) == words
        # the ofmap buffer holds 32-bit partial sums: 65536 * 8 / 32 = 16384 of them, whatever the operands
        assert mem.dram_facing("output").words(mem.bits.psum) == 16384
    # an input of 40000 words: 20000 B at int4 fits half of 64 KiB, 80000 B at fp16 must be tiled; the mapper's
    # DRAM bytes scale with the word size (each operand once at 4 or 16 bits when it fits)
    g = _graph(Gemm(1, 2500, 16, 16))
    c4 = estimate_graph(g, int4).layers.mappings[0]
    assert c4.input_read_bytes == 2500 * 16 / 2 and c4.weight_read_bytes == 16 * 16 / 2
    c16 = estimate_graph(g, fp16).layers.mappings[0]
    assert c16.input_read_bytes == 2500 * 16 * 2 and c16.weight_read_bytes == 16 * 16 * 2


# ------------------------------------------------------------------------------------------------ modes and fusion


def test_scalesim_mode_without_fusion_reproduces_the_previous_dram_counts():
    # hwmap before issue 9 (SCALE-Sim fold-order DRAM words, no fusion) on ResNet-50 / systolic16x16:
    # 585,420,236 DRAM bytes (measured on main at 8a561c5 with `hwmap estimate resnet50 --accel systolic16x16`)
    cost = estimate_graph(traced("resnet50"), load_accelerator("systolic16x16"), mapping="scalesim", fusion="none")
    assert cost.dram_bytes == 585_420_236
    # compute cycles are SCALE-Sim's, exactly; stall cycles = DRAM bytes / 16 B per cycle beyond compute, rounded up
    # per layer (a layer cannot end mid-cycle): conv1 stalls 362,133.75 -> 362,134 cycles, so the total that was
    # 37,233,208.75 before cycles were whole is 23,053,722 + 14,179,487 = 37,233,209
    assert (cost.compute_cycles, cost.stall_cycles, cost.cycles) == (23_053_722, 14_179_487, 37_233_209)
    assert isinstance(cost.cycles, int) and cost.latency_ms == 37.233209


def test_epilogue_fusion_removes_the_bn_relu_add_round_trips_of_resnet50():
    graph = traced("resnet50")
    acc = load_accelerator("systolic16x16")
    fused = estimate_graph(graph, acc)  # default: --fusion epilogue
    unfused = estimate_graph(graph, acc, fusion="none")
    assert fused.settings["fusion"] == "epilogue" and unfused.settings["fusion"] == "none"
    classes = np.array(fused.layers.op_classes)
    norm, act, add = classes == "normalization", classes == "activation", classes == "elementwise"
    assert norm.sum() == 53 and act.sum() == 49 and add.sum() == 16
    # batch norms folded: no cost at all; ReLUs: no DRAM; residual adds read only their shortcut operand
    assert (fused.layers.dram_bytes[norm] == 0).all() and (fused.layers.energy_pj[norm] == 0).all()
    assert (fused.layers.dram_bytes[act] == 0).all() and (fused.layers.compute_cycles[act] > 0).all()
    arrays_out = np.array([sum(t.numel for t in n.outputs) for n in graph.nodes])
    assert (fused.layers.dram_bytes[add] == arrays_out[add]).all()  # the other operand, int8: 1 byte per element
    # unfused: each of them reads its inputs and writes its output (int8)
    arrays_in = np.array([sum(t.numel for t in n.inputs if not t.is_weight) for n in graph.nodes])
    both = norm | act | add
    assert (unfused.layers.dram_bytes[both] == arrays_in[both] + arrays_out[both]).all()
    # convolutions and their mappings are the same either way; every fused group is reported
    conv = np.array([u == "array" for u in fused.layers.units])
    assert (fused.layers.dram_bytes[conv] == unfused.layers.dram_bytes[conv]).all()
    assert len(fused.fused) == 53 and fused.fused[0].startswith("conv1:convolution <- bn1:")
    assert unfused.fused == ()
    assert fused.energy_mj < unfused.energy_mj


def test_sweeping_array_rows_changes_static_power_and_area():
    base = load_accelerator("systolic16x16")
    big = base.with_overrides({"array.rows": 32})
    assert big.spec.total_static_power_mw - base.spec.total_static_power_mw == pytest.approx(256 * 30 / 1e3)
    assert big.area_um2 - base.area_um2 == pytest.approx(256 * 419)
    wider = base.with_overrides({"dram.bw_bytes_per_cycle": 32})
    # DRAM bandwidth costs: 16 more bytes per cycle * 2000 uW = 32 mW, and 16 * 50000 um^2
    assert wider.spec.total_static_power_mw - base.spec.total_static_power_mw == pytest.approx(32)
    assert wider.area_um2 - base.area_um2 == pytest.approx(16 * 50000)
    more_sram = base.with_overrides({"buffers.filter.size_bytes": 2 * 65536})
    assert more_sram.spec.total_static_power_mw - base.spec.total_static_power_mw == pytest.approx(
        65536 * 7.2 / 1e6)


def test_bad_mapping_arguments_are_one_clear_error():
    from hwmap.errors import HwmapError

    g = _graph(Gemm(1, 8, 8, 8))
    with pytest.raises(HwmapError, match="^mapping must be one of best, scalesim"):
        estimate_graph(g, load_accelerator("systolic16x16"), mapping="greedy")
    with pytest.raises(HwmapError, match="^objective must be one of energy, latency, edp"):
        estimate_graph(g, load_accelerator("systolic16x16"), objective="area")
    with pytest.raises(HwmapError, match="^mapping scalesim applies to systolic templates"):
        estimate_graph(g, load_accelerator("magnet16pe_v16"), mapping="scalesim")
    with pytest.raises(HwmapError, match="^fusion must be one of none, epilogue"):
        estimate_graph(g, load_accelerator("systolic16x16"), fusion="compiled")
