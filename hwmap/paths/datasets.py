"""Local evaluation data sets: image-folder classification and image/mask-folder segmentation.

Layouts (nothing is downloaded; the user's folders are read as they are):

- classification: ``DIR/<class>/<image>``; a class's index is its folder's position in sorted order (as in
  torchvision's ImageFolder), so the folders must be named the way the model's classes were numbered -- or a
  class map (load_class_map: JSON or CSV, folder name -> class index) gives each folder its index, so a folder
  may hold any subset of the model's classes (10 ImageNet classes for a 1000-class model);
- segmentation: ``DIR/images/<stem>.png|jpg|...`` and ``DIR/masks/<stem>.png``, a one-channel mask of class
  indices (grayscale or palette PNG), 255 = ignore. A mask has its image's size.

Images are resized to the path's input (bilinear), scaled to [0, 1] and normalised (ImageNet mean/std by default).
Masks keep their own size: predictions are upsampled to it, so paths at different input resolutions are scored
on the same pixels. torch, numpy and PIL are imported when data is read, not when hwmap is imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from hwmap.errors import HwmapError, ParameterError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
IGNORE_INDEX = 255
Task = Literal["classification", "segmentation"]


class DatasetError(HwmapError):
    """An evaluation folder that is missing, empty, or holds a file that cannot be read."""


@dataclass(frozen=True)
class Normalisation:
    """Per-channel mean and std applied to [0, 1] pixels (one value applies to every channel)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def describe(self) -> str:
        return f"mean {','.join(f'{m:g}' for m in self.mean)} std {','.join(f'{s:g}' for s in self.std)}"


