"""Transforms that turn a base model into an execution path, applied to the nn.Module (meta or real weights).

- skip blocks: residual blocks (shape-preserving children of a block list, e.g. `segformer.stages.2.blocks.5`,
  `blocks.11`, `layer3.4`) become identities: the residual stream passes through unchanged;
- drop decoder inputs (SegFormer's all-MLP decoder): the dropped stages' projections and upsampling are not
  run, the fuse conv keeps only the input channels of the kept stages (the same weights, sliced), and encoder
  stages after the deepest kept one are not run at all.
Resolution and variant changes need no module surgery (a different input shape or base model).
"""

from __future__ import annotations

import fnmatch
import types
from dataclasses import dataclass

import torch

from hwmap.errors import HwmapError


@dataclass(frozen=True)
class BlockInfo:
    name: str
    module_class: str
    skippable: bool  # output has the input's shape (a residual block)


def block_containers(model: torch.nn.Module) -> list[tuple[str, list[str]]]:
    """(container name, child block names) for each homogeneous ModuleList/Sequential of >= 2 leaf blocks."""
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)):
            continue
        children = list(module.named_children())
        if len(children) < 2 or len({type(c) for _, c in children}) != 1:
            continue
        if isinstance(children[0][1], (torch.nn.ModuleList, torch.nn.Sequential)):
            continue
        found.append((name, [f"{name}.{child}" if name else child for child, _ in children]))
    return found


def probe_blocks(model: torch.nn.Module, inputs: list[torch.Tensor]) -> list[BlockInfo]:
    """Run the model once (meta tensors) and record which candidate blocks preserve their input's shape."""
    modules = dict(model.named_modules())
    candidates = [name for _, names in block_containers(model) for name in names]
    shapes: dict[str, bool] = {}
    handles = []
    for name in candidates:
        def hook(_module, args, output, name=name):
            first = output[0] if isinstance(output, (tuple, list)) else output
            x = args[0] if args else None
            shapes[name] = isinstance(x, torch.Tensor) and isinstance(first, torch.Tensor) and x.shape == first.shape
        handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return [BlockInfo(name, type(modules[name]).__name__, shapes.get(name, False)) for name in candidates]


def resolve_skip_patterns(blocks: list[BlockInfo], patterns: tuple[str, ...], *, model_name: str) -> list[str]:
    """Block names matched by glob patterns; unknown patterns and shape-changing blocks are clear errors."""
    names = [b.name for b in blocks]
    chosen: list[str] = []
    for pattern in patterns:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            listing = ", ".join(_compact_block_names(blocks))
            raise HwmapError(f"skip pattern {pattern!r} matches no block of {model_name}; its blocks are: {listing}")
        chosen.extend(m for m in matched if m not in chosen)
    by_name = {b.name: b for b in blocks}
    fixed = [n for n in chosen if not by_name[n].skippable]
    if fixed:
        raise HwmapError(f"{model_name}: block(s) {', '.join(fixed)} change the tensor shape (downsampling or a "
                         "stage's first block), so skipping them would break the forward; skip later blocks")
    return chosen


def _compact_block_names(blocks: list[BlockInfo]) -> list[str]:
    """'segformer.stages.2.blocks.0-5' per container instead of every name."""
    groups: dict[str, list[str]] = {}
    for block in blocks:
        parent, _, index = block.name.rpartition(".")
        groups.setdefault(parent, []).append(index)
    return [f"{parent}.{indices[0]}-{indices[-1]}" if parent else f"{indices[0]}-{indices[-1]}"
            for parent, indices in groups.items()]


def _identity_forward(self, *args, **kwargs):
    return args[0]


def skip_blocks(model: torch.nn.Module, names: list[str]) -> None:
    """Make each named block an identity on its first input (in place)."""
    modules = dict(model.named_modules())
    for name in names:
        module = modules[name]
        module.forward = types.MethodType(_identity_forward, module)
        for child_name, _ in list(module.named_children()):
            setattr(module, child_name, torch.nn.Identity())  # its weights are no longer part of the path


def drop_segformer_decoder_inputs(model: torch.nn.Module, dropped: tuple[int, ...]) -> None:
    """Prune SegFormer's decoder to the kept stages (0-based), in place; see the module docstring."""
    head = getattr(model, "decode_head", None)
    encoder = getattr(model, "segformer", None)
    if head is None or encoder is None or not hasattr(head, "linear_projections"):
        raise HwmapError("drop_decoder_stages applies to SegFormer models (segformer-b0..b5) only")
    stages = len(head.linear_projections)
    if any(s < 0 or s >= stages for s in dropped) or len(set(dropped)) >= stages:
        raise HwmapError(f"drop_decoder_stages {list(dropped)}: expected distinct stage indices in 0..{stages - 1}, "
                         "keeping at least one")
    kept = tuple(s for s in range(stages) if s not in dropped)
    width = head.config.decoder_hidden_size
    old = head.linear_fuse
    fuse = torch.nn.Conv2d(width * len(kept), width, kernel_size=1, bias=False, device=old.weight.device,
                           dtype=old.weight.dtype)
    # torch.cat(all_hidden_states[::-1]) puts stage s at channel block (stages - 1 - s).
    blocks = [old.weight[:, (stages - 1 - s) * width:(stages - s) * width] for s in reversed(kept)]
    if not old.weight.is_meta:
        with torch.no_grad():
            fuse.weight.copy_(torch.cat(blocks, dim=1))
    head.linear_fuse = fuse
    for s in dropped:
        head.linear_projections[s] = torch.nn.Identity()
    for s in range(max(kept) + 1, stages):
        encoder.stages[s] = torch.nn.Identity()
    model.forward = types.MethodType(_pruned_segformer_forward(kept), model)


def _pruned_segformer_forward(kept: tuple[int, ...]):
    def forward(self, pixel_values, **kwargs):
        hidden = pixel_values
        features = []
        for stage in list(self.segformer.stages)[: max(kept) + 1]:
            hidden = stage(hidden)
            features.append(hidden)
        head = self.decode_head
        batch = hidden.shape[0]
        size = features[0].shape[2:]
        projected = []
        for s in kept:
            feature = features[s]
            height, width = feature.shape[2], feature.shape[3]
            x = head.linear_projections[s](feature).transpose(1, 2).reshape(batch, -1, height, width)
            projected.append(torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False))
        x = head.linear_fuse(torch.cat(projected[::-1], dim=1))
        x = head.activation(head.batch_norm(x))
        return head.classifier(head.dropout(x))

    return forward
