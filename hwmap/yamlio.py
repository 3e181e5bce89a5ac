"""The one YAML reader of hwmap: numbers read as written (YAML 1.2 core schema), strictly.

Every YAML file hwmap reads (accelerator and GPU templates, calibration files, design spaces, paths files) goes
through :func:`parse_yaml_text`. PyYAML alone implements YAML 1.1, whose implicit types read ``freq_mhz: 1:40`` as
the base-60 number 100, ``rows: 010`` as octal 8, ``on``/``yes`` as True and ``2024-01-02`` as a date: a value the
user did not write, later shown back as if they had. :class:`Yaml12Loader` replaces those rules with the YAML 1.2
core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution):

- null: ``~``, ``null``, ``Null``, ``NULL``, empty; bool: ``true``/``false`` (also ``True``, ``TRUE``, ...) only, so
  ``yes``, ``no``, ``on``, ``off`` stay strings and the strict schemas refuse them where a bool is expected;
- int: decimal ``[-+]?[0-9]+``, octal ``0o17``, hex ``0x1F``; float: ``1.5``, ``.5``, ``1e3``, ``2.5e-1``,
  ``.inf``, ``.nan``; everything else (``1:40``, ``1_000``, ``0b101``, ``2024-01-02``) is a string, which the schema
  then refuses where a number is expected, naming the field and showing the text as written.

One deliberate departure from the core schema: a plain integer with a leading zero (``010``, ``-007``) is refused
with one line naming the field. YAML 1.2 reads it as decimal 10, YAML 1.1 tools (PyYAML, and the configs of the
tools hwmap talks to) as octal 8: the same file would mean two designs, so hwmap asks which one was meant.

Files hwmap writes go through :func:`dump_yaml`, which quotes every string that either YAML version would read as
something else (``'1e3'``, ``'0o17'``, ``'yes'``, ``'1:40'``), so hwmap and other tools read back what was written.

Strictness on top: duplicate keys and non-string keys are all reported with their key paths and lines; every
problem is ONE error of the caller's class whose message names the source and the key path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hwmap.errors import HwmapError

__all__ = ["Yaml12Dumper", "Yaml12Loader", "dump_yaml", "parse_yaml_text"]

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"

_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")  # YAML 1.1: octal; YAML 1.2 core: decimal. Refused, see above.

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: yaml.SafeLoader, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


class Yaml12Loader(_BaseLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types (see the module docstring) that rejects duplicate
    mapping keys. Safe to use with ``yaml.load(text, Loader=Yaml12Loader)``; :func:`parse_yaml_text` adds the
    one-line error messages."""

    yaml_implicit_resolvers: dict = {}  # noqa: RUF012 - PyYAML's class-level registry; filled below, never the 1.1 one

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # parse_yaml_text already reports every duplicate with its path; this guards direct yaml.load use.
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
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       f"found duplicate key {key!r} (first on line {first})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 core schema, in the order PyYAML tries them for a scalar's first character (int before float).
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                   ["~", "n", "N", ""])
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))
Yaml12Loader.add_implicit_resolver(_INT_TAG, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                                   list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
               r"|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)
Yaml12Loader.add_implicit_resolver(_MERGE_TAG, re.compile(r"^(?:<<)$"), ["<"])  # merge keys, as before
Yaml12Loader.add_constructor(_INT_TAG, _construct_int)
Yaml12Loader.add_constructor(_FLOAT_TAG, _construct_float)


def _resolves_to_12(value: str) -> str:
    """The tag a plain scalar gets under the YAML 1.2 core schema (Yaml12Loader's resolvers)."""
    for tag, pattern in Yaml12Loader.yaml_implicit_resolvers.get(value[:1], []):
        if pattern.match(value):
            return tag
    return _STR_TAG


class Yaml12Dumper(yaml.SafeDumper):
    """SafeDumper that quotes a string whenever YAML 1.1 (PyYAML's own rules) or YAML 1.2 (Yaml12Loader) would
    read it plain as a non-string."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        tag = super().resolve(kind, value, implicit)
        if kind is ScalarNode and implicit[0] and tag == _STR_TAG and isinstance(value, str):
            return _resolves_to_12(value)
        return tag


def dump_yaml(document: Any, **options: Any) -> str:
    """YAML text of document (safe types only) that YAML 1.1 and 1.2 readers both read back as it is."""
    return yaml.dump(document, Dumper=Yaml12Dumper, allow_unicode=True, **{"sort_keys": False, **options})


def parse_yaml_text(text: str, *, source: str, error: type[HwmapError] = HwmapError
                    ) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse YAML text with :class:`Yaml12Loader`: the document and a map from key path to line number, or ONE
    ``error`` naming ``source`` and every problem (duplicate keys, non-string keys, leading-zero integers)."""
    loader = None
    try:
        loader = Yaml12Loader(text)
        node = loader.get_single_node()
        lines: dict[tuple[str, ...], int] = {}
        problems = list(_walk(node, (), lines, set())) if node is not None else []
        if problems:
            raise error("; ".join(f"{source}: {p}" for p in problems))
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise error(f"{source}: not valid YAML: {_one_line(what)}{where}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise error(f"{source}: the YAML is nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an explicit !!int tag on a non-number
        raise error(f"{source}: not valid YAML: {_one_line(str(exc))}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _walk(node: Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int], seen: set[int]) -> Iterator[str]:
    """Record the line of each key path; yield duplicate-key, non-string-key and leading-zero problems (all)."""
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
    elif isinstance(node, ScalarNode) and node.tag == _INT_TAG and not node.style and \
            _LEADING_ZERO.fullmatch(node.value):  # plain style: None (PyYAML) or "" (libyaml)
        yield _leading_zero_problem(node, path)


def _leading_zero_problem(node: ScalarNode, path: tuple[str, ...]) -> str:
    text = node.value
    digits = text.lstrip("+-")
    decimal = int(text, 10)
    octal = int(text, 8) if set(digits) <= set("01234567") else None
    readings = f"YAML 1.1 tools read octal {octal}, YAML 1.2 decimal {decimal}" if octal is not None else \
        f"YAML 1.2 reads decimal {decimal}, YAML 1.1 tools refuse it"
    where = ".".join(path) + ": " if path else ""
    return (f"{where}{text} has a leading zero ({readings}): write {decimal} for the number or quote it for text "
            f"(line {node.start_mark.line + 1})")
