"""Measure the accuracy of execution paths: each path really runs on the user's data with the user's weights.

For every path: build its base model (meta device) -> allocate it on the device -> load the weights file
(strict: every parameter and buffer, names and shapes checked) -> THEN apply the path's transforms (decoder
pruning slices the loaded weights) -> eval mode -> run the data set at the path's input resolution.

- classification (DIR/<class>/<images>): top-1 in percent;
- segmentation (DIR/images + DIR/masks): mIoU in percent: one confusion matrix over every labelled pixel of the
  data set (255 ignored), IoU per class, averaged over the classes present in the ground truth or the
  prediction. Logits are upsampled (bilinear) to each mask's own size before the argmax.

Every result is an Accuracy with source 'measured' and a provenance naming the data folder, the number of
images, the weights file (with a sha256 prefix), the input and the device. Fewer than MIN_IMAGES (100) images
per path raise a SmallSampleWarning after the run: top-1 from n images has a standard error of up to
50/sqrt(n) points (binomial, p = 0.5), 5 points at n = 100. A path that cannot be measured (no
weights for its model, weights that do not match, a transform that breaks the forward) is an error naming the
path, never a silently missing or assumed accuracy.

Weights files: a state_dict saved with torch.save (.pt/.pth/.bin, read with weights_only=True), a .safetensors
file (needs the safetensors package), or a Hugging Face model folder (model.safetensors / pytorch_model.bin).
A dict holding the state_dict under 'state_dict', 'model', 'model_state_dict', 'module', 'net' or 'ema' is
unwrapped. Key prefixes 'module.' (DataParallel/DDP), '_orig_mod.' (torch.compile) and 'model.' are stripped
when that makes the keys match; Hugging Face checkpoints in an older layout are renamed with transformers' own
checkpoint renaming rules (renames only: checkpoints that need tensors merged or split are not supported).
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hwmap.errors import HwmapError, ParameterError
from hwmap.fileio import atomic_write_text
from hwmap.paths.catalog import Accuracy
from hwmap.paths.datasets import (
    IGNORE_INDEX,
    IMAGENET_NORMALISATION,
    ClassificationFolder,
    ClassMap,
    Dataset,
    Normalisation,
    SegmentationFolder,
    batch_count,
    iter_batches,
    open_dataset,
)
from hwmap.paths.model import PathSet, PathSpec, with_accuracy
from hwmap.yamlio import dump_yaml, parse_yaml_text

ProgressFn = Callable[[str, int, int], None]  # (path name, batches done, batches of this path); (name, 0, n) first
MIN_IMAGES = 100  # fewer images per path than this: SmallSampleWarning
TaskName = Literal["classification", "segmentation", "auto"]

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "ema")
_STRIPPABLE_PREFIXES = ("module.", "_orig_mod.", "model.")
_HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class EvaluationError(HwmapError):
    """A path that cannot be measured: missing or mismatched weights, a broken forward, a bad device."""


class SmallSampleWarning(UserWarning):
    """Accuracies measured on fewer than MIN_IMAGES images: differences between paths may be noise."""


def small_sample_message(images: int, *, minimum: int = MIN_IMAGES, task: str = "classification") -> str | None:
    """One line when images < minimum, else None. For top-1 it quotes the binomial standard error's bound,
    50/sqrt(n) points; mIoU has no such simple bound."""
    if images >= minimum:
        return None
    if task == "segmentation":
        return (f"mIoU measured on only {images} images per path (fewer than {minimum}): differences between paths "
                "may be noise")
    return (f"accuracies measured on only {images} images per path (fewer than {minimum}): each has a standard "
            f"error of up to {50 / math.sqrt(images):.1f} points, so differences between paths may be noise")


@dataclass(frozen=True)
class WeightsFile:
    path: Path
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.path} (sha256 {self.sha256[:12]})"


@dataclass(frozen=True)
class PathMeasurement:
    """One path's measured accuracy and what it was measured on."""

    name: str
    model: str
    input_chw: tuple[int, int, int]
    accuracy: Accuracy
    images: int
    weights: WeightsFile
    seconds: float

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "input": "x".join(map(str, self.input_chw)),
                "images": self.images, "weights": str(self.weights.path), "weights_sha256": self.weights.sha256,
                "seconds": round(self.seconds, 3), **self.accuracy.to_dict()}


