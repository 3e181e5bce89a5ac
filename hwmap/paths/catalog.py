"""Published accuracies with their provenance (hwmap/data/*.json: the team's shared data, each fact citing the paper
and its table or figure, or the repository file and URL it was read from;
tests/paths/test_catalog_provenance.py checks it).

A path gets a catalogue accuracy only when it IS the published model: the base model at its published input,
with no transform. Transformed paths have no published accuracy; they carry the user's number or a measured one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hwmap.graph.sources import packaged_json

TIMM_RESULTS_FILE = "timm_results_imagenet.csv"
TIMM_RESULTS_COMMIT = "4e5207c7bb6592474ca56e28b2cf85be8f1a550f"
TIMM_RESULTS_URL = (f"https://github.com/huggingface/pytorch-image-models/blob/{TIMM_RESULTS_COMMIT}/results/"
                    "results-imagenet.csv")


@dataclass(frozen=True)
class Accuracy:
    """An accuracy in percent, with what it measures and where it came from."""

    value: float
    metric: str  # "top1" (ImageNet-1k val) or "miou" (ADE20K val), or the user's metric name
    source: str  # "catalogue", "user" or "measured"
    provenance: str  # the citation, the user's note, or the data set and weights measured on

    def to_dict(self) -> dict:
        return {"value": self.value, "metric": self.metric, "source": self.source, "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: dict) -> Accuracy:
        return cls(float(data["value"]), str(data["metric"]), str(data["source"]), str(data["provenance"]))


# timm/torchvision names -> (imagenet_reference.json model, variant prefix to prefer)
_IMAGENET_ALIASES: dict[str, tuple[str, str]] = {
    "resnet18": ("ResNet-18", "timm resnet18.a1_in1k"), "resnet34": ("ResNet-34", "timm resnet34.a1_in1k"),
    "resnet50": ("ResNet-50", "timm resnet50.a1_in1k"), "resnet101": ("ResNet-101", "timm resnet101.a1_in1k"),
    "tv:resnet18": ("ResNet-18", "torchvision IMAGENET1K_V1"),
    "tv:resnet34": ("ResNet-34", "torchvision IMAGENET1K_V1"),
    "tv:resnet50": ("ResNet-50", "torchvision IMAGENET1K_V1"),
    "tv:resnet101": ("ResNet-101", "torchvision IMAGENET1K_V1"),
    "deit_tiny_patch16_224": ("DeiT-Ti", "official deit_tiny_patch16_224"),
    "deit_small_patch16_224": ("DeiT-S", "official deit_small_patch16_224"),
    "deit_base_patch16_224": ("DeiT-B", "official deit_base_patch16_224"),
    "swin_tiny_patch4_window7_224": ("Swin-T", "official swin_tiny_patch4_window7_224"),
    "swin_small_patch4_window7_224": ("Swin-S", "official swin_small_patch4_window7_224"),
    "swin_base_patch4_window7_224": ("Swin-B", "official swin_base_patch4_window7_224"),
    "vit_base_patch16_224": ("ViT-B/16", "timm vit_base_patch16_224.augreg_in21k_ft_in1k"),
    "vit_small_patch16_224": ("ViT-S/16", "timm vit_small_patch16_224.augreg_in21k_ft_in1k"),
}


def published_accuracy(spec: str, *, resolution: int | None = None) -> Accuracy | None:
    """The published accuracy of an untransformed model spec at its published input, or None."""
    spec = spec.strip()
    if spec.lower().startswith("segformer-b"):
        return _segformer(spec.lower(), resolution)
    if spec.startswith("ofa-resnet50:"):
        return _ofa(spec, resolution)
    name = spec.removeprefix("timm:")
    if name in _IMAGENET_ALIASES:
        return _imagenet(*_IMAGENET_ALIASES[name], resolution=resolution)
    return timm_accuracy(name, resolution=resolution)


@dataclass(frozen=True)
class TimmResult:
    """One row of timm's results-imagenet.csv."""

    line: int  # line number in the file (the header is line 1)
    model: str  # architecture.tag
    img_size: int
    top1: float
    top5: float


