"""Trace a model's forward with a TorchDispatchMode: every aten op, its tensors, its module scope and edges.

The model runs on meta tensors (no weights, no arithmetic). A model that cannot run on meta (data-dependent
control flow, ops without meta kernels) is materialised with random weights and traced on small real CPU
tensors instead; the graph says so in capture_mode and notes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hwmap.errors import ModelError, UnsupportedOpError
from hwmap.graph.ir import LayerGraph, Node
from hwmap.ops.classes import OpClass
from hwmap.ops.registry import Lowered, OpCall, lookup
from hwmap.ops.tensor import TensorMeta
from hwmap.ops.work import Unsupported, Zero


class _ScopeTracker:
    """Innermost-module stack, maintained by global forward pre/post hooks while a trace is active."""

    def __init__(self, model: torch.nn.Module):
        self._names = {id(m): name for name, m in model.named_modules(remove_duplicate=False)}
        self.stack: list[tuple[str, str]] = [("", type(model).__name__)]
        self._handles: list = []

    def __enter__(self) -> _ScopeTracker:
        self._handles = [
            torch.nn.modules.module.register_module_forward_pre_hook(self._push),
            torch.nn.modules.module.register_module_forward_hook(self._pop),
        ]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def _push(self, module, _inputs) -> None:
        name = self._names.get(id(module))
        if name is not None:
            self.stack.append((name, type(module).__name__))

    def _pop(self, module, _inputs, _output) -> None:
        if id(module) in self._names and len(self.stack) > 1:
            self.stack.pop()


class _Recorder(TorchDispatchMode):
    """Records every aten call as one or more Nodes (fused attention lowers to three)."""

    def __init__(self, scopes: _ScopeTracker, sources: dict[int, str]):
        super().__init__()
        self.scopes = scopes
        self.sources = sources  # id(tensor) -> source label; tensors kept alive in self._alive
        self.nodes: list[Node] = []
        self.notes: list[str] = []
        self._alive: list[torch.Tensor] = []
        self._ops: dict = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._record(func, args, kwargs, out)
        return out

    def _op_info(self, func):
        info = self._ops.get(func)
        if info is None:
            packet = str(func.overloadpacket)
            info = self._ops[func] = (str(func), packet, lookup(packet))
        return info

    def _meta(self, tensor: torch.Tensor) -> TensorMeta:
        source = self.sources.get(id(tensor), "const")
        return TensorMeta(tuple(tensor.shape), _dtype_name(tensor.dtype), source)

    def _record(self, func, args, kwargs, out) -> None:
        op, packet, lowering = self._op_info(func)
        in_tensors = _tensors(args) + _tensors(kwargs.values())
        out_tensors = _tensors((out,))
        inputs = tuple(self._meta(t) for t in in_tensors)
        outputs = tuple(TensorMeta(tuple(t.shape), _dtype_name(t.dtype), "") for t in out_tensors)
        scope, module_class = self.scopes.stack[-1]
        steps = self._lower(lowering, OpCall(packet, args, kwargs, inputs, outputs, scope, module_class))
        first = len(self.nodes)
        produced = str(first + len(steps) - 1)
        outputs = tuple(TensorMeta(t.shape, t.dtype, produced) for t in outputs)
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            self.nodes.append(Node(
                index=first + i, op=op, work=step.work, op_class=step.op_class, scope=scope,
                module_class=module_class, inputs=inputs if i == 0 else (),
                outputs=outputs if last else (), part=step.part,
            ))
        # A view of a weight stays a weight (w.t() feeding addmm); everything else is produced by this node.
        propagate = isinstance(steps[-1].work, Zero) and inputs and inputs[0].is_weight
        label = inputs[0].source if propagate else produced
        for tensor in out_tensors:
            self.sources[id(tensor)] = label
            self._alive.append(tensor)

    def _lower(self, lowering, call: OpCall) -> list[Lowered]:
        if lowering is None:
            return [Lowered(Unsupported(), OpClass.OTHER)]
        try:
            result = lowering(call)
        except Exception as exc:  # a lowering that meets an argument form it does not know
            self.notes.append(f"could not lower {call.op} in {call.scope or '<root>'}: {exc}")
            return [Lowered(Unsupported(), OpClass.OTHER)]
        return result if isinstance(result, list) else [result]


_DTYPE_NAMES: dict = {}


def _dtype_name(dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


def _tensors(values) -> list[torch.Tensor]:
    found = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(_tensors(value))
    return found


def _weight_sources(model: torch.nn.Module) -> dict[int, str]:
    sources = {id(p): f"param:{name}" for name, p in model.named_parameters(remove_duplicate=False)}
    sources.update({id(b): f"buffer:{name}" for name, b in model.named_buffers(remove_duplicate=False)})
    return sources


def _run(model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> _Recorder:
    sources = _weight_sources(model)
    sources.update({id(x): f"input:{i}" for i, x in enumerate(inputs)})
    with torch.no_grad(), _ScopeTracker(model) as scopes:
        recorder = _Recorder(scopes, sources)
        with recorder:
            model(*inputs)
    recorder._alive.clear()
    return recorder


def materialise_on_cpu(model: torch.nn.Module) -> None:
    """Give a meta model real (random) CPU storage so it can run ops that have no meta kernel."""
    model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.02, generator=generator)
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                buffer.fill_(1.0 if "var" in name else 0.0)
            else:
                buffer.zero_()


def _model_stats(model: torch.nn.Module) -> tuple[int, int, int]:
    params = list(model.parameters())  # unique: tied weights count once
    n_params = sum(p.numel() for p in params)
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    return n_params, param_bytes, buffer_bytes


def capture(
    model: torch.nn.Module,
    inputs: Sequence[torch.Tensor],
    *,
    name: str,
    strict: bool = False,
    meta: dict | None = None,
) -> LayerGraph:
    """Trace model(*inputs) into a LayerGraph. inputs are meta tensors when the model lives on meta."""
    model.eval()
    shape_text = ", ".join("x".join(map(str, x.shape)) for x in inputs)
    notes: list[str] = []
    mode = "meta" if any(p.is_meta for p in model.parameters()) or all(x.is_meta for x in inputs) else "cpu"
    try:
        recorder = _run(model, inputs)
    except Exception as meta_error:
        if mode != "meta":
            raise ModelError(
                f"model {name!r} failed in forward on input {shape_text}: {_one_line(meta_error)}") from None
        notes.append(f"the model cannot run on meta tensors ({_one_line(meta_error)}); traced on CPU tensors "
                     "with random weights instead")
        mode = "cpu"
        recorder = _run_on_cpu(model, inputs, name=name, shape_text=shape_text)
    notes.extend(recorder.notes)
    n_params, param_bytes, buffer_bytes = _model_stats(model)
    graph = LayerGraph(
        model=name, input_shapes=tuple(tuple(x.shape) for x in inputs), nodes=tuple(recorder.nodes),
        params=n_params, param_bytes=param_bytes, buffer_bytes=buffer_bytes, capture_mode=mode,
        notes=tuple(notes), meta=dict(meta or {}),
    )
    if strict and graph.unsupported:
        raise UnsupportedOpError(f"{len(graph.unsupported)} unsupported operator(s) in {name!r}: "
                                 + graph.unsupported_summary())
    return graph


def _run_on_cpu(model, inputs, *, name: str, shape_text: str) -> _Recorder:
    try:
        materialise_on_cpu(model)
        cpu_inputs = [torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(x.dtype)
                      if x.is_floating_point() else torch.zeros(x.shape, dtype=x.dtype) for x in inputs]
        return _run(model, cpu_inputs)
    except Exception as cpu_error:
        raise ModelError(f"model {name!r} failed in forward on input {shape_text}: {_one_line(cpu_error)}") from None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def meta_inputs(shapes: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    return [torch.empty(tuple(shape), device="meta") for shape in shapes]

