"""On-disk cache of the mapper's choices, so a repeated estimate does not search every layer's mappings again.

The mapper (:mod:`hwmap.cost.mapping`) answers ``map_layer(nest, target, compute_cycles, fixed_energy_pj,
objective)`` with a :class:`~hwmap.cost.mapping.LayerMapping`, a pure function of those inputs and of the mapper's
code. This cache stores those answers: one file per *mapping set*, named by a digest of everything that is the same
for every layer of one estimate (the mapper's view of the template, :class:`~hwmap.cost.mapping.MapTarget`: word
sizes, DRAM-facing capacities, per-byte energies, DRAM bandwidth, static power and the array's spatial floors; the
objective; a digest of the mapper's sources and numpy's version), holding one entry per layer keyed by its
loop bounds (:class:`~hwmap.cost.mapping.LoopNest`), compute cycles and mapping-independent energy (written as
``float.hex``: exact). An entry stores every field of the LayerMapping; JSON writes floats with ``repr``, which
reads back to the same bits, so a hit returns a mapping equal to the one the mapper computed (tests check whole
estimates against cold runs).

Folder: $XDG_CACHE_HOME/hwmap/mappings (default ~/.cache/hwmap/mappings), read at each call, beside the graph cache
(:mod:`hwmap.graph.cache`). Files are written atomically (:mod:`hwmap.fileio`); a file or entry that cannot be read
or does not match its key is ignored (a miss) and rewritten; a folder that cannot be written is skipped, never an
error. Two processes that add to the same set at once keep the last writer's entries (the others are computed again
next time). `hwmap cache info|clear` and ``hwmap.cache_info()`` / ``hwmap.clear_cache()`` cover this cache too;
``cache=False`` (``hwmap --no-cache``) neither reads nor writes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache
from pathlib import Path

from hwmap.cost.mapping import LayerMapping, LoopNest, MapTarget
from hwmap.errors import HwmapError
from hwmap.graph.cache import CacheInfo, cache_root, clear_folder, folder_info

CACHE_FORMAT = 1
_SUFFIX = ".mappings.json"
MAX_ENTRIES = 4096  # ~1 MB, read in ~10 ms; a set this full (many models on one template) starts again empty
_FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(LayerMapping)
_FLOAT_FIELDS = frozenset(f.name for f in _FIELDS if f.type == "float")
_INT_FIELDS = frozenset(f.name for f in _FIELDS if f.type == "int")


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/hwmap/mappings, or ~/.cache/hwmap/mappings when XDG_CACHE_HOME is unset or empty."""
    return cache_root() / "mappings"


@cache
def _sources_sha256() -> str:
    """Digest of the mapper's code and of this file's entry format."""
    digest = hashlib.sha256()
    for source in (Path(__file__).with_name("mapping.py"), Path(__file__)):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def set_key(target: MapTarget, objective: str) -> dict:
    """What every entry of one mapping set shares (the file's name is a digest of it)."""
    import numpy as np

    return {"cache_format": CACHE_FORMAT, "objective": objective,
            "target": {f.name: _plain(getattr(target, f.name)) for f in dataclasses.fields(MapTarget)},
            "mapper_sha256": _sources_sha256(), "numpy": np.__version__}


def _plain(value):
    """A JSON-ready scalar (a numpy scalar becomes its Python value)."""
    return value.item() if hasattr(value, "item") else value


def _file_name(key: dict) -> str:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return f"{key['objective']}-{digest[:32]}{_SUFFIX}"


def entry_key(nest: LoopNest, compute_cycles: float, fixed_energy_pj: float) -> str:
    """One layer's key inside its set: loop bounds, compute cycles and fixed energy (exact, as float.hex)."""
    bounds = ",".join(str(getattr(nest, f.name)) for f in dataclasses.fields(LoopNest))
    return f"{bounds}|{float(compute_cycles).hex()}|{float(fixed_energy_pj).hex()}"


def _encode(m: LayerMapping) -> list:
    row = []
    for f in _FIELDS:
        value = getattr(m, f.name)
        if f.name == "order":
            value = list(value)
        elif f.name == "tiles":
            value = [[d, t] for d, t in value]
        row.append(value)
    return row


def _decode(row: object) -> LayerMapping | None:
    """The LayerMapping of an entry, or None when the entry is not one (damaged or foreign)."""
    if not isinstance(row, list) or len(row) != len(_FIELDS):
        return None
    values = {}
    for f, value in zip(_FIELDS, row, strict=True):
        if f.name in _FLOAT_FIELDS:
            if type(value) is not float:
                return None
        elif f.name in _INT_FIELDS:
            if type(value) is not int:
                return None
        elif f.name == "order":
            if not isinstance(value, list) or not all(type(v) is str for v in value):
                return None
            value = tuple(value)
        elif f.name == "tiles":
            if not isinstance(value, list) or not all(
                    isinstance(p, list) and len(p) == 2 and type(p[0]) is str and type(p[1]) is int for p in value):
                return None
            value = tuple((d, t) for d, t in value)
        elif type(value) is not str:
            return None
        values[f.name] = value
    return LayerMapping(**values)


class MappingSet:
    """The cached mappings of one (template memory view, objective): get/put by layer, then save() once."""

    def __init__(self, target: MapTarget, objective: str) -> None:
        self.key = set_key(target, objective)
        self.path = cache_dir() / _file_name(self.key)
        self._rows: dict[str, list] = {}
        self._dirty = False
        self.hits = 0
        self.misses = 0
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError):  # unreadable, truncated or not JSON: rewritten on save
            self._dirty = True
            return
        if not isinstance(data, dict) or data.get("key") != self.key or not isinstance(data.get("entries"), dict):
            self._dirty = True
            return
        self._rows = data["entries"]

    def get(self, nest: LoopNest, compute_cycles: float, fixed_energy_pj: float) -> LayerMapping | None:
        key = entry_key(nest, compute_cycles, fixed_energy_pj)
        row = self._rows.get(key)
        mapping = _decode(row) if row is not None else None
        if mapping is None:
            self.misses += 1
            if row is not None:  # a damaged entry: dropped, and the file rewritten with the recomputed one
                del self._rows[key]
                self._dirty = True
            return None
        self.hits += 1
        return mapping

    def put(self, nest: LoopNest, compute_cycles: float, fixed_energy_pj: float, mapping: LayerMapping) -> None:
        if len(self._rows) >= MAX_ENTRIES:
            self._rows = {}
        self._rows[entry_key(nest, compute_cycles, fixed_energy_pj)] = _encode(mapping)
        self._dirty = True

    def save(self) -> Path | None:
        """Write the set when it changed; None when nothing was written (unchanged, or the folder is not writable)."""
        if not self._dirty:
            return None
        from hwmap.fileio import atomic_write_text

        text = json.dumps({"key": self.key, "entries": self._rows}, separators=(",", ":"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            written = atomic_write_text(self.path, text)
        except (OSError, HwmapError):
            return None
        self._dirty = False
        return written


def mapping_cache_info() -> CacheInfo:
    """The mapping cache's folder and its sets (label: the objective)."""
    return folder_info(cache_dir(), _SUFFIX, label_key="objective")


def clear_mapping_cache() -> CacheInfo:
    """Delete every cached mapping set; returns what was removed."""
    return clear_folder(cache_dir(), _SUFFIX, label_key="objective")
