"""Enumerate candidate paths of a model: the full model, skipped blocks, pruned decoder, resolutions, variants.

Every generated path is named by what it changes, so a name never hides what a path removes:

| path | name | example |
| --- | --- | --- |
| the base model | `full` | `full` |
| skip the last block of a stage (`--skip-last`) | `skip-` + the block's module name | `skip-stages.2.blocks.8` |
| skip the last k > 1 blocks of a stage | `skip-` + stage list + first-last index | `skip-stages.2.blocks.7-8` |
| skip what a glob matches (`--skip-blocks`) | `skip-` + the pattern as given | `skip-layer[34].1` |
| drop SegFormer decoder inputs | `decoder-drop-s` + dropped stages, 1-based | `decoder-drop-s34` |
| another input size | `r` + size | `r384` |
| another model | its name | `efficientnet_b0` |

A stage is an innermost block list (`layer4` of a ResNet, `stages.2.blocks` of a ConvNeXt, `layers.1.blocks`
of a Swin, `blocks` of a ViT, `segformer.stages.2.blocks` of a SegFormer); `--skip-last K` gives, for every
stage, the paths that skip its last 1..K blocks (never a whole stage, never a shape-changing block).
"""

from __future__ import annotations

import fnmatch
import tempfile
from dataclasses import replace
from itertools import combinations
from pathlib import Path

from hwmap.errors import HwmapError, ParameterError
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
    check: bool = True,
) -> PathSet:
    """Candidates, one transform each (plus the full model):

    - skip_last K: for every stage (innermost block list), paths skipping its last 1..K blocks, each named by
      the blocks it removes (module docstring); only a trailing run of shape-preserving blocks is skipped;
    - skip_blocks: one path per glob pattern, skipping the blocks it matches (checked when the path is costed);
    - drop_decoder (SegFormer): every proper subset of decoder inputs dropped;
    - resolutions: the full model at each square input size;
    - variants: other base models (their own weights), at their default input; a glob ('efficientnet_b[0-3]')
      stands for every timm or built-in name it matches.

    Accuracies: the published one (hwmap.paths.catalog: timm's results for pretrained timm models, with the
    source row) wherever the path is the published model at that input. With check (the default), every path
    is written to a temporary paths file, read back with the reader `paths cost` uses, and its graph built, so
    a path that cannot run (a resolution the model rejects, a skip pattern that matches nothing, an unknown
    variant) is an error here, naming the path, and nothing is returned to write.
    """
    from hwmap.graph.capture import meta_inputs
    from hwmap.graph.sources import build_model, is_onnx_path
    from hwmap.paths.transforms import probe_blocks

    if is_onnx_path(model) or (model.endswith(".json") and not model.startswith("hf:")):
        raise HwmapError(f"paths generate takes a model spec (a timm name, tv:NAME, segformer-bN, hf:DIR, "
                         f"ofa-resnet50:...), not {model!r}: a saved graph or ONNX file has no module to "
                         "transform or switch")
    if skip_last < 0:
        raise ParameterError("skip_last", f"must be >= 0, got {skip_last}")
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
            raise ParameterError("resolutions", f"{size} is not a positive size")
        accuracy = published_accuracy(model, resolution=size)
        paths.append(replace(full, name=f"r{size}", input_chw=(3, size, size), accuracy=accuracy))
    for variant in expand_variants(variants, exclude=model):
        paths.append(PathSpec(name=variant, model=variant, input_chw=None, num_classes=num_classes,
                              weight_group=default_weight_group(variant, num_classes),
                              accuracy=published_accuracy(variant)))
    generated = PathSet(tuple(paths), source=f"generated from {model}")
    if check:
        check_paths(generated, base_model=model)
    return generated


def expand_variants(variants: tuple[str, ...], *, exclude: str = "") -> list[str]:
    """Variant names with globs expanded over timm's names and the built-ins (sorted per glob); the base model
    itself is left out (it is the full path). A glob matching nothing is an error."""
    names: list[str] = []
    for variant in variants:
        if any(ch in variant for ch in "*?["):
            from hwmap.graph.sources import builtin_model_names, timm_and_torchvision_names

            timm_names, _tv = timm_and_torchvision_names()
            matched = sorted(fnmatch.filter([*timm_names, *builtin_model_names()], variant))
            if not matched:
                raise ParameterError("variants", f"{variant!r} matches no timm or built-in model name")
        else:
            matched = [variant]
        names.extend(m for m in matched if m != exclude and m not in names)
    return names


