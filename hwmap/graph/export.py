"""Export a layer graph as a SCALE-Sim topology CSV (conv format or GEMM 'M, N, K' format).

SCALE-Sim has no padding, groups, dilation or batch fields, so:
- each conv row carries the effective input extent H_eff = (H_out - 1) * stride + kernel, which gives the exact
  MAC count of the padded conv (SCALE-Sim: ofmap = (H_eff - kernel) / stride + 1);
- a grouped or depthwise conv becomes one row per group, a batched GEMM one row per batch element;
- a linear layer or matmul is a 1x1 conv over an M x 1 map (conv format) or an M, N, K row (GEMM format);
- SCALE-Sim drops the last field of every row, so rows end with a trailing comma, as in its own files.
Convs it cannot express (dilation > 1, unequal strides, not 2-d, transposed) are left out and listed in notes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from hwmap.fileio import atomic_write_text
from hwmap.graph.ir import LayerGraph, Node
from hwmap.ops.work import Conv, Gemm

CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
GEMM_HEADER = "Layer, M, N, K,"


@dataclass(frozen=True)
class ExportResult:
    rows: int
    macs: int  # MACs the written rows describe
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"rows": self.rows, "macs": self.macs, "notes": list(self.notes)}


def scalesim_rows(graph: LayerGraph, *, gemm_format: bool) -> tuple[list[str], int, list[str]]:
    rows: list[str] = []
    macs = 0
    skipped: list[str] = []
    for node in graph.nodes:
        work = node.work
        if isinstance(work, Conv) and not gemm_format:
            reason = _conv_unsupported(work)
            if reason:
                skipped.append(f"{node.name} ({reason})")
                continue
            rows.extend(_conv_rows(node, work))
        elif isinstance(work, (Conv, Gemm)):
            gemm = work.gemm if isinstance(work, Conv) else work
            rows.extend(_gemm_rows(node, gemm, gemm_format=gemm_format))
        else:
            continue
        macs += work.macs
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} conv(s) SCALE-Sim cannot express were left out: {', '.join(skipped[:5])}"
                     + (" ..." if len(skipped) > 5 else ""))
    return rows, macs, notes


def write_scalesim_topology(graph: LayerGraph, path: str, *, gemm_format: bool = False) -> ExportResult:
    rows, macs, notes = scalesim_rows(graph, gemm_format=gemm_format)
    buffer = io.StringIO()
    buffer.write((GEMM_HEADER if gemm_format else CONV_HEADER) + "\n")
    for row in rows:
        buffer.write(row + "\n")
    atomic_write_text(path, buffer.getvalue())
    return ExportResult(len(rows), macs, tuple(notes))


def _conv_unsupported(conv: Conv) -> str:
    if len(conv.kernel) != 2:
        return f"{len(conv.kernel)}-d conv"
    if conv.transposed:
        return "transposed conv"
    if any(d != 1 for d in conv.dilation):
        return "dilation > 1"
    if conv.stride[0] != conv.stride[1]:
        return "unequal strides"
    return ""


def _safe(name: str) -> str:
    return name.replace(",", ";").replace(" ", "")


def _conv_rows(node: Node, conv: Conv) -> list[str]:
    (kh, kw), stride = conv.kernel, conv.stride[0]
    h_eff = (conv.out_spatial[0] - 1) * stride + kh
    w_eff = (conv.out_spatial[1] - 1) * stride + kw
    cin, cout = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    copies = conv.groups * conv.batch
    names = [_safe(node.name)] if copies == 1 else [f"{_safe(node.name)}_{i}" for i in range(copies)]
    return [f"{name}, {h_eff}, {w_eff}, {kh}, {kw}, {cin}, {cout}, {stride}," for name in names]


def _gemm_rows(node: Node, gemm: Gemm, *, gemm_format: bool) -> list[str]:
    names = [_safe(node.name)] if gemm.batch == 1 else [f"{_safe(node.name)}_{i}" for i in range(gemm.batch)]
    if gemm_format:
        return [f"{name}, {gemm.m}, {gemm.n}, {gemm.k}," for name in names]
    return [f"{name}, {gemm.m}, 1, 1, 1, {gemm.k}, {gemm.n}, 1," for name in names]