# ---------------------------------------------------------------- public entry points


def evaluate_paths(paths: PathSet, **measure_keywords: Any) -> dict[str, Accuracy]:
    """Measured accuracy of every path, by path name: measure_paths (same keywords: data_dir, weights, task,
    batch_size, device, limit, normalisation, class_map, progress) without the details. weights: model spec ->
    weights file (every path's model needs one; paths cut from the same model share its file)."""
    return {m.name: m.accuracy for m in measure_paths(paths, **measure_keywords)}


def measure_paths(
    paths: PathSet,
    *,
    data_dir: str | Path,
    weights: Mapping[str, str | Path],
    task: TaskName = "auto",
    batch_size: int = 32,
    device: str = "cpu",
    limit: int | None = None,
    normalisation: Normalisation | None = IMAGENET_NORMALISATION,
    class_map: ClassMap | None = None,
    progress: ProgressFn | None = None,
) -> list[PathMeasurement]:
    """evaluate_paths with the details (images, weights, input, time) of each measurement, in path order.
    Everything that can be checked up front (data folder, class map, weights files, device) is checked before
    any path runs. class_map: folder name -> class index for classification folders (datasets.load_class_map);
    without one, class index = sorted folder order. progress(path, batches done, batches) is called with 0 done
    when a path starts (before its weights load) and after every batch. Fewer than MIN_IMAGES images: a
    SmallSampleWarning after the run."""
    if task not in ("classification", "segmentation", "auto"):
        raise ParameterError("task", f"{task!r}: expected classification, segmentation or auto")
    if batch_size < 1:
        raise ParameterError("batch", f"must be >= 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise ParameterError("limit", f"must be >= 1, got {limit}")
    dataset = open_dataset(data_dir, task=task, class_map=class_map).subset(limit)
    files = _weights_per_path(paths, weights)
    torch_device = _device(device)
    hashed = {file: WeightsFile(file, _sha256(file)) for file in dict.fromkeys(files.values())}
    runner = _Runner(dataset=dataset, device=torch_device, batch_size=batch_size, normalisation=normalisation,
                     progress=progress)
    measured = [runner.measure(spec, hashed[files[spec.name]]) for spec in paths.paths]
    message = small_sample_message(len(dataset.samples), task=dataset.task)
    if message is not None:
        warnings.warn(message, SmallSampleWarning, stacklevel=2)
    return measured


def default_model_of(paths: PathSet) -> str:
    """The paths file's top-level model (what weights applies to); the first path's model if it sets none."""
    model = paths.meta.get("model") if isinstance(paths.meta, dict) else None
    if not model and paths.source and Path(paths.source).is_file():
        try:
            data, _lines = parse_yaml_text(Path(paths.source).read_text(encoding="utf-8"), source=paths.source)
        except (OSError, UnicodeDecodeError, HwmapError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("model"), str):
            model = data["model"]
    return model or paths.paths[0].model


def weights_by_model(paths: PathSet, *, weights: str | None, weights_for: Sequence[str] = ()) -> dict[str, Path]:
    """weights FILE (for the paths file's model) and weights_for MODEL=FILE (other models) as a mapping."""
    models = list(dict.fromkeys(p.model for p in paths.paths))
    mapping: dict[str, Path] = {}
    if weights:
        mapping[default_model_of(paths)] = Path(weights)
    for item in weights_for:
        # model specs may hold '=' themselves (ofa-resnet50:d=..): match the paths' models first
        model = next((m for m in sorted(models, key=len, reverse=True) if item.startswith(f"{m}=")), None)
        if model is None:
            model, sep, _file = item.rpartition("=")
            if not sep or not model:
                raise ParameterError("weights_for", f"{item!r}: expected MODEL=FILE, e.g. segformer-b0=b0.pt")
            raise ParameterError("weights_for", f"{item!r}: no path uses model {model!r}; the paths' models are: "
                                  f"{', '.join(models)}")
        if model in mapping:
            raise EvaluationError(f"weights for model {model!r} given twice (weights applies to the paths file's "
                                  f"model {default_model_of(paths)!r})")
        mapping[model] = Path(item[len(model) + 1:])
    if not mapping:
        raise EvaluationError("no weights given: pass weights FILE (for the paths file's model "
                              f"{default_model_of(paths)!r}) and weights_for MODEL=FILE for other models")
    return mapping


def write_paths_with_accuracy(paths: PathSet, accuracies: Mapping[str, Accuracy], out: str | Path) -> Path:
    """The paths file again, with the measured accuracies filled in (ready for `hwmap select-paths`)."""
    updated = with_accuracy(paths, dict(accuracies))
    classes = {p.num_classes for p in updated.paths}
    document: dict = {"schema_version": 1, "model": default_model_of(paths)}
    if len(classes) == 1 and None not in classes:
        document["num_classes"] = classes.pop()
    document["paths"] = [p.to_entry() for p in updated.paths]
    return atomic_write_text(out, dump_yaml(document))


# ---------------------------------------------------------------- metrics


def confusion_matrix(target, prediction, num_classes: int, *, ignore_index: int = IGNORE_INDEX):
    """(num_classes, num_classes) int64 tensor: rows are ground-truth classes, columns predicted classes;
    pixels labelled ignore_index are left out."""
    import torch

    target = target.reshape(-1).to(torch.int64).cpu()
    prediction = prediction.reshape(-1).to(torch.int64).cpu()
    keep = target != ignore_index
    target, prediction = target[keep], prediction[keep]
    counts = torch.bincount(target * num_classes + prediction, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def mean_iou(confusion) -> float:
    """Mean IoU (0..1) of a confusion matrix: IoU_c = TP / (TP + FP + FN), averaged over the classes present in
    the ground truth or the prediction (TP + FP + FN > 0)."""
    import torch

    confusion = torch.as_tensor(confusion, dtype=torch.float64)
    true_positive = confusion.diagonal()
    union = confusion.sum(0) + confusion.sum(1) - true_positive
    present = union > 0
    if not bool(present.any()):
        raise EvaluationError("mIoU: no labelled pixels (every mask pixel is 255 = ignore)")
    return float((true_positive[present] / union[present]).mean())


# ---------------------------------------------------------------- running paths


def _weights_per_path(paths: PathSet, weights: Mapping[str, str | Path]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for spec in paths.paths:
        file = weights.get(spec.model)
        if file is None:
            given = ", ".join(weights) or "none"
            raise EvaluationError(f"path {spec.name!r}: no weights for its model {spec.model!r} (weights given for: "
                                  f"{given}); pass weights_for {spec.model}=FILE")
        files[spec.name] = _weights_location(Path(file))
    return files


def _weights_location(path: Path) -> Path:
    if path.is_dir():
        for name in _HF_WEIGHT_FILES:
            if (path / name).is_file():
                return path / name
        raise EvaluationError(f"weights folder {path}: holds none of {', '.join(_HF_WEIGHT_FILES)}")
    if not path.exists():
        raise EvaluationError(f"weights file {path}: no such file")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise EvaluationError(f"weights file {path}: cannot read it ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _device(name: str):
    """'auto' (cuda:0 when CUDA is available, else cpu), 'cpu', 'cuda' or 'cuda:N' as a checked torch.device."""
    import torch

    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ParameterError("device", f"{name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError("device", f"{name}: no CUDA device is available (torch {torch.__version__})")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ParameterError("device", f"{name}: only {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ParameterError("device", f"{name!r}: expected auto, cpu, cuda or cuda:N")
    return device


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:400]}"


@dataclass
class _Runner:
    dataset: Dataset
    device: object
    batch_size: int
    normalisation: Normalisation | None
    progress: ProgressFn | None
    _states: dict = field(default_factory=dict)  # weights file -> state_dict (CPU)
    _buffers: dict = field(default_factory=dict)  # (model, classes) -> non-persistent buffers
    _built: dict = field(default_factory=dict)  # (model, classes) -> BuiltModel on meta, copied per path
    _batch_cache: dict = field(default_factory=dict)  # input (C, H, W) -> decoded batches, for small data sets

    def measure(self, spec: PathSpec, weights: WeightsFile) -> PathMeasurement:
        start = time.perf_counter()
        self._tick(spec, 0, batch_count(self.dataset, self.batch_size))  # building and loading take a while
        module, input_chw, _model_name = self._prepare(spec, weights)
        if isinstance(self.dataset, ClassificationFolder):
            value, metric, images, what = self._classification(module, spec, input_chw)
        else:
            value, metric, images, what = self._segmentation(module, spec, input_chw)
        dataset = self.dataset
        subset = f", evenly spaced {images} of {dataset.total}" if images < dataset.total else ""
        normalised = "ImageNet mean/std" if self.normalisation == IMAGENET_NORMALISATION else \
            (self.normalisation.describe() if self.normalisation else "no normalisation")
        provenance = (f"measured by hwmap evaluate: {what} on {images} images of {dataset.root.resolve()}{subset}; "
                      f"weights {weights.label}; input {'x'.join(map(str, input_chw))} ({normalised}); "
                      f"device {self.device}")
        accuracy = Accuracy(round(100.0 * value, 4), metric, "measured", provenance)
        return PathMeasurement(spec.name, spec.model, input_chw, accuracy, images, weights,
                               time.perf_counter() - start)

    # ------------------------------------------------------------ model

    def _prepare(self, spec: PathSpec, weights: WeightsFile):
        import torch

        from hwmap.graph.sources import build_model
        from hwmap.paths.model import apply_path_transforms, path_input_chw

        key = (spec.model, spec.num_classes)
        if key not in self._built:  # building on meta runs the model's init on meta tensors: build once, copy
            self._built[key] = build_model(spec.model, num_classes=spec.num_classes)
        built = self._built[key]
        module = copy.deepcopy(built.module)
        input_chw = path_input_chw(spec, built)
        state = self._state(weights.path)
        matched = _match_state_dict(state, module, weights=weights.path, spec=spec)
        buffers = self._nonpersistent_buffers(built, module, spec)
        module.to_empty(device=self.device)
        with torch.no_grad():
            for name, value in buffers.items():
                module.get_buffer(name).copy_(value)
        try:
            module.load_state_dict(matched, strict=True)
        except RuntimeError as exc:
            raise EvaluationError(f"path {spec.name!r}: weights {weights.path} do not load into {built.name}: "
                                  f"{_one_line(exc)}") from None
        module.eval()
        example = torch.zeros((1, *input_chw), device=self.device)
        try:
            with torch.no_grad():
                apply_path_transforms(module, spec, [example], model_name=built.name)
        except HwmapError as exc:
            raise EvaluationError(f"path {spec.name!r}: {exc}") from None
        except Exception as exc:
            raise EvaluationError(f"path {spec.name!r}: the transformed model does not run on input "
                                  f"1x{'x'.join(map(str, input_chw))}: {_one_line(exc)}") from None
        return module, input_chw, built.name

    def _state(self, path: Path) -> dict:
        if path not in self._states:
            self._states[path] = _read_state_dict(path)
        return self._states[path]

    def _nonpersistent_buffers(self, built, module, spec: PathSpec) -> dict:
        """Buffers that the weights file does not hold (computed at construction, e.g. Swin's relative position
        index): a meta build has no values for them, so they come from one real construction on the CPU."""
        names = _nonpersistent_buffer_names(module)
        if not names:
            return {}
        key = (spec.model, spec.num_classes)
        if key not in self._buffers:
            reference = dict(_construct_on_cpu(built, spec).named_buffers())
            missing = [n for n in names if n not in reference]
            if missing:
                raise EvaluationError(f"path {spec.name!r}: cannot restore the buffers {', '.join(missing[:3])} of "
                                      f"{built.name} (computed at construction, not stored in weights files)")
            self._buffers[key] = {n: reference[n] for n in names}
        return self._buffers[key]

    # ------------------------------------------------------------ running

    def _batches(self, input_chw):
        """The data set's batches at input_chw; decoded once per input size when they fit in _CACHE_BYTES
        (paths that differ only in skipped blocks share their input)."""
        if input_chw in self._batch_cache:
            return iter(self._batch_cache[input_chw])
        batches = iter_batches(self.dataset, input_chw=input_chw, batch_size=self.batch_size,
                               normalisation=self.normalisation)
        channels, height, width = input_chw
        per_image = channels * height * width * 4 + (height * width * 8 if self.dataset.task == "segmentation" else 0)
        if len(self.dataset.samples) * per_image > _CACHE_BYTES:
            return batches
        self._batch_cache.clear()  # one input size at a time
        return _caching(batches, lambda done: self._batch_cache.__setitem__(input_chw, done))

    def _forward(self, module, images, spec: PathSpec):
        try:
            output = module(images.to(self.device))
        except Exception as exc:
            shape = "x".join(map(str, images.shape))
            raise EvaluationError(f"path {spec.name!r}: the model does not run on input {shape}: "
                                  f"{_one_line(exc)}") from None
        logits = _logits(output)
        if logits is None:
            raise EvaluationError(f"path {spec.name!r}: cannot find logits in the model's output "
                                  f"({type(output).__name__})")
        return logits

    def _tick(self, spec: PathSpec, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(spec.name, done, total)

    def _classification(self, module, spec: PathSpec, input_chw):
        import torch

        dataset = self.dataset
        assert isinstance(dataset, ClassificationFolder)
        total = batch_count(dataset, self.batch_size)
        correct = seen = 0
        with torch.inference_mode():
            for index, batch in enumerate(self._batches(input_chw)):
                logits = self._forward(module, batch.images, spec)
                if logits.ndim != 2:
                    raise EvaluationError(f"path {spec.name!r}: the model outputs shape {tuple(logits.shape)}, not "
                                          "(batch, classes): a segmentation model? (task segmentation with "
                                          "images/ and masks/ folders)")
                _check_classes(spec, dataset, int(logits.shape[1]))
                correct += int((logits.argmax(1).cpu() == batch.labels).sum())
                seen += len(batch.labels)
                self._tick(spec, index + 1, total)
        mapped = f" (class map {dataset.class_map.source})" if dataset.class_map is not None else ""
        return correct / seen, "top1", seen, f"top-1 over {len(dataset.classes)} classes{mapped}"

    def _segmentation(self, module, spec: PathSpec, input_chw):
        import torch
        import torch.nn.functional as F

        dataset = self.dataset
        assert isinstance(dataset, SegmentationFolder)
        total = batch_count(dataset, self.batch_size)
        confusion = None
        seen = 0
        with torch.inference_mode():
            for index, batch in enumerate(self._batches(input_chw)):
                logits = self._forward(module, batch.images, spec)
                if logits.ndim != 4:
                    raise EvaluationError(f"path {spec.name!r}: the model outputs shape {tuple(logits.shape)}, not "
                                          "(batch, classes, height, width): a classification model? (task "
                                          "classification with DIR/<class>/<image> folders)")
                classes = logits.shape[1]
                if confusion is None:
                    confusion = torch.zeros((classes, classes), dtype=torch.int64)
                for j, mask in enumerate(batch.masks):
                    bad = (mask != IGNORE_INDEX) & (mask >= classes)
                    if bool(bad.any()):
                        raise EvaluationError(f"mask {batch.mask_files[j]}: class index {int(mask[bad].max())} but "
                                              f"path {spec.name!r} predicts {classes} classes (0..{classes - 1}, "
                                              f"{IGNORE_INDEX} = ignore)")
                    upsampled = F.interpolate(logits[j:j + 1].float(), size=tuple(mask.shape), mode="bilinear",
                                              align_corners=False)
                    confusion += confusion_matrix(mask, upsampled.argmax(1)[0], classes)
                seen += len(batch.masks)
                self._tick(spec, index + 1, total)
        labelled = int(confusion.sum())
        return mean_iou(confusion), "miou", seen, f"mIoU over {labelled} labelled pixels"


_CACHE_BYTES = 256 * 2**20


def _check_classes(spec: PathSpec, dataset: ClassificationFolder, model_classes: int) -> None:
    if dataset.class_map is None:
        if model_classes != len(dataset.classes):
            raise EvaluationError(f"path {spec.name!r}: the model has {model_classes} classes but {dataset.root} has "
                                  f"{len(dataset.classes)} class folders (class index = sorted folder order; pass "
                                  "a class map (folder -> index) or set num_classes in the paths file)")
        return
    name, index = max(((n, dataset.class_map.index[n]) for n in dataset.classes), key=lambda item: item[1])
    if index >= model_classes:
        raise EvaluationError(f"path {spec.name!r}: class map {dataset.class_map.source} gives folder {name!r} "
                              f"class {index}, but the model has {model_classes} classes (0..{model_classes - 1})")


def _caching(batches, store):
    """Yield the batches and store them once all were read (a run cut short caches nothing)."""
    cached = []
    for batch in batches:
        cached.append(batch)
        yield batch
    store(cached)


def _logits(output):
    import torch

    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, Mapping):
        for key in ("logits", "out"):
            if isinstance(output.get(key), torch.Tensor):
                return output[key]
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def _is_transformers_model(module) -> bool:
    """Without importing transformers (slow) for timm and torchvision models."""
    return any(cls.__module__.startswith("transformers.") and cls.__name__ == "PreTrainedModel"
               for cls in type(module).__mro__)


def _nonpersistent_buffer_names(module) -> list[str]:
    names = []
    for prefix, sub in module.named_modules():
        for buffer in getattr(sub, "_non_persistent_buffers_set", ()):
            if sub._buffers.get(buffer) is not None:
                names.append(f"{prefix}.{buffer}" if prefix else buffer)
    return names


def _construct_on_cpu(built, spec: PathSpec):
    import torch

    module = built.module
    source = str(built.meta.get("source", ""))
    classes = {"num_classes": spec.num_classes} if spec.num_classes is not None else {}
    with torch.device("cpu"):
        if _is_transformers_model(module):
            return type(module)._from_config(module.config)
        if source == "timm":
            import timm

            return timm.create_model(built.name, pretrained=False, **classes)
        if source == "torchvision":
            import torchvision

            return torchvision.models.get_model(built.name.removeprefix("tv:"), weights=None, **classes)
    raise EvaluationError(f"{built.name}: has buffers computed at construction ("
                          f"{', '.join(_nonpersistent_buffer_names(module)[:3])}) that hwmap cannot restore for "
                          f"this model source ({source or 'unknown'})")


# ---------------------------------------------------------------- weights files


def _read_state_dict(path: Path) -> dict:
    import torch

    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise EvaluationError(f"weights file {path}: reading .safetensors needs the safetensors package "
                                  "(pip install safetensors)") from None
        try:
            loaded = load_file(str(path), device="cpu")
        except Exception as exc:
            raise EvaluationError(f"weights file {path}: not a readable safetensors file ({_one_line(exc)})") \
                from None
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise EvaluationError(f"weights file {path}: torch.load(weights_only=True) cannot read it "
                                  f"({_one_line(exc)}); expected a state_dict saved with torch.save (checkpoints "
                                  "that pickle whole objects are not loaded, since unpickling can run code)") from None
    for _ in range(3):
        if _is_state_dict(loaded) or not isinstance(loaded, Mapping):
            break
        inner = next((loaded[k] for k in _WRAPPER_KEYS if isinstance(loaded.get(k), Mapping)), None)
        if inner is None:
            break
        loaded = inner
    if not _is_state_dict(loaded):
        found = f"a dict with keys {', '.join(map(str, list(loaded)[:6]))}" if isinstance(loaded, Mapping) else \
            f"a {type(loaded).__name__}"
        raise EvaluationError(f"weights file {path}: expected a state_dict (parameter name -> tensor), or a dict "
                              f"holding one under {', '.join(repr(k) for k in _WRAPPER_KEYS)}; found {found}")
    return dict(loaded)


def _is_state_dict(value) -> bool:
    import torch

    return isinstance(value, Mapping) and bool(value) and \
        all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _strip_prefixes(state: dict) -> dict:
    for _ in range(len(_STRIPPABLE_PREFIXES) + 1):
        prefix = next((p for p in _STRIPPABLE_PREFIXES if all(k.startswith(p) for k in state)), None)
        if prefix is None:
            break
        state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _hf_renamed(state: dict, module, expected: dict) -> dict | None:
    """Keys renamed the way transformers' from_pretrained renames older checkpoints (and the base-model prefix
    added or stripped); None when the module is not a transformers model or transformers has no such rules."""
    if not _is_transformers_model(module):
        return None
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import WeightRenaming, rename_source_key

        renamings = [t for t in get_model_conversion_mapping(module) if isinstance(t, WeightRenaming)]
        prefix = getattr(module, "base_model_prefix", None) or None
        return {rename_source_key(k, renamings, [], prefix, expected)[0]: v for k, v in state.items()}
    except Exception:  # another transformers version: its private loading helpers differ
        return None


def _match_state_dict(state: dict, module, *, weights: Path, spec: PathSpec) -> dict:
    """The checkpoint with its keys matched to the module's state_dict (names and shapes), or a clear error."""
    import torch

    expected = module.state_dict()  # meta tensors: names and shapes only
    candidates = [state, _strip_prefixes(state)]
    candidates += [c for c in (_hf_renamed(candidates[0], module, expected),
                               _hf_renamed(candidates[1], module, expected)) if c is not None]
    best, best_problems = None, None
    for candidate in candidates:
        missing = [k for k in expected if k not in candidate and not k.endswith("num_batches_tracked")]
        unexpected = [k for k in candidate if k not in expected]
        if not missing and not unexpected:
            best, best_problems = candidate, None
            break
        overlap = len(expected.keys() & candidate.keys())
        if best is None or overlap > best_problems[0]:
            best, best_problems = candidate, (overlap, missing, unexpected)
    if best_problems is not None:
        _overlap, missing, unexpected = best_problems
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        raise EvaluationError(f"path {spec.name!r}: weights {weights} do not match model {spec.model} "
                              f"({len(expected)} tensors): {'; '.join(parts)}; are they this model's weights?")
    matched = dict(best)
    for key in expected:  # BatchNorm's step counter: not used in eval mode, absent from some checkpoints
        if key not in matched:
            matched[key] = torch.zeros((), dtype=torch.long)
    wrong = [(k, tuple(matched[k].shape), tuple(v.shape)) for k, v in expected.items()
             if tuple(matched[k].shape) != tuple(v.shape)]
    if wrong:
        shown = ", ".join(f"{k} {list(got)} vs model {list(want)}" for k, got, want in wrong[:3])
        hint = " (a different num_classes? set num_classes in the paths file)" if \
            any(k.split(".")[-2] in ("fc", "head", "classifier", "last_linear") or "classifier" in k
                for k, _g, _w in wrong if "." in k) else ""
        raise EvaluationError(f"path {spec.name!r}: weights {weights} do not fit model {spec.model}: "
                              f"{len(wrong)} tensors differ in shape: {shown}{hint}")
    return matched
