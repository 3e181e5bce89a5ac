"""The catalog of shipped templates: gpu/ subfolder, unique names, and the packaged copy after a real install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import hwmap.errors
import hwmap.hardware
from hwmap.errors import TemplateError
from hwmap.hardware import catalog, list_accelerators, load_accelerator, loader

REPO = Path(__file__).resolve().parents[2]
GPU_TEMPLATE = "schema_version: 1\nkind: gpu\ndescription: a GPU\n"


@pytest.fixture(autouse=True)
def _fresh_alias_table() -> Iterator[None]:
    """The GPU alias table is read once per process: tests that swap the templates root must not leave theirs."""
    loader.gpu_aliases.cache_clear()
    yield
    loader.gpu_aliases.cache_clear()


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "accelerators"
    (root / "gpu").mkdir(parents=True)
    (root / "calibrations").mkdir()
    sa8 = (REPO / "accelerators" / "systolic8x8.yaml").read_text()
    (root / "systolic8x8.yaml").write_text(sa8)
    (root / "other.yml").write_text(sa8)
    (root / "gpu" / "h100_sxm.yaml").write_text(GPU_TEMPLATE)
    (root / "gpu" / "h100_sxm.calibration.yaml").write_text("not: a template")  # dotted stem: not listed
    (root / "calibrations" / "fit.yaml").write_text("not: a template")  # not a template folder
    (root / "README.md").write_text("# docs")
    (root / "__init__.py").write_text("")
    monkeypatch.setattr(catalog, "templates_root", lambda: root)
    return root


def test_catalog_lists_top_level_and_gpu_templates(fake_root: Path) -> None:
    assert list_accelerators() == ["h100_sxm", "other", "systolic8x8"]
    entries = catalog.catalog_entries()
    assert entries["h100_sxm"].relpath == "gpu/h100_sxm.yaml"
    assert load_accelerator("other").name == "other"


def test_template_of_an_unknown_kind_lists_the_known_kinds(fake_root: Path) -> None:
    (fake_root / "gpu" / "npu.yaml").write_text(GPU_TEMPLATE.replace("kind: gpu", "kind: npu"))
    with pytest.raises(TemplateError) as info:
        load_accelerator("npu")
    message = str(info.value)
    assert message.startswith("gpu/npu.yaml: kind: unknown kind 'npu', expected one of 'gpu', 'hierarchy', "
                              "'systolic', 'vector_pe'")


def test_template_names_must_be_unique_across_folders(fake_root: Path) -> None:
    (fake_root / "gpu" / "systolic8x8.yaml").write_text(GPU_TEMPLATE)
    with pytest.raises(TemplateError, match="two accelerator templates are named 'systolic8x8'"):
        list_accelerators()


def test_empty_catalog_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "templates_root", lambda: tmp_path / "nothing")
    assert list_accelerators() == []
    with pytest.raises(TemplateError, match="Known accelerators: none"):
        load_accelerator("systolic16x16")


def test_source_checkout_falls_back_to_the_repo_folder() -> None:
    root = catalog.templates_root()
    assert (root / "systolic16x16.yaml").is_file()
    if not _packaged():
        assert Path(str(root)) == REPO / "accelerators"


def _packaged() -> bool:
    try:
        import hwmap.accelerators  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def test_packaged_copy_works_from_a_zip_install(tmp_path: Path) -> None:
    """Simulates a non-editable install: accelerators/ mapped to hwmap.accelerators, imported from a zip."""
    archive = tmp_path / "hwmap_site.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hwmap/__init__.py", "")
        for base in ("errors.py", "fileio.py", "yamlio.py", "vocabulary.py"):  # the base modules hwmap.hardware imports
            zf.write(Path(hwmap.errors.__file__).parent / base, f"hwmap/{base}")
        for module in Path(hwmap.hardware.__file__).parent.glob("*.py"):
            zf.write(module, f"hwmap/hardware/{module.name}")
        for item in sorted((REPO / "accelerators").rglob("*")):
            if item.is_file() and "__pycache__" not in item.parts:
                zf.write(item, f"hwmap/accelerators/{item.relative_to(REPO / 'accelerators')}")
    script = (
        "import json, hwmap.hardware as h\n"
        "root = h.templates_root()\n"
        "acc = h.load_accelerator('systolic16x16')\n"
        "print(json.dumps({'names': h.list_accelerators(), 'root': type(root).__name__, "
        "'file': h.__file__, 'macs': acc.peak_macs_per_cycle}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(archive)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["file"].startswith(str(archive))  # really the zipped copy, not the checkout
    assert result["root"] != "PosixPath"  # read through importlib.resources (a zipfile.Path)
    assert result["names"] == list_accelerators()
    assert result["macs"] == 256
