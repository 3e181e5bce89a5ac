"""On-disk cache of traced layer graphs, so repeating a command on the same model skips torch, timm and tracing.

An entry is a graph JSON (hwmap.graph.io's format) named by a digest of everything the traced graph depends on:
the model spec, input shape or resolution, batch, number of classes, the strict flag, the installed versions of
torch, torchvision, timm, transformers and hwmap, the graph file schema, a digest of hwmap's graph and ops sources
(an editable install changes its code without changing its version) and, for hf:<folder> specs, the config file's
content. Computing the key reads package metadata only (importlib.metadata): it never imports torch.

Folder: $XDG_CACHE_HOME/hwmap/graphs, default ~/.cache/hwmap/graphs, read at each call. The folder and its entries are
untrusted input (hwmap.cache_files): used only when they belong to the user and nobody else can write them, read
without following links, each entry carrying its full key and the sha256 of its graph; an entry that does not
match is traced again and replaced, never believed. A cache that cannot be written (read-only folder, full disk)
is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from hwmap.cache_files import cache_root, log, open_folder
from hwmap.errors import HwmapError
from hwmap.graph.ir import LayerGraph

CACHE_FORMAT = 1
VERSIONED_PACKAGES = ("torch", "torchvision", "timm", "transformers", "hwmap")
_SUFFIX = ".graph.json"
_FOLDER = "graphs"


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/hwmap/graphs, or ~/.cache/hwmap/graphs when XDG_CACHE_HOME is unset, empty or relative."""
    return cache_root() / _FOLDER


@dataclass(frozen=True)
class GraphKey:
    """What a traced graph depends on; `digest` names the cache entry."""

    spec: str
    input_shape: tuple[int, ...] | None
    resolution: int | None
    batch: int
    num_classes: int | None
    strict: bool
    versions: tuple[tuple[str, str], ...]
    sources_sha256: str
    config_sha256: str | None = None

    def to_dict(self) -> dict:
        return {
            "cache_format": CACHE_FORMAT, "spec": self.spec,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "resolution": self.resolution, "batch": self.batch, "num_classes": self.num_classes,
            "strict": self.strict, "versions": dict(self.versions), "sources_sha256": self.sources_sha256,
            "config_sha256": self.config_sha256,
        }

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    @property
    def file_name(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.spec)[:60]
        return f"{slug}-{self.digest[:32]}{_SUFFIX}"


def graph_key(
    spec: str,
    *,
    input_shape: tuple[int, ...] | None,
    resolution: int | None,
    batch: int,
    num_classes: int | None,
    strict: bool,
) -> GraphKey | None:
    """The cache key of a spec's graph, or None when the spec cannot be cached (an hf: folder without a
    readable config: building it will report the problem)."""
    spec = spec.strip()
    config_sha256 = None
    if spec.startswith("hf:"):
        path = Path(spec.removeprefix("hf:"))
        config = path if path.suffix == ".json" else path / "config.json"
        try:
            config_sha256 = hashlib.sha256(config.read_bytes()).hexdigest()
        except OSError:
            return None
        spec = f"hf:{path.resolve()}"
    return GraphKey(
        spec=spec,
        input_shape=tuple(int(d) for d in input_shape) if input_shape is not None else None,
        resolution=resolution, batch=batch, num_classes=num_classes, strict=strict,
        versions=package_versions(), sources_sha256=_sources_sha256(), config_sha256=config_sha256,
    )


def package_versions() -> tuple[tuple[str, str], ...]:
    """(package, version) for every package a traced graph depends on; 'absent' for one not installed."""
    return tuple((name, _version(name)) for name in VERSIONED_PACKAGES)


