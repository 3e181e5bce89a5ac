"""The safe output layer: every file a command writes goes through here.

The contract (README "Outputs"):

* A regular file is written whole or not at all: a temporary file in the target's *real* folder, then an atomic
  rename. A symlink is followed: its target is written, the link stays a link. An existing file keeps its
  permissions.
* A character device, a FIFO, ``/dev/stdout`` (and any other ``/dev/fd/N``, ``/proc/self/fd/N``) and ``-``
  (standard output) are written directly: they are never replaced by a regular file.
* An output that resolves to an input of the same run (the same file after following links, or the same inode
  through a hard link) is refused, and so are two outputs of one run that resolve to the same file
  (:func:`check_run_files`, called by every command before it computes anything).
* An output that cannot be written (a folder, no permission, a read-only file system, a full disk, a missing
  folder) is one :class:`~hwmap.errors.OutputError` line, found before the computing (:func:`check_run_files`
  probes the folder) and again at write time.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hwmap.errors import HwmapError, OutputError

STDOUT = "-"
# Paths whose file is the process's own descriptor: written in place, never renamed over.
_DESCRIPTOR_PREFIXES = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/", "/dev/tty")


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text (UTF-8) to path by the contract above; a failure leaves no partial file behind."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes to path by the contract above: regular files whole or not at all, special files directly."""
    name = str(path)
    if name == STDOUT:
        _write_stdout(data)
        return Path(STDOUT)
    target = Path(path)
    kind = _kind(target)
    if kind == "folder":
        raise OutputError(f"cannot write {name}: it is a folder")
    if kind == "special":
        _write_in_place(target, data)
        return target
    real = Path(os.path.realpath(target))
    directory = real.parent
    if not directory.is_dir():
        raise OutputError(f"cannot write {name}: folder {_shown_parent(target)} does not exist")
    mode = _existing_mode(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, real)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {name}: {_reason(exc)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _write_stdout(data: bytes) -> None:
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    try:
        stream.flush()
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8"))
            stream.flush()
    except BrokenPipeError:
        raise OutputError("cannot write to standard output: the reader closed it") from None


def _write_in_place(target: Path, data: bytes) -> None:
    fd = _open_in_place(target)
    _set_blocking(fd)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {_reason(exc)}") from None
    finally:
        os.close(fd)


FIFO_READER_WAIT_S = 1.0  # how long a FIFO's reader may take to open it (a reader started just before hwmap)


def _open_in_place(target: Path) -> int:
    """Open a special output for writing. No O_TRUNC: a descriptor opened by the shell (>> or >) keeps its own
    position; devices cannot be truncated. O_NONBLOCK: a FIFO nobody reads fails (ENXIO) instead of blocking
    forever; the caller clears it after the open so that writes wait for a slow reader as usual."""
    flags = os.O_WRONLY | os.O_NONBLOCK | (os.O_APPEND if _is_descriptor(target) else 0)
    deadline = time.monotonic() + FIFO_READER_WAIT_S
    while True:
        try:
            return os.open(target, flags)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise OutputError(f"cannot write {target}: {_reason(exc)}") from None
            if time.monotonic() >= deadline:
                raise OutputError(f"cannot write {target}: it is a FIFO (named pipe) that nobody is reading; start "
                                  "its reader first") from None
            time.sleep(0.05)


def _set_blocking(fd: int) -> None:
    try:
        os.set_blocking(fd, True)
    except OSError:  # some devices refuse fcntl: they never block anyway
        pass


def _is_descriptor(path: Path) -> bool:
    text = str(path)
    return any(text == p.rstrip("/") or text.startswith(p) for p in _DESCRIPTOR_PREFIXES)


def _kind(path: Path) -> str:
    """'missing', 'file', 'folder' or 'special' (device, FIFO, socket, the process's own descriptors)."""
    if _is_descriptor(path):
        return "special"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "missing"  # e.g. a dangling link or an unreadable folder: the write says why
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return "special"


def _existing_mode(real: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(real).st_mode)
    except OSError:
        return None


def _shown_parent(target: Path) -> str:
    return str(target.parent) if str(target.parent) else "."


def os_error_reason(exc: OSError) -> str:
    """A short phrase for an OSError while writing (a full disk, a quota, a read-only file system ...)."""
    return _reason(exc)


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "it is a folder"
    return exc.strerror or str(exc)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------------------------------------ run checks


@dataclass(frozen=True)
class _Identity:
    real: str
    inode: tuple[int, int] | None

    def same(self, other: _Identity) -> bool:
        return self.real == other.real or (self.inode is not None and self.inode == other.inode)


def _identity(path: str) -> _Identity:
    real = os.path.realpath(path)
    try:
        info = os.stat(path)
        inode = (info.st_dev, info.st_ino)
    except OSError:
        inode = None
    return _Identity(real, inode)


def check_run_files(*, inputs: Mapping[str, str | Path | None] | Iterable[tuple[str, str | Path | None]] = (),
                    outputs: Mapping[str, str | Path | None] | Iterable[tuple[str, str | Path | None]] = ()
                    ) -> None:
    """Refuse a run whose outputs would destroy its inputs, collide with each other or cannot be written.

    ``inputs`` / ``outputs``: (what names it, e.g. ``"--csv"`` or ``"graph file"``; path) pairs; None and
    inputs that are not files (model names) are skipped. Special outputs (``-``, devices, FIFOs) are only
    checked for writability and for being given twice.
    """
    input_pairs = [(label, str(p)) for label, p in _pairs(inputs) if p is not None and str(p) != STDOUT]
    known_inputs = [(label, p, _identity(p)) for label, p in input_pairs if os.path.lexists(p)]
    seen: list[tuple[str, str, _Identity]] = []
    stdout_by: str | None = None
    for label, raw in _pairs(outputs):
        if raw is None:
            continue
        path = str(raw)
        if path == "":
            raise OutputError(f"{label}: empty path")
        if path == STDOUT:
            if stdout_by is not None:
                raise OutputError(f"{label} - and {stdout_by} - would both write to standard output")
            stdout_by = label
            continue
        ident = _identity(path)
        for in_label, in_path, in_ident in known_inputs:
            if ident.same(in_ident):
                raise OutputError(f"{label} {path} is the same file as the input {in_label} {in_path}: "
                                  "writing it would destroy the input; choose another output path")
        for out_label, out_path, out_ident in seen:
            if ident.same(out_ident) and _kind(Path(path)) != "special":
                raise OutputError(f"{label} {path} and {out_label} {out_path} are the same file; give each "
                                  "output its own path")
        check_writable(path, label=label)
        seen.append((label, path, ident))


def _pairs(items) -> list[tuple[str, str | Path | None]]:
    return list(items.items()) if isinstance(items, Mapping) else list(items)


def check_writable(path: str | Path, *, label: str = "output") -> None:
    """Raise OutputError (one line) when ``path`` cannot be written; creates nothing that stays behind."""
    name = str(path)
    if name == STDOUT:
        return
    target = Path(path)
    kind = _kind(target)
    if kind == "folder":
        raise OutputError(f"{label} {name}: cannot write it, it is a folder")
    if kind == "special":
        if not os.access(target, os.W_OK) and not _is_descriptor(target):
            raise OutputError(f"{label} {name}: cannot write it (permission denied)")
        return
    real = Path(os.path.realpath(target))
    if not real.parent.is_dir():
        raise OutputError(f"{label} {name}: cannot write it, folder {_shown_parent(target)} does not exist")
    try:  # the only reliable probe (root ignores modes, read-only mounts, ACLs): create and remove a file
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".probe", dir=real.parent)
    except OSError as exc:
        raise OutputError(f"{label} {name}: cannot write it ({_reason(exc)})") from None
    os.close(fd)
    os.unlink(tmp)
    if kind == "file" and not os.access(real, os.W_OK) and os.geteuid() != 0:
        raise OutputError(f"{label} {name}: cannot write it (the file is read-only)")


