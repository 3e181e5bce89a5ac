"""Strict YAML loading of accelerator templates (DESIGN.md convention 6).

The YAML is read with :class:`StrictSafeLoader`: duplicate keys are rejected with their line numbers, keys must be
strings, and ``1e3``-style floats read as numbers (YAML 1.1 would read them as strings). The parsed document then
goes through :func:`hwmap.hardware.schema.validate_template`. Every failure, from a missing file to a negative
buffer size, is ONE :class:`~hwmap.errors.TemplateError` whose message names the file, the field and what was
expected; several problems are joined with ``'; '``.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hwmap.errors import TemplateError
from hwmap.fileio import check_nesting
from hwmap.hardware.catalog import find_template
from hwmap.hardware.schema import Accelerator, validate_template

__all__ = ["StrictSafeLoader", "load_accelerator", "loads_accelerator", "parse_template_text"]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_BYTES = 1_000_000  # a template is a page of YAML; refuse to parse something else by mistake


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster


class StrictSafeLoader(_BaseLoader):
    """SafeLoader that rejects duplicate mapping keys and reads ``1e3`` / ``2.5e-1`` as floats."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # parse_template_text already reports every duplicate with its path; this guards direct yaml.load use.
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # unhashable key: SafeConstructor reports it
            if first != key_node.start_mark.line + 1:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first on line {first})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 wants a dot and a signed exponent ("1.0e+3"); templates may write 1e3, 2.5e-1, 1E6 like YAML 1.2 allows.
StrictSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_template_text(text: str, *, source: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse YAML text strictly: the document and a map from key path to line number, or ONE TemplateError."""
    loader = None
    try:
        loader = StrictSafeLoader(text)
        node = loader.get_single_node()
        lines: dict[tuple[str, ...], int] = {}
        problems = list(_walk(node, (), lines, set())) if node is not None else []
        if problems:
            raise TemplateError("; ".join(f"{source}: {p}" for p in problems))
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise TemplateError(f"{source}: not valid YAML: {_one_line(what)}{where}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise TemplateError(f"{source}: not a template: the YAML is nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp like 2024-13-45
        raise TemplateError(f"{source}: not valid YAML: {_one_line(str(exc))}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _walk(node: Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int], seen: set[int]) -> Iterator[str]:
    """Record the line of each key path; yield duplicate-key and non-string-key problems (all of them)."""
    if id(node) in seen:  # aliases may point back at an ancestor
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                yield from _walk(value_node, path, lines, seen)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                where = ".".join(path) + ": " if path else ""
                yield f"{where}key {shown!r} is not a string, keys are field names (line {line})"
                continue
            key = key_node.value
            dotted = ".".join((*path, key))
            if key in first:
                yield f"{dotted}: duplicate key (line {line}, first on line {first[key]})"
                continue
            first[key] = line
            lines[(*path, key)] = line
            yield from _walk(value_node, (*path, key), lines, seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, str(index)), lines, seen)


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
