"""Cache folders and entries read as untrusted input (shared by the graph cache and the mapping cache).

A cache is a speed-up, never a source of truth, so everything in it is checked before it is used:

* Folders: ``$XDG_CACHE_HOME/hwmap/<name>`` (``~/.cache`` when XDG_CACHE_HOME is unset, empty or relative: the XDG
  rule). ``hwmap`` and ``<name>`` are opened one at a time without following links (``O_NOFOLLOW`` relative to
  the parent's descriptor) and used only when each is a real folder owned by the current user and not writable
  by group or others (as ssh treats its keys). Otherwise the run goes on uncached with a one-line note on
  stderr (once per folder and process). A folder that cannot be created (read-only, under a file) is skipped
  silently, as before.
* Reading an entry: opened relative to the folder's descriptor with ``O_NOFOLLOW | O_NONBLOCK`` (a link or a
  FIFO planted at the entry's name is never followed nor waited on), used only if it is a regular file of the
  current user not writable by others. An entry is one header line (JSON: format, the full key, the payload's
  HMAC-SHA256 and length) followed by the payload. The HMAC is keyed by a random secret kept in the cache
  (``hwmap/.entry-secret``, mode 0600, made on first use), so an entry edited consistently, digest recomputed, by
  anyone without that secret is still caught. A different key (a swapped or renamed entry), a digest that does
  not match (an edited or truncated entry) or any damage makes it a miss: the caller recomputes and overwrites
  it, and the reason goes to the ``hwmap.cache`` logger (``logging.INFO``), never to the user's inputs.
* Writing an entry: a fresh temporary file created in the folder (``O_CREAT | O_EXCL | O_NOFOLLOW``, mode 0600),
  then ``os.replace`` onto the entry's name: a link planted there is replaced, never written through.
* Clearing: only regular files whose names follow the cache's naming pattern (and the temporary files of
  interrupted writes), looked up and unlinked relative to the folder's descriptor: never through a link, never
  in a folder reached through a link.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ENTRY_FORMAT = "hwmap.cache_entry"
ENTRY_VERSION = 1
MAX_ENTRY_BYTES = 256 << 20  # far above any real entry (resnet50's graph: ~0.3 MB); bounds what a read allocates
_UNSAFE_MODE_BITS = stat.S_IWGRP | stat.S_IWOTH
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

log = logging.getLogger("hwmap.cache")
_NOTED: set[str] = set()


def cache_root() -> Path:
    """$XDG_CACHE_HOME/hwmap, or ~/.cache/hwmap when XDG_CACHE_HOME is unset, empty or not an absolute path (the XDG
    base directory rule: relative paths are invalid and ignored); read at each call."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hwmap"


def entry_pattern(suffix: str) -> re.Pattern[str]:
    """The names a cache writes: ``<label>-<32 hex digits><suffix>``."""
    return re.compile(r"[A-Za-z0-9._-]*-[0-9a-f]{32}" + re.escape(suffix))


def _temp_pattern(suffix: str) -> re.Pattern[str]:
    return re.compile(r"\.[A-Za-z0-9._-]+" + re.escape(suffix) + r"\.[A-Za-z0-9_]+\.tmp")


SECRET_NAME = ".entry-secret"
_SECRET_BYTES = 32


def entry_digest(secret: bytes, key: dict, payload: bytes) -> str:
    """HMAC-SHA256 of an entry's key and payload under the cache's secret."""
    mac = hmac.new(secret, json.dumps(key, separators=(",", ":"), sort_keys=True).encode(), hashlib.sha256)
    mac.update(b"\n")
    mac.update(payload)
    return mac.hexdigest()


def wrap_entry(key: dict, payload: bytes, secret: bytes) -> bytes:
    """An entry's bytes: the header line (format, key, payload length, HMAC-SHA256), then the payload."""
    header = {"format": ENTRY_FORMAT, "version": ENTRY_VERSION, "key": key, "bytes": len(payload),
              "hmac_sha256": entry_digest(secret, key, payload)}
    return json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n" + payload


