"""Outputs that must never destroy an input, including the inputs a command reads without naming them (the
calibration beside a GPU template, a space's base template, the census's models and templates); a full disk is
one line naming the file with nothing left behind that blocks a retry; a FIFO nobody reads is reported, not
waited on forever; a device is written, never replaced."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hwmap.hardware.catalog import find_template

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def gpu_template(inputs, tmp_path) -> Path:
    """A GPU template file with its calibration beside it (read implicitly by estimate)."""
    template = tmp_path / "h100_sxm.yaml"
    template.write_text(find_template("h100_sxm").read_text())
    assert inputs["calibration"] == tmp_path / "h100_sxm.calibration.yaml"
    return template


# ------------------------------------------------------------------------------------------------ same file


@pytest.mark.parametrize("alias", ["same", "hardlink", "symlink"])
def test_zigzag_export_onto_its_accel_template(inputs, tmp_path, hostile, alias):
    out = _alias(inputs["accel"], tmp_path, alias)
    hostile("export", inputs["graph"], "--format", "zigzag", "--accel", inputs["accel"], "--out", out,
            names=("--out", "same file as the input --accel"))


@pytest.mark.parametrize("alias", ["same", "hardlink", "symlink"])
def test_census_out_onto_its_input_graph(inputs, tmp_path, hostile, alias):
    out = _alias(inputs["graph"], tmp_path, alias)
    hostile("census", inputs["graph"], "--accel", "systolic8x8", "--out", out, "--workers", "0",
            names=("out", "same file as the input model"))


def test_census_out_onto_its_template(inputs, tmp_path, hostile):
    out = tmp_path / "accel.json"
    os.link(inputs["accel"], out)
    hostile("census", inputs["graph"], "--accel", inputs["accel"], "--out", out, "--workers", "0",
            names=("out", "same file as the input accel"))


@pytest.mark.parametrize("alias", ["same", "hardlink", "symlink"])
def test_estimate_csv_onto_the_calibration_beside_its_gpu_template(inputs, gpu_template, tmp_path, hostile, alias):
    out = _alias(inputs["calibration"], tmp_path, alias)
    hostile("estimate", inputs["graph"], "--accel", gpu_template, "--csv", out,
            names=("--csv", "--accel's calibration"))


def test_accels_export_through_a_link_in_the_output_folder(inputs, tmp_path, hostile):
    folder = tmp_path / "zigzag"
    folder.mkdir()
    (folder / "accel.hardware.yaml").symlink_to(inputs["accel"])
    hostile("accels", "export", inputs["accel"], "--out", folder,
            names=("accel.hardware.yaml", "same file as the input"))


def test_sweep_out_onto_the_space_s_base_template(inputs, tmp_path, hostile):
    space = tmp_path / "space2.yaml"
    space.write_text(inputs["space"].read_text().replace("base: systolic8x8", f"base: {inputs['accel']}"))
    out = tmp_path / "results.json"
    os.link(inputs["accel"], out)
    hostile("sweep", space, "--out", out, names=("--out", "the space's base template"))


def _alias(source: Path, tmp_path: Path, kind: str) -> Path:
    if kind == "same":
        return source
    alias = tmp_path / f"alias-{kind}{source.suffix}"
    if kind == "hardlink":
        os.link(source, alias)
    else:
        alias.symlink_to(source)
    return alias


# ------------------------------------------------------------------------------------------------ full disk


def _full_disk(monkeypatch, *, after: int = 0) -> None:
    """Every fsync after the first ``after`` ones fails as on a full disk (where a buffered write's ENOSPC shows)."""
    calls = []
    real = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) > after:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("after", [0, 1])
def test_sweep_on_a_full_disk_is_one_line_and_a_retry_works(inputs, tmp_path, run_cli, monkeypatch, after):
    out = tmp_path / "swept.csv"
    journal = tmp_path / "swept.csv.journal.jsonl"
    _full_disk(monkeypatch, after=after)  # 0: the journal's header fails; 1: the first finished chunk fails
    code, _, err = run_cli("sweep", str(inputs["space"]), "--out", str(out))
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and str(journal) in lines[0] and "no space left" in lines[0], err
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".swept", "swept")))
    if after == 0:
        assert left == [], left  # no 0-byte journal, no lock, no temporary file
    else:
        assert left == [journal.name] and journal.read_text().count("\n") == 1  # the header: resumable
        assert "--resume" in lines[0]
    monkeypatch.undo()
    code, _, err = run_cli("sweep", str(inputs["space"]), "--out", str(out), *(["--resume"] if after else []))
    assert code == 0, err
    assert out.read_text().count("\n") == 3  # header + two points


def test_census_on_a_full_disk_is_one_line_and_a_retry_works(inputs, tmp_path, run_cli, monkeypatch):
    out = tmp_path / "census.csv"
    _full_disk(monkeypatch)
    code, _, err = run_cli("census", str(inputs["graph"]), "--accel", "systolic8x8", "--out", str(out),
                           "--workers", "0")
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and "census.csv.journal.jsonl" in lines[0] and "no space left" in lines[0]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith((".census", "census"))]
    monkeypatch.undo()
    code, _, err = run_cli("census", str(inputs["graph"]), "--accel", "systolic8x8", "--out", str(out),
                           "--workers", "0")
    assert code == 0, err
    assert out.read_text().count("\n") == 2


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_kept(inputs, tmp_path, run_cli, victim_file):
    out = tmp_path / "swept.csv"
    (tmp_path / ".swept.csv.lock").symlink_to(victim_file)
    code, _, err = run_cli("sweep", str(inputs["space"]), "--out", str(out))
    assert code == 2 and "is a symbolic link" in err and err.count("\n") == 1
    assert victim_file.read_text() == "precious\n"


@pytest.fixture
def victim_file(tmp_path) -> Path:
    path = tmp_path / "precious.txt"
    path.write_text("precious\n")
    return path


# ------------------------------------------------------------------------------------------------ FIFOs, devices


def test_a_fifo_nobody_reads_is_reported_not_waited_on(inputs, tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "hwmap", "flops", str(inputs["graph"]), "--csv", str(fifo)],
                            capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"hwmap: error: cannot write {fifo}: it is a FIFO (named pipe) that nobody is reading; start its reader "
        "first"]
    assert fifo.is_fifo()


def test_dev_null_is_written_and_stays_a_device(inputs, run_cli):
    before = os.stat("/dev/null")
    code, _, err = run_cli("flops", str(inputs["graph"]), "--csv", "/dev/null")
    assert code == 0, err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
