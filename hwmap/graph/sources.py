"""Model sources: a model spec string -> an nn.Module with random weights on the meta device.

Specs: '<timm name>' or 'timm:<name>', 'tv:<torchvision name>', 'segformer-b0'..'segformer-b5',
'hf:<folder or config.json>', 'ofa-resnet50:d=..;e=..;w=..'. No weights are ever downloaded.
A '.onnx' file is a model too, but not a module: hwmap.api routes it (is_onnx_path) to hwmap.interop.onnx,
which lowers the ONNX graph itself.
torch, timm, torchvision and transformers are imported only when a model is built.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from hwmap.errors import ModelError, ParameterError

ONNX_SUFFIX = ".onnx"
SEGFORMER_VARIANTS = tuple(f"segformer-b{i}" for i in range(6))
OFA_PREFIX = "ofa-resnet50:"
OFA_EXAMPLE = "ofa-resnet50:d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2"


@dataclass(frozen=True)
class BuiltModel:
    """A model ready to trace: the module (meta device), its default input (C, H, W) and provenance."""

    module: Any  # torch.nn.Module
    name: str
    default_input_chw: tuple[int, int, int]
    meta: dict = field(default_factory=dict)


def is_onnx_path(model: object) -> bool:
    """A MODEL naming an ONNX file: read by hwmap.interop.onnx, not built as an nn.Module."""
    return isinstance(model, (str, Path)) and str(model).lower().endswith(ONNX_SUFFIX)


def parse_input_shape(text: str, *, argument: str = "input_shape") -> tuple[int, int, int]:
    """'3x512x512' -> (3, 512, 512); 'HxW' keeps 3 channels. A bad text is a ParameterError naming argument."""
    parts = [p.strip() for p in text.lower().replace("*", "x").split("x")]
    if len(parts) == 2:
        parts = ["3", *parts]
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and 0 < int(p) <= 65536 for p in parts):
        raise ParameterError(argument, f"{text!r}: expected CxHxW with positive integers up to 65536, e.g. "
                                       "3x224x224")
    c, h, w = (int(p) for p in parts)
    return c, h, w


@cache
def packaged_json(name: str) -> dict:
    """A data file shipped in hwmap/data (published facts with their provenance)."""
    return json.loads(resources.files("hwmap.data").joinpath(name).read_text())


def build_model(spec: str, *, num_classes: int | None = None) -> BuiltModel:
    """Build the model a spec names, on the meta device."""
    spec = spec.strip()
    if is_onnx_path(spec):
        raise ModelError(f"{spec} is an ONNX model: it has a layer graph (flops, estimate, census) but no "
                         "module to transform or evaluate; use the model it was exported from")
    if spec.startswith("timm:"):
        return _build_timm(spec.removeprefix("timm:"), num_classes, spec)
    if spec.startswith("tv:"):
        return _build_torchvision(spec.removeprefix("tv:"), num_classes)
    if spec.startswith("hf:"):
        return _build_hf_path(Path(spec.removeprefix("hf:")), num_classes)
    if spec.lower() in SEGFORMER_VARIANTS:
        return _build_segformer(spec.lower(), num_classes)
    if spec.startswith(OFA_PREFIX):
        return _build_ofa(spec.removeprefix(OFA_PREFIX), num_classes)
    if _timm_has(spec):
        return _build_timm(spec, num_classes, spec)
    raise ModelError(_unknown_model_message(spec))


def builtin_model_names() -> list[str]:
    """The names hwmap builds itself (timm and torchvision names come on top, see model_catalog_sizes)."""
    return [*SEGFORMER_VARIANTS, OFA_EXAMPLE]


def _unknown_model_message(spec: str) -> str:
    """Suggestions: names the spec begins (shortest first: 'deit_small' -> 'deit_small_patch16_224'), then
    difflib's close matches (typos: 'resnet5O' -> 'resnet50'); five at most."""
    candidates = builtin_model_names() + _timm_names() + [f"tv:{n}" for n in _torchvision_names()]
    stem = spec.removeprefix("timm:").lower()
    prefixed = sorted((c for c in candidates if stem and c.lower().startswith(stem)), key=lambda c: (len(c), c))
    close = list(dict.fromkeys(prefixed[:5] + difflib.get_close_matches(spec, candidates, n=5, cutoff=0.6)))[:5]
    hint = f"; close matches: {', '.join(close)}" if close else ""
    return (f"unknown model {spec!r}{hint} (a timm name, tv:<torchvision name>, segformer-b0..b5, "
            f"hf:<config folder>, {OFA_PREFIX}<d;e;w> or a saved graph .json; `hwmap models` lists them)")


# ---------------------------------------------------------------- timm


@lru_cache(maxsize=1)
def _timm_names() -> list[str]:
    import timm

    return timm.list_models()


def _timm_has(name: str) -> bool:
    import timm

    return timm.is_model(name)


# In-place ops that weight initialisers run (trunc_normal_: uniform_, erfinv_, mul_, add_, clamp_); none changes a
# tensor's shape, dtype or strides.
_INIT_OPS = frozenset({"uniform_", "normal_", "erfinv_", "mul_", "add_", "sub_", "div_", "clamp_", "fill_", "zero_",
                       "copy_", "exponential_", "bernoulli_", "random_"})


