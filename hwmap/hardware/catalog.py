"""The shipped accelerator templates: the repository's top-level ``accelerators/`` folder.

An installed hwmap carries that folder as the package ``hwmap.accelerators`` (setuptools package-dir
mapping), read through importlib.resources so it works from a wheel or zip too; a source checkout without
the mapping falls back to ``<repo>/accelerators``. Templates are ``accelerators/*.yaml`` and
``accelerators/gpu/*.yaml``; a template's name is its file stem, unique across both folders. Nothing is
cached: the folder is listed on each call.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from hwmap.errors import TemplateError

__all__ = ["CatalogEntry", "catalog_entries", "find_template", "list_accelerators", "templates_root"]

PACKAGE = "hwmap.accelerators"
SUBFOLDERS = ("gpu",)  # template subfolders; anything else under accelerators/ (e.g. calibrations) is not listed
SUFFIXES = (".yaml", ".yml")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")  # a stem with a dot ("x.calibration.yaml") is not a template


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str  # file stem
    relpath: str  # "systolic16x16.yaml", "gpu/h100_sxm.yaml": what error messages call the file
    resource: Traversable

    def read_text(self) -> str:
        return self.resource.read_text(encoding="utf-8")


def templates_root() -> Traversable:
    """The packaged ``hwmap.accelerators`` when installed, else ``<repo>/accelerators`` of a source checkout."""
    try:
        return importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "accelerators"


def catalog_entries() -> dict[str, CatalogEntry]:
    """Every shipped template by name, sorted by name. Raises TemplateError on two templates with one name."""
    root = templates_root()
    entries: dict[str, CatalogEntry] = {}
    folders: list[tuple[str, Traversable]] = [("", root)]
    folders += [(f"{sub}/", root / sub) for sub in SUBFOLDERS]
    for prefix, folder in folders:
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            stem, dot, suffix = item.name.rpartition(".")
            if not dot or f".{suffix}" not in SUFFIXES or not _NAME.fullmatch(stem) or not item.is_file():
                continue
            relpath = f"{prefix}{item.name}"
            if stem in entries:
                raise TemplateError(
                    f"two accelerator templates are named {stem!r}: {entries[stem].relpath} and {relpath}, "
                    "template names (file stems) must be unique"
                )
            entries[stem] = CatalogEntry(name=stem, relpath=relpath, resource=item)
    return dict(sorted(entries.items()))


def list_accelerators() -> list[str]:
    """Names of the shipped templates, sorted."""
    return list(catalog_entries())


def find_template(name: str) -> CatalogEntry:
    """The shipped template called ``name``; an unknown name raises a TemplateError listing the known names."""
    entries = catalog_entries()
    entry = entries.get(name)
    if entry is not None:
        return entry
    known = list(entries)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    close += [k for k in known if k not in close and (k.startswith(name) or name in k)][: max(0, 3 - len(close))]
    rest = [k for k in known if k not in close]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    listing = ", ".join(close + rest) if known else f"none (no templates found under {templates_root()})"
    raise TemplateError(
        f"unknown accelerator {name!r}{hint}. Known accelerators: {listing}. "
        "A path to a YAML template file works too."
    )
