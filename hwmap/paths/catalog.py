"""Published accuracies with their provenance (hwmap/data/*.json, copied from the team's shared data).

A path gets a catalogue accuracy only when it IS the published model: the base model at its published input,
with no transform. Transformed paths have no published accuracy; they carry the user's number or a measured one.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwmap.graph.sources import packaged_json


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
    return None


def _segformer(spec: str, resolution: int | None) -> Accuracy | None:
    if resolution not in (None, 512):
        return None
    data = packaged_json("segformer_variants.json")
    variant = data["variants"].get(spec.split("-")[1].upper())
    if variant is None:
        return None
    miou = variant["ade20k"]["miou_ss"]
    sources = "; ".join(data["sources"][key] for key in miou["source"])
    return Accuracy(float(miou["value"]), "miou", "catalogue",
                    f"ADE20K val single-scale mIoU, 512x512, 150 classes ({miou['provenance']} source: {sources})")


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
            return Accuracy(subnet.top1, "top1", "catalogue",
                            f"published ImageNet-1k top-1 of OFA {subnet.name} (config reconstructed by hwmap to "
                            f"match its published MACs and params; {subnet.provenance})")
    return None
