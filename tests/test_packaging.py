"""pyproject.toml lists its packages by hand (the package-dir mapping that ships accelerators/ needs it): every
package folder of hwmap/ must be in that list, or a non-editable install silently loses it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "hwmap").rglob("__init__.py")}
    assert folders - listed == set()
    assert "hwmap.interop.frontends" in listed  # the ONNX and SCALE-Sim topology front ends live there
