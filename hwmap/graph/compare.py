"""hwmap's MAC counts beside torch.utils.flop_counter's and fvcore's, by operator family.

torch's counter runs on meta tensors like hwmap; fvcore needs a jit trace, so it runs on CPU tensors with
random weights. Both counters' FLOP conventions are converted to MACs (torch counts 2 per MAC, fvcore 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwmap.graph.ir import LayerGraph

_TORCH_FAMILIES = {
    "aten.convolution": "conv", "aten._convolution": "conv", "aten.convolution_backward": "conv",
    "aten.addmm": "linear/mm", "aten.mm": "linear/mm", "aten._scaled_mm": "linear/mm",
    "aten.bmm": "matmul/bmm", "aten.baddbmm": "matmul/bmm", "aten.matmul": "matmul/bmm",
}
_FVCORE_FAMILIES = {
    "conv": "conv", "linear": "linear/mm", "addmm": "linear/mm", "mm": "linear/mm",
    "matmul": "matmul/bmm", "bmm": "matmul/bmm", "einsum": "matmul/bmm",
}


def _family(op_packet: str) -> str:
    if "scaled_dot_product" in op_packet:
        return "attention (sdpa)"
    return _TORCH_FAMILIES.get(op_packet, op_packet)


@dataclass(frozen=True)
class CounterRow:
    family: str
    hwmap_macs: int
    torch_macs: int
    fvcore_macs: int | None


@dataclass(frozen=True)
class CounterComparison:
    rows: tuple[CounterRow, ...]
    fvcore_unsupported: dict[str, int]
    fvcore_error: str

    def to_dict(self) -> dict:
        return {"rows": [vars(r) for r in self.rows], "fvcore_unsupported": self.fvcore_unsupported,
                "fvcore_error": self.fvcore_error}


def hwmap_by_family(graph: LayerGraph) -> dict[str, int]:
    totals: dict[str, int] = {}
    for node in graph.nodes:
        if node.macs:
            family = _family(".".join(node.op.split(".")[:2]))
            totals[family] = totals.get(family, 0) + node.macs
    return totals


def torch_by_family(module, inputs) -> dict[str, int]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*inputs)
    totals: dict[str, int] = {}
    for op, flops in counter.get_flop_counts()["Global"].items():
        family = _family(str(op))
        totals[family] = totals.get(family, 0) + int(flops) // 2
    return totals


def fvcore_by_family(module, inputs) -> tuple[dict[str, int], dict[str, int]]:
    """fvcore's per-operator counts (1 'flop' per MAC) and the operators it skipped."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, tuple(inputs))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    totals: dict[str, int] = {}
    for op, macs in analysis.by_operator().items():
        family = _FVCORE_FAMILIES.get(op, f"{op} (fvcore only)")
        totals[family] = totals.get(family, 0) + int(macs)
    return totals, dict(analysis.unsupported_ops())


def compare_counters(spec: str, graph: LayerGraph, *, num_classes: int | None = None) -> CounterComparison:
    import warnings

    import torch

    from hwmap.graph.capture import materialise_on_cpu, meta_inputs
    from hwmap.graph.sources import build_model

    module = build_model(spec, num_classes=num_classes).module.eval()
    torch_totals = torch_by_family(module, meta_inputs(graph.input_shapes))
    fvcore_totals: dict[str, int] = {}
    unsupported: dict[str, int] = {}
    error = ""
    try:
        materialise_on_cpu(module)
        cpu_inputs = [torch.randn(shape) for shape in graph.input_shapes]
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            fvcore_totals, unsupported = fvcore_by_family(module, cpu_inputs)
    except Exception as exc:  # fvcore's jit trace fails on some models; say so instead of failing
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        error = f"fvcore could not trace the model: {type(exc).__name__}: {first_line}"
    hwmap_totals = hwmap_by_family(graph)
    families = sorted(set(hwmap_totals) | set(torch_totals) | set(fvcore_totals),
                      key=lambda f: -max(hwmap_totals.get(f, 0), torch_totals.get(f, 0), fvcore_totals.get(f, 0)))
    rows = tuple(
        CounterRow(f, hwmap_totals.get(f, 0), torch_totals.get(f, 0), None if error else fvcore_totals.get(f, 0))
        for f in families
    )
    return CounterComparison(rows, unsupported, error)
