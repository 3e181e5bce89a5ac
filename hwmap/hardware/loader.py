"""Strict YAML loading of accelerator templates (DESIGN.md convention 6).

The YAML is read by :mod:`hwmap.yamlio` (YAML 1.2 core schema: numbers as written, no base-60 or octal readings,
leading-zero integers refused): duplicate keys are rejected with their line numbers and keys must be strings. The
parsed document then goes through :func:`hwmap.hardware.schema.validate_template`. Every failure, from a missing
file to a negative buffer size, is ONE :class:`~hwmap.errors.TemplateError` whose message names the file, the field
and what was expected; several problems are joined with ``'; '``.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

from hwmap.errors import TemplateError
from hwmap.fileio import check_nesting
from hwmap.hardware.catalog import find_template
from hwmap.hardware.schema import Accelerator, validate_template
from hwmap.yamlio import Yaml12Loader, parse_yaml_text

__all__ = ["StrictSafeLoader", "load_accelerator", "loads_accelerator", "parse_template_text"]

_MAX_BYTES = 1_000_000  # a template is a page of YAML; refuse to parse something else by mistake

StrictSafeLoader = Yaml12Loader  # the name templates' tests and callers know; one loader for every YAML file


def parse_template_text(text: str, *, source: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse YAML text strictly (hwmap.yamlio: YAML 1.2 numbers): the document and a map from key path to line
    number, or ONE TemplateError."""
    return parse_yaml_text(text, source=source, error=TemplateError)


def loads_accelerator(text: str, *, name: str, source: str | None = None) -> Accelerator:
    """An Accelerator from template YAML text; ``source`` names it in messages (default ``<name>.yaml``)."""
    shown = source if source is not None else f"{name}.yaml"
    data, lines = parse_template_text(text, source=shown)
    return validate_template(data, name=name, source=shown, lines=lines)


def load_accelerator(name_or_path: str | os.PathLike[str]) -> Accelerator:
    """A shipped template by name (``"systolic16x16"``) or any YAML template file by path.

    A string is a path when it ends in .yaml/.yml or contains a path separator; otherwise it is a template name,
    and an unknown name that is not an existing file raises a TemplateError listing the known names.
    """
    if isinstance(name_or_path, os.PathLike):
        return _load_path(Path(name_or_path))
    if not isinstance(name_or_path, str) or not name_or_path:
        raise TemplateError(f"expected an accelerator name or a template path, got {name_or_path!r}")
    text = name_or_path
    if text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text:
        return _load_path(Path(text))
    try:
        entry = find_template(text)
    except TemplateError:
        if Path(text).is_file():
            return _load_path(Path(text))
        target = gpu_aliases().get(text.lower())
        if target is None:
            raise
        _note_alias(text, target)
        entry = find_template(target)
    try:
        content = entry.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{entry.relpath}: cannot read the shipped template: {exc}") from None
    return loads_accelerator(content, name=entry.name, source=entry.relpath)


def _load_path(path: Path) -> Accelerator:
    shown = str(path)
    if not path.exists():
        raise TemplateError(f"{shown}: no such template file")
    if not path.is_file():
        raise TemplateError(f"{shown}: not a file, expected a YAML accelerator template")
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise TemplateError(
                f"{shown}: {path.stat().st_size} bytes is too large for a template (max {_MAX_BYTES})"
            )
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start}), expected YAML") from None
    except OSError as exc:
        raise TemplateError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if "\x00" in content:
        raise TemplateError(f"{shown}: is a binary file, expected a YAML accelerator template")
    # absurd nesting crashes PyYAML's C parser (the process, not an exception): refuse it before parsing
    check_nesting(content, origin=f"template {shown}", error=TemplateError)
    return loads_accelerator(content, name=path.stem, source=shown)


@functools.cache
def gpu_aliases() -> dict[str, str]:
    """Alias (lower case) -> template name, from the ``aliases`` lists of the shipped GPU templates
    (accelerators/gpu/*.yaml): the names people type (``h100`` for ``h100_sxm``). A template name always wins over
    an alias; an alias two templates claim goes to the first by name."""
    from hwmap.hardware.catalog import catalog_entries

    out: dict[str, str] = {}
    for name, entry in catalog_entries().items():
        if not entry.relpath.startswith("gpu/"):
            continue
        data, _ = parse_template_text(entry.read_text(), source=entry.relpath)
        aliases = data.get("aliases") if isinstance(data, dict) else None
        for alias in aliases if isinstance(aliases, list) else ():
            if isinstance(alias, str):
                out.setdefault(alias.lower(), name)
    return out


@functools.cache
def _note_alias(name: str, template: str) -> None:
    """One line on stderr, once per process and alias: which template an alias stands for."""
    print(f"note: accelerator {name!r} is template {template!r} (an alias listed in gpu/{template}.yaml)",
          file=sys.stderr)