IMAGENET_NORMALISATION = Normalisation((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class ClassMap:
    """Folder name -> the model's class index, read from `source` (a file name, or '<dict>')."""

    index: dict[str, int]
    source: str


@dataclass(frozen=True)
class ClassificationFolder:
    root: Path
    classes: tuple[str, ...]
    samples: tuple[tuple[Path, int], ...]  # (image, class index)
    total: int  # images in the folder (samples may be a subset, see subset())
    class_map: ClassMap | None = None  # None: class index = sorted folder order

    @property
    def task(self) -> Task:
        return "classification"

    def subset(self, limit: int | None) -> ClassificationFolder:
        return replace(self, samples=_evenly_spaced(self.samples, limit))


@dataclass(frozen=True)
class SegmentationFolder:
    root: Path
    samples: tuple[tuple[Path, Path], ...]  # (image, mask)
    total: int

    @property
    def task(self) -> Task:
        return "segmentation"

    def subset(self, limit: int | None) -> SegmentationFolder:
        return replace(self, samples=_evenly_spaced(self.samples, limit))


Dataset = ClassificationFolder | SegmentationFolder


def _evenly_spaced(samples: tuple, limit: int | None) -> tuple:
    """limit samples spread over the whole (sorted) list, so a limited run still sees every class."""
    if limit is None or limit >= len(samples):
        return samples
    if limit < 1:
        raise ParameterError("limit", f"must be >= 1, got {limit}")
    return tuple(samples[(i * len(samples)) // limit] for i in range(limit))


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def _require_folder(root: Path, what: str) -> None:
    if not root.exists():
        raise DatasetError(f"{what} {root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{what} {root}: not a folder")


def detect_task(root: str | Path) -> Task:
    """'segmentation' when root holds images/ and masks/, else 'classification'."""
    root = Path(root)
    _require_folder(root, "data folder")
    return "segmentation" if (root / "images").is_dir() and (root / "masks").is_dir() else "classification"


def open_dataset(root: str | Path, *, task: Task | Literal["auto"] = "auto",
                 class_map: ClassMap | None = None) -> Dataset:
    root = Path(root)
    chosen = detect_task(root) if task == "auto" else task
    if chosen == "classification":
        return open_classification_folder(root, class_map=class_map)
    if chosen == "segmentation":
        if class_map is not None:
            raise DatasetError(f"class map {class_map.source}: applies to classification folders, but {root} is a "
                               "segmentation data set (images/ and masks/; masks hold class indices already)")
        return open_segmentation_folder(root)
    raise DatasetError(f"task {task!r}: expected classification, segmentation or auto")


def load_class_map(path: str | Path) -> ClassMap:
    """A class map file: folder name -> class index.

    - JSON: an object {"n01440764": 0, ...}; a list ["n01440764", ...] (index = position); or the
      {"0": ["n01440764", "tench"], ...} form of Keras' imagenet_class_index.json (index -> [folder, label]);
    - CSV: rows `folder,index` (a header row such as `folder,index` is skipped).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"class map {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if path.suffix.lower() == ".json":
        pairs = _class_map_json(path, text)
    elif path.suffix.lower() == ".csv":
        pairs = _class_map_csv(path, text)
    else:
        raise DatasetError(f"class map {path}: expected a .json or .csv file")
    return _class_map(pairs, str(path))


def class_map_from_dict(mapping: Mapping[str, int], *, source: str = "class_map") -> ClassMap:
    """A class map given as a dict (folder name -> class index), checked like a file's."""
    return _class_map([(str(k), v, f"entry {k!r}") for k, v in mapping.items()], source)


def _class_map(pairs: list[tuple[str, object, str]], source: str) -> ClassMap:
    index: dict[str, int] = {}
    for name, value, where in pairs:
        if type(value) is not int or value < 0:
            raise DatasetError(f"class map {source}: {where}: class index {value!r} is not a non-negative integer")
        if not name:
            raise DatasetError(f"class map {source}: {where}: empty folder name")
        if name in index:
            raise DatasetError(f"class map {source}: {where}: folder {name!r} is mapped twice")
        index[name] = value
    if not index:
        raise DatasetError(f"class map {source}: holds no entries")
    return ClassMap(index, source)


def _class_map_json(path: Path, text: str) -> list[tuple[str, object, str]]:
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"class map {path}: not valid JSON at line {exc.lineno} column {exc.colno} "
                           f"({exc.msg})") from None
    if isinstance(data, list):
        return [(str(name), i, f"entry {i}") for i, name in enumerate(data)]
    if not isinstance(data, dict):
        raise DatasetError(f"class map {path}: expected an object (folder -> index) or a list of folder names")
    if data and all(isinstance(v, list) and v for v in data.values()):  # Keras: {"0": ["n01440764", "tench"]}
        pairs = []
        for key, value in data.items():
            index = int(key) if key.isdigit() else key
            pairs.append((str(value[0]), index, f"entry {key!r}"))
        return pairs
    return [(str(name), value, f"entry {name!r}") for name, value in data.items()]


def _class_map_csv(path: Path, text: str) -> list[tuple[str, object, str]]:
    import csv

    pairs = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise DatasetError(f"class map {path}: line {number}: expected 2 columns (folder,index), got {len(row)}")
        name, value = row[0].strip(), row[1].strip()
        if not pairs and not value.lstrip("-").isdigit():
            continue  # header
        pairs.append((name, int(value) if value.lstrip("-").isdigit() else value, f"line {number}"))
    return pairs


def open_classification_folder(root: str | Path, *, class_map: ClassMap | None = None) -> ClassificationFolder:
    """DIR/<class>/<images>; class index = sorted folder order, or the class map's index of the folder."""
    root = Path(root)
    _require_folder(root, "classification data folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        stray = sum(1 for p in root.iterdir() if _is_image(p))
        hint = f" (it holds {stray} images directly: put each class in its own sub-folder)" if stray else ""
        raise DatasetError(f"classification data folder {root} has no class sub-folders, expected "
                           f"{root}/<class>/<image>{hint}")
    indices = _class_indices(root, classes, class_map)
    samples: list[tuple[Path, int]] = []
    empty = []
    for index, name in zip(indices, classes, strict=True):
        images = sorted(p for p in (root / name).iterdir() if _is_image(p))
        if not images:
            empty.append(name)
        samples.extend((image, index) for image in images)
    if empty and class_map is None:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        raise DatasetError(f"classification data folder {root}: class folder(s) {shown} hold no images "
                           f"({', '.join(IMAGE_EXTENSIONS)}); every class folder counts towards the class indices, "
                           "so remove empty ones or add their images")
    if not samples:
        raise DatasetError(f"classification data folder {root}: its class folders hold no images "
                           f"({', '.join(IMAGE_EXTENSIONS)})")
    return ClassificationFolder(root, tuple(classes), tuple(samples), len(samples), class_map)


def _class_indices(root: Path, classes: list[str], class_map: ClassMap | None) -> list[int]:
    if class_map is None:
        return list(range(len(classes)))
    unmapped = [name for name in classes if name not in class_map.index]
    if unmapped:
        shown = ", ".join(unmapped[:5]) + (f" and {len(unmapped) - 5} more" if len(unmapped) > 5 else "")
        raise DatasetError(f"classification data folder {root}: class folder(s) {shown} are not in the class map "
                           f"{class_map.source} ({len(class_map.index)} entries)")
    indices = [class_map.index[name] for name in classes]
    by_index: dict[int, str] = {}
    for name, index in zip(classes, indices, strict=True):
        if index in by_index:
            raise DatasetError(f"class map {class_map.source}: folders {by_index[index]!r} and {name!r} of {root} "
                               f"both map to class {index}")
        by_index[index] = name
    return indices


def open_segmentation_folder(root: str | Path) -> SegmentationFolder:
    """DIR/images/<stem>.<ext> with DIR/masks/<stem>.png."""
    root = Path(root)
    _require_folder(root, "segmentation data folder")
    images_dir, masks_dir = root / "images", root / "masks"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise DatasetError(f"segmentation data folder {root}: no {folder.name}/ folder (expected "
                               f"{root}/images/<stem>.png|jpg and {root}/masks/<stem>.png)")
    images = sorted(p for p in images_dir.iterdir() if _is_image(p))
    masks = sorted(p for p in masks_dir.iterdir() if _is_image(p))
    if not images:
        raise DatasetError(f"segmentation data folder {root}: {images_dir} holds no images")
    by_stem: dict[str, Path] = {}
    for image in images:
        if image.stem in by_stem:
            raise DatasetError(f"segmentation data folder {root}: two images share the stem {image.stem!r} "
                               f"({by_stem[image.stem].name}, {image.name}); the mask cannot tell them apart")
        by_stem[image.stem] = image
    mask_by_stem = {m.stem: m for m in masks}
    orphans = sorted(set(mask_by_stem) - set(by_stem))
    if orphans:
        raise DatasetError(f"segmentation data folder {root}: mask {mask_by_stem[orphans[0]]} has no image "
                           f"{images_dir}/{orphans[0]}.*" + (f" ({len(orphans)} such masks)" if len(orphans) > 1
                                                             else ""))
    missing = sorted(set(by_stem) - set(mask_by_stem))
    if missing:
        raise DatasetError(f"segmentation data folder {root}: image {by_stem[missing[0]]} has no mask "
                           f"{masks_dir}/{missing[0]}.png" + (f" ({len(missing)} such images)" if len(missing) > 1
                                                              else ""))
    samples = tuple((by_stem[stem], mask_by_stem[stem]) for stem in sorted(by_stem))
    return SegmentationFolder(root, samples, len(samples))


# ---------------------------------------------------------------- reading files


def _open(path: Path, what: str):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"{what} {path}: cannot read it as an image ({type(exc).__name__}: {exc})") from None
    return image


def load_image(path: str | Path, *, size_hw: tuple[int, int], channels: int,
               normalisation: Normalisation | None = IMAGENET_NORMALISATION):
    """A (channels, H, W) float32 tensor: resized (bilinear), scaled to [0, 1], normalised."""
    image, _size = _load_image_with_size(Path(path), size_hw=size_hw, channels=channels,
                                         normalisation=normalisation)
    return image


def _load_image_with_size(path: Path, *, size_hw: tuple[int, int], channels: int,
                          normalisation: Normalisation | None):
    import numpy as np
    import torch
    from PIL import Image

    if channels not in (1, 3):
        raise DatasetError(f"input with {channels} channels: image folders give 1 (grayscale) or 3 (RGB) channels")
    image = _open(path, "image")
    original_wh = image.size
    image = image.convert("RGB" if channels == 3 else "L")
    height, width = size_hw
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.reshape(height, width, channels).copy()).permute(2, 0, 1)
    if normalisation is not None:
        mean = _per_channel(normalisation.mean, channels, "mean")
        std = _per_channel(normalisation.std, channels, "std")
        tensor = (tensor - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    return tensor.contiguous(), original_wh


def _per_channel(values: Sequence[float], channels: int, what: str) -> list[float]:
    if len(values) == 1:
        return list(values) * channels
    if len(values) != channels:
        raise DatasetError(f"normalisation {what} has {len(values)} values; the input has {channels} channels")
    if what == "std" and any(v <= 0 for v in values):
        raise DatasetError(f"normalisation std must be positive, got {list(values)}")
    return list(values)


def load_mask(path: str | Path, *, size_hw: tuple[int, int] | None = None):
    """A (H, W) int64 tensor of class indices (255 = ignore); resized with nearest-neighbour when size_hw given."""
    import numpy as np
    import torch
    from PIL import Image

    path = Path(path)
    mask = _open(path, "mask")
    if mask.mode not in ("L", "P", "I", "I;16", "1"):
        raise DatasetError(f"mask {path}: mode {mask.mode} ({len(mask.getbands())} channels); expected one "
                           "channel of class indices (a grayscale or palette PNG, 255 = ignore)")
    if size_hw is not None and mask.size != (size_hw[1], size_hw[0]):
        mask = mask.resize((size_hw[1], size_hw[0]), Image.NEAREST)
    return torch.from_numpy(np.array(mask, dtype=np.int64))


# ---------------------------------------------------------------- batches


@dataclass(frozen=True)
class ClassificationBatch:
    images: object  # (B, C, H, W) float32 tensor
    labels: object  # (B,) int64 tensor


@dataclass(frozen=True)
class SegmentationBatch:
    images: object  # (B, C, H, W) float32 tensor
    masks: tuple  # B (H_i, W_i) int64 tensors, each at its image's original size
    mask_files: tuple[Path, ...]


def iter_batches(dataset: Dataset, *, input_chw: tuple[int, int, int], batch_size: int,
                 normalisation: Normalisation | None = IMAGENET_NORMALISATION
                 ) -> Iterator[ClassificationBatch | SegmentationBatch]:
    """The data set's samples in order, in batches, each image at input_chw."""
    import torch

    if batch_size < 1:
        raise ParameterError("batch", f"must be >= 1, got {batch_size}")
    channels, height, width = input_chw
    for start in range(0, len(dataset.samples), batch_size):
        chunk = dataset.samples[start:start + batch_size]
        if isinstance(dataset, ClassificationFolder):
            images = [load_image(path, size_hw=(height, width), channels=channels, normalisation=normalisation)
                      for path, _label in chunk]
            yield ClassificationBatch(torch.stack(images), torch.tensor([label for _p, label in chunk]))
        else:
            images, masks = [], []
            for image_path, mask_path in chunk:
                image, original_wh = _load_image_with_size(image_path, size_hw=(height, width), channels=channels,
                                                           normalisation=normalisation)
                mask = load_mask(mask_path)
                if (mask.shape[1], mask.shape[0]) != original_wh:
                    raise DatasetError(f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but its image "
                                       f"{image_path} is {original_wh[0]}x{original_wh[1]} (width x height); a "
                                       "mask labels its image's pixels")
                images.append(image)
                masks.append(mask)
            yield SegmentationBatch(torch.stack(images), tuple(masks), tuple(m for _i, m in chunk))


def batch_count(dataset: Dataset, batch_size: int) -> int:
    return -(-len(dataset.samples) // max(batch_size, 1))
