"""On-disk store of the mapper's candidate tables (hwmap.cost.mapping.CandidateTable), so that a second process
(a sweep's workers, `hwmap bounds`) reads each layer shape's table instead of searching it again.

One entry per table in $XDG_CACHE_HOME/hwmap/candidates (default ~/.cache/hwmap/candidates), named
``<loop bounds>-<digest of its key>.candidates.npz``. The key is the layer's loop bounds, word sizes and buffer
energies, a digest of the mapper's sources and this file's format; the payload is the table's best-order array as
an .npz (int8, one entry per tiling: a few MB for the largest shapes, compressed; read with allow_pickle=False).
The DRAM bytes and buffer energies are recomputed from it with the mapper's formula (the same bits).

The folder and its entries are untrusted input, exactly as the graph and mapping caches (hwmap.cache_files): used
only when they belong to the user and nobody else can write them (otherwise one note on stderr and the run goes on
without the store), read without following links, written by rename, each entry carrying its full key and the
HMAC-SHA256 of its payload. An entry that is absent, foreign, damaged, not an int8 array or (checked by the mapper)
of the wrong shape or with an order index out of range is a miss: the table is searched again and the entry
rewritten; the reason goes to the ``hwmap.cache`` logger. ``hwmap --no-cache`` and ``cache=False`` in the API
(:func:`used`) neither read nor write it. This
module does not import the mapper (the mapper imports it, lazily).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from hwmap.cache_files import cache_root, log, open_folder

STORE_FORMAT = 2
SUFFIX = ".candidates.npz"
_FOLDER = "candidates"
_WHAT = "candidate table"
_ENABLED = [True]  # off for a `hwmap --no-cache` run (set_enabled)
_OFF_HERE: ContextVar[bool] = ContextVar("hwmap_candidate_store_off", default=False)  # used(False), per call


def store_dir() -> Path:
    return cache_root() / _FOLDER


def set_enabled(on: bool) -> None:
    """Read and write the store (True, the default) or neither (`hwmap --no-cache`), process-wide."""
    _ENABLED[0] = bool(on)


def _enabled() -> bool:
    return _ENABLED[0] and not _OFF_HERE.get()


@contextlib.contextmanager
def used(on: bool) -> Iterator[None]:
    """Within this block (this thread or task only), the store is read and written only when ``on`` and not
    switched off process-wide: ``hwmap.estimate(..., cache=False)`` and the API calls built on it."""
    token = _OFF_HERE.set(_OFF_HERE.get() or not on)
    try:
        yield
    finally:
        _OFF_HERE.reset(token)


@cache
def mapper_sha256() -> str:
    """Digest of the mapper's code and of this store's format."""
    digest = hashlib.sha256(str(STORE_FORMAT).encode())
    for source in (Path(__file__).with_name("mapping.py"), Path(__file__)):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def table_key(fields: dict) -> dict:
    """The exact key of a table: its fields (JSON values), the store's format and the mapper's digest."""
    return {"format": STORE_FORMAT, "mapper_sha256": mapper_sha256(), **fields}


def entry_name(key: dict) -> str:
    """The entry's file name: the loop bounds (when the key has them) and a digest of the whole key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    nest = key.get("nest")
    label = "x".join(str(v) for v in nest) if isinstance(nest, list) else "table"
    return f"{label}-{digest}{SUFFIX}"


def load(key: dict):
    """The stored int8 array under this key, or None (a miss: absent, untrusted, foreign or damaged)."""
    if not _enabled():
        return None
    name = entry_name(key)
    with open_folder(_FOLDER, create=False, what=_WHAT) as folder:
        payload = folder.read(name, key) if folder is not None else None
    if payload is None:
        return None
    import zipfile

    import numpy as np

    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            if sorted(data.files) != ["best_order"]:
                raise ValueError(f"arrays {sorted(data.files)}, expected best_order only")
            array = data["best_order"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.info("ignoring cache entry %s: not a candidate table (%s); recomputing it", store_dir() / name, exc)
        return None
    if array.dtype != np.int8 or array.ndim != 2:
        log.info("ignoring cache entry %s: a %s array of %d dimensions, expected int8 of 2; recomputing it",
                 store_dir() / name, array.dtype, array.ndim)
        return None
    return array


def store(key: dict, array) -> Path | None:
    """Write the array under this key (hwmap.cache_files: a new private file renamed onto the entry); None when the
    folder cannot be written, is not trusted, or the store is off."""
    if not _enabled():
        return None
    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, best_order=np.ascontiguousarray(array, dtype=np.int8))
    with open_folder(_FOLDER, create=True, what=_WHAT) as folder:
        return folder.write(entry_name(key), key, buffer.getvalue()) if folder is not None else None


def store_info():
    """The stored tables (a hwmap.graph.cache.CacheInfo; labels are the tables' loop bounds)."""
    from hwmap.graph.cache import folder_info

    return folder_info(_FOLDER, SUFFIX, label_key="table", what=_WHAT)


def clear_store():
    """Delete every stored table (regular files named like entries, never through a link); returns what was
    removed."""
    from hwmap.graph.cache import clear_folder

    return clear_folder(_FOLDER, SUFFIX, label_key="table", what=_WHAT)
