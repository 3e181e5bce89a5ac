"""On-disk store of the mapper's candidate tables (hwmap.cost.mapping.CandidateTable), so that a second process
(a sweep's workers, `hwmap bounds`) reads each layer shape's table instead of searching it again.

One file per table under $XDG_CACHE_HOME/hwmap/candidates (default ~/.cache/hwmap/candidates), named by a digest of
its key: the layer's loop bounds, word sizes, buffer energies, a digest of the mapper's sources and this file's
format. It holds the key itself and the table's best-order array (int8, one entry per tiling: a few MB for the
largest shapes, compressed); the DRAM bytes and buffer energies are recomputed from it with the mapper's formula
(the same bits). A file that is absent, unreadable, damaged or for another key is a miss, never an error; a folder
that cannot be written is skipped. Files are written atomically (hwmap.fileio). This module does not import the
mapper (the mapper imports it, lazily).
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from pathlib import Path

from hwmap.errors import HwmapError
from hwmap.graph.cache import cache_root

STORE_FORMAT = 1
SUFFIX = ".candidates.npz"


def store_dir() -> Path:
    return cache_root() / "candidates"


@cache
def mapper_sha256() -> str:
    """Digest of the mapper's code and of this store's format."""
    digest = hashlib.sha256(str(STORE_FORMAT).encode())
    for source in (Path(__file__).with_name("mapping.py"), Path(__file__)):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def key_text(fields: dict) -> str:
    """The exact key of a table (JSON of its fields and the mapper's digest)."""
    return json.dumps({"format": STORE_FORMAT, "mapper_sha256": mapper_sha256(), **fields}, sort_keys=True)


def _path(text: str) -> Path:
    return store_dir() / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}{SUFFIX}"


def load(text: str):
    """The stored int8 array under this key, or None."""
    import zipfile

    import numpy as np

    try:
        with np.load(_path(text), allow_pickle=False) as data:
            if str(data["key"]) != text:
                return None
            array = data["best_order"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return array if array.dtype == np.int8 and array.ndim == 2 else None


def store(text: str, array) -> Path | None:
    """Write the array under this key (atomically); None when the folder cannot be written."""
    import numpy as np

    from hwmap.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez_compressed(buffer, key=np.array(text), best_order=array)
    path = _path(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_bytes(path, buffer.getvalue())
    except (OSError, HwmapError):
        return None


def store_info():
    """The stored tables (a hwmap.graph.cache.CacheInfo; labels are digests)."""
    from hwmap.graph.cache import folder_info

    return folder_info(store_dir(), SUFFIX, label_key="table")


def clear_store():
    """Delete every stored table; returns what was removed."""
    from hwmap.graph.cache import clear_folder

    return clear_folder(store_dir(), SUFFIX, label_key="table")