def _skip_meta_init():
    """A dispatch mode under which initialisers' in-place ops on meta tensors do nothing.

    A meta tensor has no values, so these ops only check shapes, yet torch runs them through Python
    decompositions (timm's trunc_normal_ is ~80% of building a ViT on meta). Skipping them leaves every
    parameter's shape, dtype and strides as they were (checked against a plain meta build in tests).
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class SkipMetaInit(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if (func.overloadpacket.__name__ in _INIT_OPS and args and isinstance(args[0], torch.Tensor)
                    and args[0].is_meta):
                return args[0]
            return func(*args, **(kwargs or {}))

    return SkipMetaInit()


def _build_timm(name: str, num_classes: int | None, spec: str) -> BuiltModel:
    import timm
    import torch

    if not timm.is_model(name):
        raise ModelError(_unknown_model_message(spec))
    kwargs = {"pretrained": False}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    with torch.device("meta"), _skip_meta_init():
        module = timm.create_model(name, **kwargs)
    c, h, w = module.pretrained_cfg.get("input_size", (3, 224, 224))
    return BuiltModel(module, name, (int(c), int(h), int(w)), {"source": "timm", "timm_version": timm.__version__})


# ---------------------------------------------------------------- torchvision


@lru_cache(maxsize=1)
def _torchvision_names() -> list[str]:
    import torchvision

    return torchvision.models.list_models()


def _build_torchvision(name: str, num_classes: int | None) -> BuiltModel:
    import torch
    import torchvision

    if name not in _torchvision_names():
        raise ModelError(_unknown_model_message(f"tv:{name}"))
    kwargs = {"weights": None}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    with torch.device("meta"):
        module = torchvision.models.get_model(name, **kwargs)
    size = _torchvision_crop_size(name)
    meta = {"source": "torchvision", "torchvision_version": torchvision.__version__}
    return BuiltModel(module, f"tv:{name}", (3, size, size), meta)


def _torchvision_crop_size(name: str) -> int:
    """The evaluation crop of the model's default weights (metadata only, nothing downloaded); 224 if none."""
    import torchvision

    try:
        transforms = torchvision.models.get_model_weights(name).DEFAULT.transforms()
        crop = transforms.crop_size
        return int(crop[0] if isinstance(crop, (list, tuple)) else crop)
    except Exception:  # models without weights metadata
        return 224


# ---------------------------------------------------------------- Hugging Face


def segformer_hyperparameters(variant: str) -> dict:
    """Published B0..B5 hyperparameters (hwmap/data/segformer_variants.json, with its sources)."""
    data = packaged_json("segformer_variants.json")
    return dict(data["variants"][variant.upper()]["hyperparameters"])


def _build_segformer(variant: str, num_classes: int | None) -> BuiltModel:
    import transformers

    size = variant.split("-")[1]
    config = transformers.SegformerConfig(**segformer_hyperparameters(size), num_labels=num_classes or 150)
    module = _hf_from_config(transformers.SegformerForSemanticSegmentation, config)
    meta = {"source": "transformers SegformerForSemanticSegmentation", "transformers_version":
            transformers.__version__, "hyperparameters": "hwmap/data/segformer_variants.json"}
    return BuiltModel(module, variant, (3, 512, 512), meta)


def _hf_from_config(model_class, config):
    import torch

    config._attn_implementation = "eager"  # attention as explicit matmuls + softmax, counted exactly
    with torch.device("meta"):
        return model_class._from_config(config)


def _build_hf_path(path: Path, num_classes: int | None) -> BuiltModel:
    import transformers

    folder = path.parent if path.suffix == ".json" else path
    config_file = path if path.suffix == ".json" else path / "config.json"
    if not config_file.is_file():
        raise ModelError(f"hf:{path}: no config.json found (expected a folder with config.json or a .json file)")
    try:
        data = json.loads(config_file.read_text())
        config = transformers.AutoConfig.for_model(**data) if path.suffix == ".json" else \
            transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:
        raise ModelError(f"hf:{path}: cannot read the config: {type(exc).__name__}: {exc}") from None
    for key in ("image_size", "num_channels", "patch_size", "hidden_size", "num_hidden_layers", "num_labels"):
        value = getattr(config, key, None)
        values = value if isinstance(value, list | tuple) else [value]
        if value is not None and not all(type(v) is int and 0 < v <= 65536 for v in values):
            raise ModelError(f"hf:{path}: config field {key} is {value!r}; expected positive integers up to 65536")
    if num_classes is not None:
        config.num_labels = num_classes
    architectures = getattr(config, "architectures", None) or []
    model_class = getattr(transformers, architectures[0], None) if architectures else None
    if model_class is None:
        model_class = transformers.AutoModel._model_mapping[type(config)]
    module = _hf_from_config(model_class, config)
    image = getattr(config, "image_size", 224)
    h, w = (image, image) if isinstance(image, int) else tuple(image)
    channels = int(getattr(config, "num_channels", 3))
    meta = {"source": f"transformers {model_class.__name__}", "config": str(config_file)}
    return BuiltModel(module, f"hf:{path}", (channels, int(h), int(w)), meta)


# ---------------------------------------------------------------- Once-For-All


def _build_ofa(text: str, num_classes: int | None) -> BuiltModel:
    import torch

    from hwmap.graph.ofa import build_ofa_resnet50, default_resolution, parse_ofa_spec

    arch = parse_ofa_spec(text)
    with torch.device("meta"):
        module = build_ofa_resnet50(arch, num_classes=num_classes or 1000)
    size = default_resolution(arch)
    return BuiltModel(module, f"{OFA_PREFIX}{arch}", (3, size, size), {"source": "hwmap OFA ResNet-50 builder"})


def timm_and_torchvision_names() -> tuple[list[str], list[str]]:
    return _timm_names(), _torchvision_names()