def split_entry(data: bytes) -> tuple[dict | None, bytes]:
    """(header, payload) of an entry's bytes; header None when the first line is not an entry header."""
    head, newline, payload = data.partition(b"\n")
    try:
        header = json.loads(head) if newline else None
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != ENTRY_FORMAT or header.get("version") != ENTRY_VERSION:
        return None, payload
    return header, payload


def note(message: str) -> None:
    """One line on stderr, once per process per message: the run goes on without the cache."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"hwmap: note: {message}", file=sys.stderr)


def _unsafe(info: os.stat_result) -> str | None:
    """Why an owned-by-us check fails (None when it passes)."""
    if info.st_uid != os.geteuid():
        return f"it belongs to another user (uid {info.st_uid})"
    if info.st_mode & _UNSAFE_MODE_BITS:
        return f"it is writable by group or others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


@dataclass
class CacheFolder:
    """An open, trusted cache folder: every entry is reached through ``fd`` (never through a path that could have
    been swapped for a link since the check)."""

    path: Path
    fd: int
    secret: bytes | None

    def read(self, name: str, key: dict) -> bytes | None:
        """The payload of entry ``name`` stored under ``key``; None on a miss (absent, foreign, damaged)."""
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a link planted at the entry's name
            why = "a symbolic link" if exc.errno == errno.ELOOP else f"cannot open it ({exc.strerror})"
            return self._reject(name, why)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return self._reject(name, "not a regular file")
            if (why := _unsafe(info)) is not None:
                return self._reject(name, why)
            if info.st_size > MAX_ENTRY_BYTES:
                return self._reject(name, f"{info.st_size} bytes, more than an entry can be")
            data = _read_all(fd, info.st_size)
        except OSError as exc:
            return self._reject(name, f"cannot read it ({exc.strerror})")
        finally:
            os.close(fd)
        return self._unwrap(name, data, key)

    def _unwrap(self, name: str, data: bytes, key: dict) -> bytes | None:
        header, payload = split_entry(data)
        if header is None:
            return self._reject(name, "not an hwmap cache entry (an older format, or damaged)")
        if header.get("key") != key:
            return self._reject(name, "stored under another key (a renamed or swapped entry)")
        if self.secret is None:
            return self._reject(name, "the cache's secret is missing, so the entry cannot be verified")
        stored = header.get("hmac_sha256")
        if header.get("bytes") != len(payload) or not isinstance(stored, str) \
                or not hmac.compare_digest(stored, entry_digest(self.secret, key, payload)):
            return self._reject(name, "its content does not match its digest (edited or truncated)")
        return payload

    def _reject(self, name: str, why: str) -> None:
        log.info("ignoring cache entry %s: %s; recomputing it", self.path / name, why)
        return None

    def write(self, name: str, key: dict, payload: bytes) -> Path | None:
        """Store payload under key as entry ``name``: a new private file renamed onto the name (a link there is
        replaced, never followed). None when the folder cannot be written (full, read-only)."""
        if self.secret is None:
            return None
        temp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temp, _WRITE_FLAGS, 0o600, dir_fd=self.fd)
        except OSError:
            return None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(wrap_entry(key, payload, self.secret))
            os.replace(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError as exc:
            log.info("cannot write cache entry %s: %s", self.path / name, exc.strerror or exc)
            _unlink_quietly(temp, self.fd)
            return None
        except BaseException:
            _unlink_quietly(temp, self.fd)
            raise
        return self.path / name

    def entries(self, suffix: str) -> list[tuple[str, int]]:
        """(name, size in bytes) of the regular files named like entries, sorted by name."""
        pattern = entry_pattern(suffix)
        found = []
        for name in sorted(os.listdir(self.fd)):
            if not pattern.fullmatch(name):
                continue
            try:
                info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except OSError:  # removed meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((name, info.st_size))
        return found

    def clear(self, suffix: str) -> list[tuple[str, int]]:
        """Delete the regular files named like entries (and temporary files of interrupted writes); returns the
        entries removed. Links, folders and files named otherwise are left alone."""
        removed = []
        for name, size in self.entries(suffix):
            try:
                os.unlink(name, dir_fd=self.fd)
            except OSError:
                continue
            removed.append((name, size))
        leftover = _temp_pattern(suffix)
        for name in os.listdir(self.fd):
            if leftover.fullmatch(name):
                with _suppress_oserror():
                    if stat.S_ISREG(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode):
                        os.unlink(name, dir_fd=self.fd)
        return removed


@contextmanager
def _suppress_oserror() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def _unlink_quietly(name: str, dir_fd: int) -> None:
    with _suppress_oserror():
        os.unlink(name, dir_fd=dir_fd)


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    remaining = size + 1  # one byte more: a file that grew meanwhile is read whole up to the bound
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


@contextmanager
def open_folder(name: str, *, create: bool, what: str) -> Iterator[CacheFolder | None]:
    """The trusted cache folder ``cache_root()/name`` (created when ``create``), or None: missing (and not
    created), not creatable, or not trusted (then a one-line note names it and says why)."""
    root = cache_root()
    opened = _open_trusted(root, name, create=create, what=what)
    if opened is None:
        yield None
        return
    fd, secret = opened
    try:
        yield CacheFolder(root / name, fd, secret)
    finally:
        os.close(fd)


def _open_trusted(root: Path, name: str, *, create: bool, what: str) -> tuple[int, bytes | None] | None:
    base = root.parent
    try:
        if create:
            os.makedirs(base, exist_ok=True)
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the user's own XDG folder: may be a link
    except OSError:
        return None
    secret = None
    shown = base
    for part in (root.name, name):
        shown = shown / part
        child = _open_child(fd, part, shown, create=create, what=what)
        if child is not None and part == root.name:
            secret = _secret(child, create=create)
        os.close(fd)
        if child is None:
            return None
        fd = child
    return fd, secret


def _open_child(fd: int, part: str, shown: Path, *, create: bool, what: str) -> int | None:
    """The folder ``part`` of the folder ``fd``, opened without following a link, if it is trusted."""
    try:
        if create:
            with _suppress_oserror():
                os.mkdir(part, 0o700, dir_fd=fd)
        child = os.open(part, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(shown):  # a link in place of the folder
            note(f"not using the {what} cache: {shown} is a symbolic link, not a folder; running without it")
        return None
    why = _unsafe(os.fstat(child))
    if why is not None:
        os.close(child)
        note(f"not using the {what} cache: {shown}: {why} (fix: chmod go-w, or remove it); running without it")
        return None
    return child


def _secret(root_fd: int, *, create: bool) -> bytes | None:
    """The cache's HMAC secret (hwmap/.entry-secret), made on first use; None when it cannot be trusted or made
    (entries are then neither read nor written)."""
    try:
        fd = os.open(SECRET_NAME, _READ_FLAGS, dir_fd=root_fd)
    except FileNotFoundError:
        return _new_secret(root_fd) if create else None
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            return None
        data = os.read(fd, _SECRET_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == _SECRET_BYTES else None


def _new_secret(root_fd: int) -> bytes | None:
    secret = secrets.token_bytes(_SECRET_BYTES)
    temp = f"{SECRET_NAME}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(temp, _WRITE_FLAGS, 0o600, dir_fd=root_fd)
        try:
            os.write(fd, secret)
        finally:
            os.close(fd)
        os.link(temp, SECRET_NAME, src_dir_fd=root_fd, dst_dir_fd=root_fd, follow_symlinks=False)
    except FileExistsError:  # another process made it meanwhile: use theirs
        _unlink_quietly(temp, root_fd)
        return _secret(root_fd, create=False)
    except OSError:
        _unlink_quietly(temp, root_fd)
        return None
    _unlink_quietly(temp, root_fd)
    return secret
