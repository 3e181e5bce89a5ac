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
(:mod:`hwmap.graph.cache`). Folder and files are untrusted input (:mod:`hwmap.cache_files`: owned by the user and
writable by nobody else, read without following links, written by rename, each file carrying its full set key and
the sha256 of its entries), and every entry read must be consistent with the layer it is looked up for
(:func:`inconsistency`: compulsory traffic of that loop nest, reads at least compulsory, cycles and energy
recomputed from its own traffic). A file or entry that fails any check is ignored (a miss, logged to the
``hwmap.cache`` logger) and rewritten; a folder that cannot be written is skipped, never an error.
Two processes that add to the same set at once keep the last writer's entries (the others are computed again next
time). `hwmap cache info|clear` and ``hwmap.cache_info()`` / ``hwmap.clear_cache()`` cover this cache too;
``cache=False`` (``hwmap --no-cache``) neither reads nor writes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from functools import cache
from pathlib import Path

from hwmap.cache_files import cache_root, log, open_folder
from hwmap.cost.mapping import CLASS_ORDERS, DIMS, LayerMapping, LoopNest, MapTarget, _expand
from hwmap.graph.cache import CacheInfo, clear_folder, folder_info

CACHE_FORMAT = 1
_SUFFIX = ".mappings.json"
_FOLDER = "mappings"
MAX_ENTRIES = 4096  # ~1 MB, read in ~10 ms; a set this full (many models on one template) starts again empty
_FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(LayerMapping)
_FLOAT_FIELDS = frozenset(f.name for f in _FIELDS if f.type == "float")
_INT_FIELDS = frozenset(f.name for f in _FIELDS if f.type == "int")


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/hwmap/mappings, or ~/.cache/hwmap/mappings when XDG_CACHE_HOME is unset, empty or relative."""
    return cache_root() / _FOLDER


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


_RELATIVE_TOLERANCE = 1e-9  # recomputed sums may differ from the mapper's in the last bits, never by more


def _close(value: float, expected: float) -> bool:
    return abs(value - expected) <= _RELATIVE_TOLERANCE * max(abs(expected), 1.0)


def inconsistency(m: LayerMapping, nest: LoopNest, target: MapTarget, compute_cycles: float, fixed_energy_pj: float,
                  objective: str) -> str | None:
    """Why a stored mapping cannot be the mapper's answer for this layer (None when it can): the invariants every
    answer of :func:`hwmap.cost.mapping.map_layer` satisfies, checked from the layer's own loop nest and the
    template's numbers, so an entry edited, swapped with another layer's or computed for another template is
    never used."""
    canon = nest.canonical()
    g = canon.groups
    numbers = [getattr(m, name) for name in _FLOAT_FIELDS]
    if not all(math.isfinite(v) and v >= 0 for v in numbers) or m.psum_passes < 1 or m.candidates < 1:
        return "a negative or non-finite number"
    if m.mode != "best" or m.objective != objective:
        return f"mode {m.mode!r} / objective {m.objective!r}, expected 'best' / {objective!r}"
    bounds = {"N": canon.n, "K": canon.k, "C": canon.c, "P": canon.p, "Q": canon.q, "R": canon.r, "S": canon.s}
    if [d for d, _ in m.tiles] != [*DIMS, "R", "S"] or not all(1 <= t <= bounds[d] for d, t in m.tiles) \
            or sorted(m.order) != sorted(_expand(CLASS_ORDERS[0])):
        return "tiles or loop order that do not fit the layer"
    out_words = canon.output_words * g
    compulsory = {"input_compulsory_bytes": canon.input_words * target.input_bytes * g,
                  "weight_compulsory_bytes": canon.weight_words * target.weight_bytes * g,
                  "output_compulsory_bytes": out_words * target.output_bytes,
                  "output_write_bytes": out_words * target.output_bytes,
                  "psum_write_bytes": (m.psum_passes - 1) * out_words * target.psum_bytes,
                  "psum_read_bytes": (m.psum_passes - 1) * out_words * target.psum_bytes}
    if not all(_close(getattr(m, name), value) for name, value in compulsory.items()):
        return "compulsory traffic of another layer or template"
    floor = 1 - _RELATIVE_TOLERANCE
    if m.input_read_bytes < m.input_compulsory_bytes * floor or m.weight_read_bytes < m.weight_compulsory_bytes * floor:
        return "DRAM reads below the compulsory traffic"
    cycles = max(float(compute_cycles), m.dram_bytes / target.dram_bw_bytes_per_cycle)
    energy = (m.dram_bytes * target.dram_pj_per_byte + m.buffer_energy_pj + float(fixed_energy_pj)
              + cycles * target.static_pj_per_cycle)
    if not _close(m.cycles, cycles) or not _close(m.energy_pj, energy):
        return "cycles or energy that do not follow from its traffic"
    return None


class MappingSet:
    """The cached mappings of one (template memory view, objective): get/put by layer, then save() once."""

    def __init__(self, target: MapTarget, objective: str) -> None:
        self.key = set_key(target, objective)
        self.target = target
        self.objective = objective
        self.name = _file_name(self.key)
        self.path = cache_dir() / self.name
        self._rows: dict[str, list] = {}
        self._dirty = False
        self.hits = 0
        self.misses = 0
        self._load()

    def _load(self) -> None:
        with open_folder(_FOLDER, create=False, what="mapping") as folder:
            payload = folder.read(self.name, self.key) if folder is not None else None
        if payload is None:  # absent, foreign or damaged: every layer is mapped again and the file rewritten
            return
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            log.info("ignoring cache entry %s: not a mapping set; recomputing it", self.path)
            self._dirty = True
            return
        self._rows = data["entries"]

    def get(self, nest: LoopNest, compute_cycles: float, fixed_energy_pj: float) -> LayerMapping | None:
        key = entry_key(nest, compute_cycles, fixed_energy_pj)
        row = self._rows.get(key)
        mapping = _decode(row) if row is not None else None
        if mapping is not None:
            why = inconsistency(mapping, nest, self.target, compute_cycles, fixed_energy_pj, self.objective)
            if why is not None:
                log.info("ignoring the cached mapping of layer %s in %s: %s; mapping it again", key, self.path, why)
                mapping = None
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
        """Write the set when it changed; None when nothing was written (unchanged, or the folder is not writable
        or not trusted)."""
        if not self._dirty:
            return None
        payload = json.dumps({"entries": self._rows}, separators=(",", ":")).encode("utf-8")
        with open_folder(_FOLDER, create=True, what="mapping") as folder:
            written = folder.write(self.name, self.key, payload) if folder is not None else None
        if written is not None:
            self._dirty = False
        return written


def mapping_cache_info() -> CacheInfo:
    """The mapping cache's folder and its sets (label: the objective)."""
    return folder_info(_FOLDER, _SUFFIX, label_key="objective", what="mapping")


def clear_mapping_cache() -> CacheInfo:
    """Delete every cached mapping set; returns what was removed."""
    return clear_folder(_FOLDER, _SUFFIX, label_key="objective", what="mapping")
