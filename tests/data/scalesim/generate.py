"""Write the inputs of the small SCALE-Sim reference cases, or run SCALE-Sim on one case folder.

    python tests/data/scalesim/generate.py inputs              # (re)write config.cfg + topology.csv of every case
    <venv>/bin/python tests/data/scalesim/generate.py run DIR  # run SCALE-Sim 3.0.0 on DIR, copy its reports into DIR

The second form needs `scalesim==3.0.0` (and numpy<2.4) in the interpreter's environment; hwmap does not.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CFG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   {ifmap_kb}
FilterSramSzkB:  {filter_kb}
OfmapSramSzkB:   {ofmap_kb}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks:   1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""
CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
GEMM_HEADER = "Layer, M, N, K,"
CONV = [  # name, H, W, R, S, C, N, stride
    ("conv3x3", 16, 16, 3, 3, 8, 24, 1),
    ("conv3x3_s2", 17, 17, 3, 3, 4, 16, 2),
    ("pointwise", 8, 8, 1, 1, 32, 40, 1),
    ("pointwise_s2", 15, 15, 1, 1, 16, 24, 2),
    ("deep_k", 6, 6, 3, 3, 64, 20, 1),
    ("stem7x7_s2", 23, 23, 7, 7, 3, 16, 2),
    ("wide_n", 5, 5, 1, 1, 24, 130, 1),
    ("fc", 1, 1, 1, 1, 256, 100, 1),
    ("dw_DP", 10, 10, 3, 3, 3, 1, 1),  # 'DP' in the name: SCALE-Sim splits it into one layer per channel
    ("ragged_s2", 10, 10, 3, 3, 4, 8, 2),  # (H - R) % stride != 0: the last windows hang off the edge
    ("ragged_s3", 12, 12, 2, 2, 5, 12, 3),  # ... and here the last window row/col starts past the edge
]
RAGGED = [  # last window row/col partly or wholly off the map (SCALE-Sim rounds ofmap dims up)
    ("off_edge_col", 11, 8, 5, 2, 5, 28, 4),
    ("off_edge_row", 8, 12, 2, 3, 3, 10, 4),
    ("off_edge_both", 8, 8, 3, 3, 2, 7, 4),
    ("hang_both", 10, 11, 4, 3, 3, 9, 3),
    ("hang_wide", 7, 30, 3, 5, 2, 6, 2),
]
GEMM = [("g_square", 64, 64, 64), ("g_tall", 300, 10, 120), ("g_wide", 37, 200, 9), ("g_row", 1, 50, 40),
        ("g_big", 500, 70, 33), ("g_odd", 100, 30, 50)]
# OFMAP drain edge cases with 1 kB (S = 512-word drains): 513 writes = S + 1, 1026 = 2 (S + 1), 512 = S.
GEMM_EDGES = [("g_513_writes", 27, 19, 5), ("g_1026_writes", 54, 19, 3), ("g_1_1_1", 1, 1, 1),
              ("g_512_writes", 32, 16, 7)]
CASES = {  # name: (dataflow, rows, cols, ifmap kB, filter kB, ofmap kB, layers)
    "conv_is_8x32_sram4k": ("is", 8, 32, 4, 4, 4, "conv"),
    "conv_ws_32x8_sram2k": ("ws", 32, 8, 2, 8, 2, "conv"),
    "conv_os_8x32_sram4k": ("os", 8, 32, 4, 2, 4, "conv"),
    "conv_is_16x16_sram64k": ("is", 16, 16, 64, 64, 64, "conv"),
    "gemm_os_12x24_sram2k": ("os", 12, 24, 2, 2, 2, "gemm"),
    "gemm_ws_16x12_sram1k": ("ws", 16, 12, 1, 2, 1, "gemm"),
    "gemm_is_24x16_sram2k": ("is", 24, 16, 2, 1, 2, "gemm"),
    "edges_os_8x8_sram1k": ("os", 8, 8, 1, 1, 1, "edges"),  # 8 divides S = 512
    "edges_os_12x12_sram1k": ("os", 12, 12, 1, 1, 1, "edges"),  # 12 does not
    "ragged_is_4x5_sram1k": ("is", 4, 5, 1, 1, 1, "ragged"),
    "ragged_os_3x4_sram1k": ("os", 3, 4, 1, 1, 1, "ragged"),
    "ragged_ws_4x3_sram1k": ("ws", 4, 3, 1, 1, 1, "ragged"),
}
FUZZ_ARRAYS = (("os", 5, 7), ("ws", 3, 11), ("is", 9, 4), ("os", 2, 2), ("ws", 6, 6), ("is", 13, 3))
FUZZ_SEED = 1


def _fuzz_layers(rng: random.Random) -> list[tuple]:
    layers = []
    for i in range(24):
        r, s = rng.randint(1, 4), rng.randint(1, 4)
        h, w = rng.randint(r, 13), rng.randint(s, 13)
        layers.append((f"l{i}", h, w, r, s, rng.randint(1, 6), rng.randint(1, 20), rng.randint(1, 3)))
    return layers


def _write_case(name: str, dataflow: str, rows: int, cols: int, kbs: tuple[int, int, int], header: str, layers) -> None:
    case = HERE / name
    case.mkdir(exist_ok=True)
    ifmap_kb, filter_kb, ofmap_kb = kbs
    case.joinpath("config.cfg").write_text(
        CFG.format(name=name, rows=rows, cols=cols, ifmap_kb=ifmap_kb, filter_kb=filter_kb, ofmap_kb=ofmap_kb,
                   dataflow=dataflow))
    case.joinpath("topology.csv").write_text("\n".join([header] + [",".join(map(str, r)) + "," for r in layers]) + "\n")


def write_inputs() -> None:
    tables = {"conv": (CONV_HEADER, CONV), "gemm": (GEMM_HEADER, GEMM), "edges": (GEMM_HEADER, GEMM_EDGES),
              "ragged": (CONV_HEADER, RAGGED)}
    for name, (dataflow, rows, cols, ikb, fkb, okb, kind) in CASES.items():
        _write_case(name, dataflow, rows, cols, (ikb, fkb, okb), *tables[kind])
    rng = random.Random(FUZZ_SEED)
    for dataflow, rows, cols in FUZZ_ARRAYS:
        _write_case(f"fuzz_{dataflow}_{rows}x{cols}", dataflow, rows, cols, (1, 1, 1), CONV_HEADER, _fuzz_layers(rng))


def run_scalesim(case: Path) -> None:
    from scalesim.scale_sim import scalesim  # only in the SCALE-Sim virtual environment

    topology = case / "topology.csv"
    gemm = topology.read_text().splitlines()[0].replace(" ", "").lower().startswith("layer,m,n,k")
    with tempfile.TemporaryDirectory() as out:
        start = time.time()
        # The layout file is required by scalesim's loader but unused (custom layouts are off): pass the topology.
        sim = scalesim(save_disk_space=True, verbose=False, config=str(case / "config.cfg"), topology=str(topology),
                       layout=str(topology), input_type_gemm=gemm)
        sim.run_scale(top_path=out)
        run_dir = next(p for p in Path(out).iterdir() if p.is_dir())
        for name in ("COMPUTE_REPORT.csv", "DETAILED_ACCESS_REPORT.csv", "BANDWIDTH_REPORT.csv"):
            shutil.copy(run_dir / name, case / name)
        print(f"{case.name}: {time.time() - start:.1f} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["inputs"]:
        write_inputs()
    elif sys.argv[1:2] == ["run"] and len(sys.argv) == 3:
        run_scalesim(Path(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
