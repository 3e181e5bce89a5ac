"""Enumerate candidate paths of a model: the full model, skipped blocks, pruned decoder, resolutions, variants."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations

from hwmap.errors import HwmapError
from hwmap.paths.catalog import published_accuracy
from hwmap.paths.model import PathSet, PathSpec, default_weight_group


def generate_paths(
    model: str,
    *,
    skip_last: int = 0,
    skip_blocks: tuple[str, ...] = (),
    drop_decoder: bool = False,
    resolutions: tuple[int, ...] = (),
    variants: tuple[str, ...] = (),
    num_classes: int | None = None,
) -> PathSet:
    """Candidates, one transform each (plus the full model):

    - skip_last K: for every block list (a stage), paths skipping its last 1..K shape-preserving blocks;
    - skip_blocks: one path per glob pattern, skipping the blocks it matches (checked when the path is costed);
    - drop_decoder (SegFormer): every proper subset of decoder inputs dropped;
    - resolutions: the full model at each square input size;
    - variants: other base models (their own weights), at their default input.
    """
    from hwmap.graph.capture import meta_inputs
    from hwmap.graph.sources import build_model
    from hwmap.paths.transforms import probe_blocks

    if skip_last < 0:
        raise HwmapError(f"--skip-last must be >= 0, got {skip_last}")
    group = default_weight_group(model, num_classes)
    full = PathSpec(name="full", model=model, input_chw=None, num_classes=num_classes, weight_group=group,
                    accuracy=published_accuracy(model))
    paths = [full]
    if skip_last:
        built = build_model(model, num_classes=num_classes)
        blocks = probe_blocks(built.module.eval(), meta_inputs([(1, *built.default_input_chw)]))
        paths += _skip_paths(full, blocks, skip_last)
    for pattern in skip_blocks:
        paths.append(replace(full, name=f"skip-{pattern}", skip_blocks=(pattern,), accuracy=None))
    if drop_decoder:
        paths += _decoder_paths(full, model)
    for size in resolutions:
        if size < 1:
            raise HwmapError(f"--resolutions: {size} is not a positive size")
        paths.append(replace(full, name=f"r{size}", input_chw=(3, size, size), accuracy=None))
    for variant in variants:
        paths.append(PathSpec(name=variant, model=variant, input_chw=None, num_classes=num_classes,
                              weight_group=default_weight_group(variant, num_classes),
                              accuracy=published_accuracy(variant)))
    return PathSet(tuple(paths), source=f"generated from {model}")


def _skip_paths(full: PathSpec, blocks, skip_last: int) -> list[PathSpec]:
    by_parent: dict[str, list] = {}
    for block in blocks:
        by_parent.setdefault(block.name.rpartition(".")[0], []).append(block)
    paths = []
    for parent, members in by_parent.items():
        skippable = [b.name for b in members if b.skippable]
        for k in range(1, min(skip_last, len(skippable)) + 1):
            names = tuple(skippable[-k:])
            label = parent.replace(".", "-") or "blocks"
            paths.append(replace(full, name=f"skip-{label}-last{k}", skip_blocks=names, accuracy=None))
    return paths


def _decoder_paths(full: PathSpec, model: str) -> list[PathSpec]:
    if not model.lower().startswith("segformer-"):
        raise HwmapError(f"--drop-decoder applies to SegFormer models (segformer-b0..b5), not {model!r}")
    stages = range(4)
    paths = []
    for count in (1, 2, 3):
        for dropped in combinations(stages, count):
            label = "".join(str(s + 1) for s in dropped)
            paths.append(replace(full, name=f"decoder-drop-s{label}", drop_decoder_stages=dropped, accuracy=None))
    return paths


OFA_SUPERNET_GROUP = "ofa-resnet50-supernet"


def ofa_published_paths() -> PathSet:
    """The eight published OFA ResNet-50 subnets (hwmap's reconstructed configs) with their published top-1.

    Subnets taken from the supernet without fine-tuning share its weights (one weight group); the fine-tuned
    ones (names ending in _finetune@25) carry weights of their own.
    """
    from hwmap.paths.catalog import Accuracy
    from hwmap.paths.ofa_subnets import reconstructed_subnets

    paths = []
    for subnet in reconstructed_subnets():
        accuracy = Accuracy(subnet.top1, "top1", "catalogue",
                            f"published ImageNet-1k top-1 of OFA {subnet.name}; {subnet.provenance}")
        paths.append(PathSpec(name=subnet.short_name, model=subnet.spec, input_chw=None,
                              weight_group=subnet.spec if subnet.finetuned else OFA_SUPERNET_GROUP,
                              accuracy=accuracy))
    return PathSet(tuple(paths), source="published OFA ResNet-50 subnets (reconstructed configs)")
