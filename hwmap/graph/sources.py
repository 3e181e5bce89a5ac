"""Model names as front ends (hwmap.graph.frontends): a name becomes an nn.Module with random weights on the meta
device, traced into a LayerGraph (through the graph cache) or built for paths and calibration (build_model).

Names: '<timm name>' or 'timm:<name>', 'tv:<torchvision name>', 'segformer-b0'..'segformer-b5',
'hf:<folder or config.json>', 'ofa-resnet50:d=..;e=..;w=..', 'path/to/file.py:ClassOrFactory' (the user's own
module, hwmap.graph.module_file). No weights are ever downloaded.
A '.onnx' file is a model too, but not a module: its front end (hwmap.interop.frontends) lowers the ONNX graph
itself, so build_model refuses it.
torch, timm, torchvision and transformers are imported only when a model is built.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwmap.errors import ModelError, ParameterError
from hwmap.graph.frontends import front_end_for, model_routes, register_front_end
from hwmap.graph.module_file import SPEC_FORM, build_module, is_module_file_spec
from hwmap.graph.spec import GraphSpec
from hwmap.limits import MAX_CLASSES, MAX_LAYERS, MAX_RESOLUTION, parse_input_shape  # noqa: F401 - re-exported

if TYPE_CHECKING:  # pragma: no cover
    from hwmap.graph.ir import LayerGraph

ONNX_SUFFIX = ".onnx"
SEGFORMER_VARIANTS = tuple(f"segformer-b{i}" for i in range(6))
OFA_PREFIX = "ofa-resnet50:"
OFA_EXAMPLE = "ofa-resnet50:d=2,2,2,2,2;e=0.35;w=2,2,2,2,2,2"
# A module from a Python file declares no input size: graph extraction asks for one (hwmap.interop.inputs); path
# transforms and evaluation take the paths file's input.
MODULE_FILE_DEFAULT_CHW = (3, 224, 224)
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


@cache
def packaged_json(name: str) -> dict:
    """A data file shipped in hwmap/data (published facts with their provenance)."""
    return json.loads(resources.files("hwmap.data").joinpath(name).read_text())


def build_model(spec: str, *, num_classes: int | None = None) -> BuiltModel:
    """Build the model a name gives, on the meta device (its front end's builder)."""
    spec = spec.strip()
    if is_onnx_path(spec):  # checked here too: the ONNX front end is registered by hwmap.interop
        raise ModelError(f"{spec} is an ONNX model: it has a layer graph (flops, estimate, census) but no "
                         "module to transform or evaluate; use the model it was exported from")
    front_end = front_end_for(spec)
    if front_end.build is None:
        raise ModelError(f"{spec} is {front_end.route}: it has a layer graph (flops, estimate, census) but no "
                         "module to transform or evaluate; use the model it was made from")
    return front_end.build(spec, num_classes)


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
    return f"unknown model {spec!r}{hint}; a model is {model_routes()}; `hwmap models` lists the names"


# ---------------------------------------------------------------- timm


@lru_cache(maxsize=1)
def _timm_names() -> list[str]:
    import timm

    return timm.list_models()


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
    if config_file.stat().st_size > _HF_CONFIG_MAX_BYTES:
        raise ModelError(f"hf:{path}: {config_file.stat().st_size:,} bytes is too large for a config.json "
                         f"(max {_HF_CONFIG_MAX_BYTES:,})")
    try:
        data = json.loads(config_file.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(f"hf:{path}: cannot read the config: {type(exc).__name__}: {exc}") from None
    check_hf_config_sizes(data, where=f"hf:{path}")  # before transformers builds anything from it
    try:
        config = transformers.AutoConfig.for_model(**data) if path.suffix == ".json" else \
            transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:
        raise ModelError(f"hf:{path}: cannot read the config: {type(exc).__name__}: {exc}") from None
    if num_classes is not None:
        config.num_labels = num_classes
    model_class = _hf_model_class(transformers, config, where=f"hf:{path}")
    module = _hf_from_config(model_class, config)
    image = getattr(config, "image_size", 224)
    h, w = (image, image) if isinstance(image, int) else tuple(image)
    channels = int(getattr(config, "num_channels", 3))
    meta = {"source": f"transformers {model_class.__name__}", "config": str(config_file)}
    return BuiltModel(module, f"hf:{path}", (channels, int(h), int(w)), meta)


_HF_CONFIG_MAX_BYTES = 16_000_000  # an ImageNet-21k id2label is ~1 MB
# config keys whose value is a size (an image side, a width) or a count of repeated layers (summed per config)
_HF_SIZE_KEYS = frozenset({"image_size", "num_channels", "patch_size", "hidden_size", "hidden_sizes", "embed_dim",
                           "intermediate_size", "num_attention_heads", "patch_sizes", "strides"})
_HF_DEPTH_KEYS = frozenset({"num_hidden_layers", "num_layers", "depths", "encoder_layers", "decoder_layers",
                            "num_encoder_blocks", "num_decoder_layers"})
# The transformers model classes hwmap builds: those transformers itself pairs with the config's model_type for a
# vision task (a config's `architectures` naming anything else, e.g. a function of transformers, is refused).
_HF_AUTO_CLASSES = ("AutoModelForImageClassification", "AutoModelForSemanticSegmentation",
                    "AutoModelForObjectDetection", "AutoModelForDepthEstimation", "AutoModelForImageSegmentation",
                    "AutoModelForInstanceSegmentation", "AutoModelForUniversalSegmentation",
                    "AutoModelForMaskedImageModeling", "AutoModelForKeypointDetection", "AutoModelForImageToImage",
                    "AutoModelForVideoClassification", "AutoBackbone", "AutoModel")


def check_hf_config_sizes(data: object, *, where: str) -> None:
    """A Hugging Face config (its JSON, nested configs included) inside hwmap.limits, before anything is built:
    sizes up to MAX_RESOLUTION, labels up to MAX_CLASSES, repeated layers (of all nested configs) summed up to
    MAX_LAYERS."""
    if not isinstance(data, dict):
        raise ModelError(f"{where}: the config is a JSON {type(data).__name__}, expected an object")
    try:
        depth = _hf_layers(data, where=where)
    except RecursionError:
        raise ModelError(f"{where}: the config is nested too deeply") from None
    if depth > MAX_LAYERS:
        raise ModelError(f"{where}: the config has {depth:,} repeated layers; expected at most {MAX_LAYERS:,}")


def _hf_layers(data: dict, *, where: str, prefix: str = "") -> int:
    """The repeated layers a config (and its nested configs) declares; a size out of bounds is a ModelError."""
    depth = 0
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if isinstance(value, dict):
            depth += _hf_layers(value, where=where, prefix=f"{prefix}{key}.")
        elif key in _HF_SIZE_KEYS | _HF_DEPTH_KEYS | {"num_labels"}:
            limit = MAX_CLASSES if key == "num_labels" else MAX_LAYERS if key in _HF_DEPTH_KEYS else MAX_RESOLUTION
            if not all(type(v) is int and 0 <= v <= limit for v in values):
                raise ModelError(f"{where}: config field {prefix}{key} is {_shown(value)}; expected integers from 0 to "
                                 f"{limit:,}")
            if key in _HF_DEPTH_KEYS:
                depth += sum(values)
        elif key in ("id2label", "label2id") and isinstance(value, dict) and len(value) > MAX_CLASSES:
            raise ModelError(f"{where}: config field {prefix}{key} has {len(value):,} labels; expected at most "
                             f"{MAX_CLASSES:,}")
    return depth


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _hf_model_class(transformers, config, *, where: str):
    """The class to build: the config's architectures[0] if transformers pairs it with the config's model_type for
    a vision task, else the base model (AutoModel); anything else is one ModelError."""
    allowed: dict[str, Any] = {}
    for auto_name in _HF_AUTO_CLASSES:  # AutoModel last: the base model, built when the config names no class
        auto = getattr(transformers, auto_name, None)
        with contextlib.suppress(Exception):  # no such task for this model_type in this transformers version
            model_class = auto._model_mapping[type(config)]
            allowed.setdefault(model_class.__name__, model_class)
    architectures = getattr(config, "architectures", None) or []
    model_type = getattr(config, "model_type", "?")
    if not allowed:
        raise ModelError(f"{where}: transformers has no vision model for model_type {model_type!r}")
    if not architectures:
        return list(allowed.values())[-1]
    name = architectures[0]
    if name not in allowed:
        known = ", ".join(sorted(allowed)) or "none"
        raise ModelError(f"{where}: architectures names {_shown(name)}, not a vision model class transformers "
                         f"builds for model_type {model_type!r} (expected one of: {known})")
    return allowed[name]


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


# ---------------------------------------------------------------- the front ends of model names


def _read_name(spec: GraphSpec) -> LayerGraph:
    """The graph of a model name: from the graph cache, else built and traced (and stored)."""
    from hwmap.graph import cache as graph_cache

    model = str(spec.model)
    key = graph_cache.graph_key(model, input_shape=spec.input_chw, resolution=spec.resolution, batch=spec.batch,
                                num_classes=spec.num_classes, strict=spec.strict) if spec.cache else None
    if key is not None and (hit := graph_cache.load_cached(key)) is not None:
        return hit
    graph = _trace_name(model, spec)
    if key is not None:
        graph_cache.store(key, graph)
    return graph


def _trace_name(model: str, spec: GraphSpec) -> LayerGraph:
    from hwmap.graph.capture import capture, meta_inputs
    from hwmap.limits import check_graph_size

    built = build_model(model, num_classes=spec.num_classes)
    chw = spec.input_for(built.default_input_chw)
    graph = capture(built.module, meta_inputs([(spec.batch, *chw)]), name=built.name, strict=spec.strict,
                    meta={"spec": model, **built.meta})
    check_graph_size(len(graph.nodes), graph.total_macs, name=model)
    return graph


def _is_name(model: object) -> bool:
    return isinstance(model, str | Path)


def _has_prefix(prefix: str):
    return lambda model: _is_name(model) and str(model).strip().startswith(prefix)


def _builder(build, prefix: str = ""):
    """A front end's builder from one of the _build_* functions above ((name, num_classes) -> BuiltModel)."""
    return lambda spec, num_classes: build(spec.strip().removeprefix(prefix), num_classes)


register_front_end("timm", route="a timm name (resnet50, deit_small_patch16_224)", order=0, fallback=True,
                   matches=_is_name,
                   build=lambda spec, num_classes: _build_timm(spec.strip(), num_classes, spec.strip()))(_read_name)
register_front_end("timm-prefixed", route="", order=5, matches=_has_prefix("timm:"),
                   build=lambda spec, num_classes: _build_timm(spec.strip().removeprefix("timm:"), num_classes,
                                                               spec.strip()))(_read_name)
register_front_end("torchvision", route="tv:<torchvision name>", order=10, matches=_has_prefix("tv:"),
                   build=_builder(_build_torchvision, "tv:"))(_read_name)
register_front_end("segformer", route="segformer-b0..b5", order=20,
                   matches=lambda model: _is_name(model) and str(model).strip().lower() in SEGFORMER_VARIANTS,
                   build=lambda spec, num_classes: _build_segformer(spec.strip().lower(), num_classes))(_read_name)
register_front_end("hugging-face", route="hf:<config folder>", order=30, matches=_has_prefix("hf:"),
                   build=lambda spec, num_classes: _build_hf_path(Path(spec.strip().removeprefix("hf:")),
                                                                  num_classes))(_read_name)
register_front_end("ofa-resnet50", route=OFA_PREFIX + "<d;e;w>", order=40, matches=_has_prefix(OFA_PREFIX),
                   build=_builder(_build_ofa, OFA_PREFIX))(_read_name)


def _build_module_file(spec: str, num_classes: int | None) -> BuiltModel:
    module, name, meta = build_module(spec.strip(), num_classes=num_classes)
    return BuiltModel(module, name, MODULE_FILE_DEFAULT_CHW, meta)


@register_front_end("module-file", route=f"your own module as {SPEC_FORM} (with --input CxHxW)", order=50,
                    matches=is_module_file_spec, build=_build_module_file)
def _read_module_file(spec: GraphSpec) -> LayerGraph:
    """The graph of the user's own module ('file.py:Name'), traced at the input size given (a file declares
    none). Never cached: the file can change under the same spec."""
    from hwmap.graph.capture import capture, meta_inputs

    if spec.input_chw is None and spec.resolution is None:
        raise ParameterError("input_shape", f"is needed for a model from a Python file ({spec.model}): its input "
                                            "size CxHxW, e.g. 3x224x224")
    built = _build_module_file(str(spec.model), spec.num_classes)
    chw = spec.input_for(built.default_input_chw)
    return capture(built.module, meta_inputs([(spec.batch, *chw)]), name=spec.name or built.name,
                   strict=spec.strict, meta={"spec": str(spec.model), **built.meta})