def _version(name: str) -> str:
    """The installed version of a package: the Version header of its metadata file, read without email-parsing the
    whole file as metadata.version does (torch's and transformers' carry their long READMEs: 3 ms each)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return "absent"
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found = re.search(r"^Version:[ \t]*(\S+)[ \t]*$", text.split("\n\n", 1)[0], re.MULTILINE)
    return found.group(1) if found else dist.version


@cache
def _sources_sha256() -> str:
    """Digest of the code that builds and lowers graphs (hwmap/graph and hwmap/ops)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for folder in ("graph", "ops"):
        for source in sorted((package / folder).glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def load_cached(key: GraphKey) -> LayerGraph | None:
    """The cached graph for key, or None on a miss: absent, or an entry that is not exactly what was stored under
    this key (hwmap.cache_files; the reason goes to the hwmap.cache logger)."""
    from hwmap.graph.io import graph_from_dict

    with open_folder(_FOLDER, create=False, what="graph") as folder:
        payload = folder.read(key.file_name, key.to_dict()) if folder is not None else None
    if payload is None:
        return None
    from hwmap.fileio import parse_json_strict

    origin = f"cache entry {cache_dir() / key.file_name}"
    try:
        graph = graph_from_dict(parse_json_strict(payload.decode("utf-8"), origin=origin), origin=origin)
    except (HwmapError, ValueError, RecursionError) as exc:  # stored by a buggy or foreign writer
        log.info("ignoring %s: %s; tracing again", origin, exc)
        return None
    if str(graph.meta.get("spec", "")).strip() != key.spec and not key.spec.startswith("hf:"):
        log.info("ignoring %s: it holds %r; tracing again", origin, graph.meta.get("spec"))
        return None
    return graph


def store(key: GraphKey, graph: LayerGraph) -> Path | None:
    """Write graph under key (hwmap.cache_files: a new file renamed onto the entry); None when the cache folder
    cannot be written or is not trusted."""
    from hwmap.graph.io import graph_to_dict

    payload = json.dumps(graph_to_dict(graph), separators=(",", ":")).encode("utf-8")
    with open_folder(_FOLDER, create=True, what="graph") as folder:
        return folder.write(key.file_name, key.to_dict(), payload) if folder is not None else None


@dataclass(frozen=True)
class CacheEntry:
    """One file of a cache: its name, what it holds (a graph's model; a mapping set's objective) and its size."""

    file: str
    label: str
    size_bytes: int


@dataclass(frozen=True)
class CacheInfo:
    """A cache folder and its entries (or, after a clear, the entries removed). label_key names what an entry's label
    is in to_dict(): "model" for graphs."""

    folder: str
    entries: tuple[CacheEntry, ...]
    label_key: str = "model"

    @property
    def size_bytes(self) -> int:
        return sum(e.size_bytes for e in self.entries)

    def to_dict(self) -> dict:
        return {"folder": self.folder, "entries": len(self.entries), "size_bytes": self.size_bytes,
                "files": [{"file": e.file, self.label_key: e.label, "size_bytes": e.size_bytes}
                          for e in self.entries]}


def folder_info(folder: str, suffix: str, *, label_key: str, what: str) -> CacheInfo:
    """The entries ``<label>-<digest><suffix>`` of the cache folder ``cache_root()/folder`` (regular files only;
    none when the folder does not exist or is not trusted)."""
    with open_folder(folder, create=False, what=what) as opened:
        found = opened.entries(suffix) if opened is not None else []
    return _info(folder, found, suffix, label_key)


def clear_folder(folder: str, suffix: str, *, label_key: str, what: str) -> CacheInfo:
    """Delete the entries of a cache folder (and temporary files left by interrupted writes): regular files named
    like entries, never through a link or in a linked folder; returns what was removed."""
    with open_folder(folder, create=False, what=what) as opened:
        removed = opened.clear(suffix) if opened is not None else []
    return _info(folder, removed, suffix, label_key)


def _info(folder: str, found: list[tuple[str, int]], suffix: str, label_key: str) -> CacheInfo:
    entries = tuple(CacheEntry(name, name.removesuffix(suffix).rsplit("-", 1)[0], size) for name, size in found)
    return CacheInfo(str(cache_root() / folder), entries, label_key)


def cache_info() -> CacheInfo:
    return folder_info(_FOLDER, _SUFFIX, label_key="model", what="graph")


def clear_cache() -> CacheInfo:
    """Delete every cached graph (and temporary files left by interrupted writes); returns what was removed."""
    return clear_folder(_FOLDER, _SUFFIX, label_key="model", what="graph")