def check_paths(paths: PathSet, *, base_model: str | None = None) -> None:
    """What `paths cost` would meet, met now: unique names, a file its reader accepts, a graph for every path."""
    from hwmap.paths.model import load_paths, path_graph, save_paths

    names = [p.name for p in paths.paths]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise HwmapError(f"paths generate: two or more paths would be named {', '.join(repr(n) for n in repeated)} "
                         "(a repeated resolution, variant or skipped block?); give each once")
    with tempfile.TemporaryDirectory(prefix="hwmap-paths-") as folder:
        probe = Path(folder) / "paths.yaml"
        save_paths(paths, probe, base_model=base_model)
        read_back = load_paths(probe)
    cache: dict = {}
    for spec in read_back.paths:
        try:
            path_graph(spec, cache=cache)
        except HwmapError as exc:
            message = str(exc).removeprefix(f"path {spec.name!r}: ")
            raise HwmapError(f"paths generate: path {spec.name!r} ({_what(spec)}) cannot be costed: {message}") \
                from None


def _what(spec: PathSpec) -> str:
    parts = [spec.model]
    if spec.input_chw:
        parts.append("input " + "x".join(map(str, spec.input_chw)))
    if spec.skip_blocks:
        parts.append("skipping " + ", ".join(spec.skip_blocks))
    if spec.drop_decoder_stages:
        parts.append("dropping decoder inputs of stages " + ", ".join(str(s + 1) for s in spec.drop_decoder_stages))
    return "; ".join(parts)


def _skip_paths(full: PathSpec, blocks, skip_last: int) -> list[PathSpec]:
    """Per stage, paths skipping its last 1..skip_last blocks, each named by the blocks it removes.

    A stage is an innermost block list: a container whose blocks hold no block list of their own. A container of
    stages (ConvNeXt's `stages`, Swin's `layers`, each a stage module with its own `blocks` list) is not a stage:
    taking its "last" shape-preserving member would skip a whole stage (stage 0, the only one that keeps its
    input's shape), which is what the old `skip-stages-last1` did. Within a stage only the trailing run of
    shape-preserving blocks can be skipped: a shape-changing block ends the run (it is refused, as everywhere).
    """
    by_parent: dict[str, list] = {}
    for block in blocks:
        by_parent.setdefault(block.name.rpartition(".")[0], []).append(block)
    stages = [parent for parent in by_parent if not any(_is_under(other, parent) for other in by_parent)]
    paths = []
    for parent in stages:
        members = by_parent[parent]
        trailing = 0
        while trailing < len(members) and members[len(members) - 1 - trailing].skippable:
            trailing += 1
        for k in range(1, min(skip_last, trailing) + 1):
            names = tuple(b.name for b in members[-k:])
            paths.append(replace(full, name=skip_path_name(names), skip_blocks=names, accuracy=None))
    return paths


def _is_under(name: str, parent: str) -> bool:
    """True when module `name` lies strictly inside module `parent` ('' is the root)."""
    return name != parent and (parent == "" or name.startswith(parent + "."))


def skip_path_name(names: tuple[str, ...]) -> str:
    """The name of a path that skips consecutive blocks of one block list: `skip-` + what it removes.

    One block: `skip-stages.2.blocks.8`. Several: the list and the first and last removed index, inclusive,
    `skip-stages.2.blocks.7-8` (= stages.2.blocks.7 and stages.2.blocks.8). Block names are module names
    (usable as --skip-blocks patterns as they stand); a module name has no '-', so the range is unambiguous.
    """
    if len(names) == 1:
        return f"skip-{names[0]}"
    parent, _, first = names[0].rpartition(".")
    last = names[-1].rpartition(".")[2]
    prefix = f"{parent}." if parent else ""
    return f"skip-{prefix}{first}-{last}"


def _decoder_paths(full: PathSpec, model: str) -> list[PathSpec]:
    if not model.lower().startswith("segformer-"):
        raise ParameterError("drop_decoder", f"applies to SegFormer models (segformer-b0..b5), not {model!r}")
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
    from hwmap.paths.catalog import Accuracy, ofa_accuracy_provenance
    from hwmap.paths.ofa_subnets import reconstructed_subnets

    paths = []
    for subnet in reconstructed_subnets():
        accuracy = Accuracy(subnet.top1, "top1", "catalogue", ofa_accuracy_provenance(subnet))
        paths.append(PathSpec(name=subnet.short_name, model=subnet.spec, input_chw=None,
                              weight_group=subnet.spec if subnet.finetuned else OFA_SUPERNET_GROUP,
                              accuracy=accuracy))
    return PathSet(tuple(paths), source="published OFA ResNet-50 subnets (reconstructed configs)")