def read_text_input(path: str | Path, *, what: str, error: type[HwmapError] = HwmapError) -> str:
    """An input file's text as UTF-8 (a leading BOM dropped); binary or non-UTF-8 content, a folder or an
    unreadable file is one line naming the file."""
    target = Path(path)
    try:
        data = target.read_bytes()
    except IsADirectoryError:
        raise error(f"{what} {path}: is a folder, expected a file") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    if b"\x00" in data:
        raise error(f"{what} {path}: is a binary file, expected text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


# Integers past this would overflow the int64 arithmetic of the cost models (products of a few of them).
MAX_JSON_INT = 1 << 62


def parse_json_strict(text: str, *, origin: str, error: type[Exception] = HwmapError) -> object:
    """json.loads that rejects duplicate keys, NaN/Infinity, integers past 2^62 and absurd nesting, each as one
    line naming ``origin``."""

    def pairs(items: list[tuple[str, object]]) -> dict:
        data: dict = {}
        for key, value in items:
            if key in data:
                raise error(f"{origin}: duplicate key {key!r}")
            data[key] = value
        return data

    def constant(name: str) -> object:
        raise error(f"{origin}: {name} is not a number JSON allows (non-finite values are not accepted)")

    def integer(token: str) -> int:
        if len(token) > 20 or abs(int(token)) > MAX_JSON_INT:
            raise error(f"{origin}: integer {token[:24]}{'...' if len(token) > 24 else ''} is too large "
                        f"(at most 2^62)")
        return int(token)

    def real(token: str) -> float:
        value = float(token)
        if value != value or value in (float("inf"), float("-inf")):
            raise error(f"{origin}: number {token[:24]} is out of range")
        return value

    enabled = gc.isenabled()
    gc.disable()  # thousands of small acyclic objects: the cyclic GC would only slow the build down
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_int=integer,
                              parse_float=real)
    except json.JSONDecodeError as exc:
        raise error(f"{origin}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
                    "truncated?") from None
    except RecursionError:
        raise error(f"{origin}: nested too deeply to be an hwmap file") from None
    finally:
        if enabled:
            gc.enable()


MAX_NESTING = 100
_BLOCK_PREFIX = re.compile(r"[ \t]*(?:-[ \t]+)*")


def check_nesting(text: str, *, origin: str, error: type[Exception] = HwmapError, limit: int = MAX_NESTING) -> None:
    """Refuse YAML/JSON text nested deeper than ``limit`` levels before a parser sees it: PyYAML's C parser
    crashes the process (not an exception) on 100,000 open brackets. Counts flow brackets outside quotes and the
    block prefix (indentation and '- ' markers) of each line; both over-estimate, never under-estimate, depth."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "\n":
            quote = ""  # an unmatched quote in a comment must not hide the rest of the file
    if deepest > limit:
        raise error(f"{origin}: nested more than {limit} levels deep; expected an hwmap file")
    for line in text.splitlines():
        prefix = _BLOCK_PREFIX.match(line)
        if prefix is not None and prefix.end() > 4 * limit:
            raise error(f"{origin}: nested more than {limit} levels deep; expected an hwmap file")