@cache
def timm_results() -> dict[tuple[str, int], TimmResult]:
    """(architecture.tag, evaluation image size) -> its row (hwmap/data/timm_results_imagenet.csv)."""
    text = resources.files("hwmap.data").joinpath(TIMM_RESULTS_FILE).read_text(encoding="utf-8")
    rows: dict[tuple[str, int], TimmResult] = {}
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        result = TimmResult(line, row["model"], int(row["img_size"]), float(row["top1"]), float(row["top5"]))
        rows.setdefault((result.model, result.img_size), result)
    return rows


@cache
def _timm_architectures() -> frozenset[str]:
    return frozenset(model.split(".")[0] for model, _size in timm_results())


def timm_default_tag(architecture: str) -> tuple[str, int] | None:
    """(default pretrained tag, default input size) of a timm architecture, from timm's registry (no weights)."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(architecture)
    except Exception:  # not a timm architecture, or no pretrained configs
        return None
    if cfg is None or not getattr(cfg, "tag", None):
        return None
    return str(cfg.tag), int(cfg.input_size[-1])


def timm_accuracy(name: str, *, resolution: int | None = None) -> Accuracy | None:
    """The published ImageNet-1k top-1 of a pretrained timm model at an input size: the row of its tag (the
    architecture's default tag when name has none) at resolution (default: the architecture's default input,
    the size hwmap traces it at). None when timm published no such row."""
    architecture, _, tag = name.partition(".")
    if architecture not in _timm_architectures():
        return None
    default = timm_default_tag(architecture)
    if default is None:
        return None
    size = resolution or default[1]
    result = timm_results().get((f"{architecture}.{tag or default[0]}", size))
    if result is None:
        return None
    return Accuracy(result.top1, "top1", "catalogue",
                    f"ImageNet-1k val top-1 of timm {result.model} at {result.img_size}x{result.img_size} (top-5 "
                    f"{result.top5:g}): line {result.line} of {TIMM_RESULTS_URL}, Apache-2.0 (copied unchanged to "
                    f"hwmap/data/{TIMM_RESULTS_FILE})")


def _segformer(spec: str, resolution: int | None) -> Accuracy | None:
    """ADE20K single-scale mIoU of SegFormer-Bn at its published input (512x512 for B0-B4, 640x640 for B5; the
    default input hwmap traces, None, is 512x512), citing the paper's table or figure."""
    data = packaged_json("segformer_variants.json")
    variant = data["variants"].get(spec.split("-")[1].upper())
    if variant is None:
        return None
    ade = variant["ade20k"]
    size = int(ade["flops_resolution"].split("x")[0])
    if (resolution or 512) != size:
        return None
    miou = ade["miou_ss"]
    sources = "; ".join(data["sources"][key] for key in miou["source"])
    return Accuracy(float(miou["value"]), "miou", "catalogue",
                    f"ADE20K val single-scale mIoU, {size}x{size}, 150 classes ({miou['provenance']} source: "
                    f"{sources})")


def _imagenet(model: str, variant: str, *, resolution: int | None) -> Accuracy | None:
    entries = [e for e in packaged_json("imagenet_reference.json")["entries"]
               if e["model"] == model and e["variant"].startswith(variant)]
    if not entries or resolution not in (None, entries[0]["resolution"]):
        return None
    entry = entries[0]
    return Accuracy(float(entry["top1"]), "top1", "catalogue",
                    f"ImageNet-1k val top-1 of {entry['variant']} at {entry['resolution']} "
                    f"({'; '.join(entry['source'])})")


def _ofa(spec: str, resolution: int | None) -> Accuracy | None:
    from hwmap.graph.ofa import parse_ofa_spec
    from hwmap.paths.ofa_subnets import reconstructed_subnets

    arch = parse_ofa_spec(spec.removeprefix("ofa-resnet50:"))
    for subnet in reconstructed_subnets():
        same_arch = subnet.arch.d == arch.d and subnet.arch.w == arch.w and \
            subnet.arch.active_expand_ratios == arch.active_expand_ratios
        if same_arch and (resolution or arch.resolution or 224) == subnet.resolution:
            return Accuracy(subnet.top1, "top1", "catalogue", ofa_accuracy_provenance(subnet))
    return None


def ofa_accuracy_provenance(subnet) -> str:
    """The citation of a published OFA ResNet-50 subnet's top-1 (its README row), and what hwmap built for it."""
    return (f"published ImageNet-1k top-1 of OFA {subnet.name}: {subnet.accuracy_source}; config reconstructed "
            f"by hwmap to match its published MACs and params ({subnet.provenance})")
