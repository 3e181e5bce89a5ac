"""Hostile output paths for every command that writes a file: an output that is an input (the same path, a hard
link, a symlink to it), two outputs of one run that are the same file, a folder, a missing folder. Each is exit 2
and one line naming the option, found before any computing; inputs byte-identical, nothing left behind.

And what outputs must do: write through a symlink to its target, into a FIFO, to standard output ('-' and
/dev/stdout), keep a file's permissions, and leave the old file whole when the disk is full."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading

import pytest

WRITERS = {
    "flops": (["flops", "{graph}", "--csv", "{OUT}"], "--csv", "graph"),
    "graph": (["graph", "{graph}", "--out", "{OUT}"], "--out", "graph"),
    "export": (["export", "{graph}", "--out", "{OUT}"], "--out", "graph"),
    "estimate": (["estimate", "{graph}", "--accel", "{accel}", "--csv", "{OUT}"], "--csv", "accel"),
    "paths-cost": (["paths", "cost", "{paths}", "--accel", "systolic8x8", "--csv", "{OUT}"], "--csv", "paths"),
    "paths-generate": (["paths", "generate", "{graph}", "--out", "{OUT}"], "--out", "graph"),
    "select-paths": (["select-paths", "{costed}", "--budget", "0.5", "--out", "{OUT}"], "--out", "costed"),
    "plot-shares": (["plot", "shares", "{graph}", "--accel", "{accel}", "--out", "{OUT}"], "--out", "graph"),
    "plot-layers": (["plot", "layers", "{graph}", "--accel", "{cfg}", "--out", "{OUT}"], "--out", "cfg"),
    "plot-frontier": (["plot", "frontier", "{costed}", "--selection", "{selection}", "--out", "{OUT}"], "--out",
                      "selection"),
    "plot-pareto": (["plot", "pareto", "{costed}", "--out", "{OUT}"], "--out", "costed"),
    "sweep-out": (["sweep", "{space}", "--workers", "1", "--out", "{OUT}"], "--out", "space"),
    "sweep-front": (["sweep", "{space}", "--workers", "1", "--front-out", "{OUT}"], "--front-out", "space"),
    "sweep-journal": (["sweep", "{space}", "--workers", "1", "--journal", "{OUT}", "--overwrite"], "--journal",
                      "space"),
    "evaluate": (["evaluate", "{paths}", "--data", "{trace}", "--out", "{OUT}"], "--out", "paths"),
    "calibrate": (["calibrate", "--accel", "{accel}", "--out", "{OUT}"], "--out", "accel"),
}


def _target(kind: str, inputs, tmp_path, writer_input: str):
    source = inputs[writer_input]
    if kind == "same":
        return source
    if kind == "hardlink":
        alias = tmp_path / f"hard{source.suffix}"
        os.link(source, alias)
        return alias
    if kind == "symlink":
        alias = tmp_path / f"link{source.suffix}"
        alias.symlink_to(source.name)
        return alias
    if kind == "folder":
        folder = tmp_path / "folder.csv"
        folder.mkdir()
        return folder
    return tmp_path / "missing" / "out.csv"


HOSTILE = ("same", "hardlink", "symlink", "folder", "missing-folder")
EXPECTED = {"same": "same file as the input", "hardlink": "same file as the input",
            "symlink": "same file as the input", "folder": "it is a folder", "missing-folder": "does not exist"}


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_hostile_output_paths(writer, kind, inputs, tmp_path, hostile):
    argv, option, source = WRITERS[writer]
    out = _target(kind, inputs, tmp_path, source)
    line = hostile(*[part.format(OUT=out, **inputs) for part in argv], names=(option,))
    if not (writer.startswith("sweep") and kind in ("same", "hardlink", "symlink")):
        assert EXPECTED[kind] in line, line  # (a sweep output named like the space YAML fails its suffix check)


@pytest.mark.parametrize(("argv", "names"), [
    (["sweep", "{space}", "--out", "{d}/r.csv", "--front-out", "{d}/r.csv"], ("--front-out", "--out")),
    (["sweep", "{space}", "--out", "{d}/r.csv", "--journal", "{d}/r.csv"], ("--journal", "--out")),
    (["sweep", "{space}", "--out", "{d}/r.csv", "--front-out", "{d}/link.csv"], ("--front-out", "--out")),
    (["sweep", "{space}", "--journal", "{space}", "--overwrite"], ("--journal", "SPACE")),
    (["sweep", "{space}", "--journal", "{graph}"], ("--journal", "model tiny")),
])
def test_outputs_of_one_run_never_collide(argv, names, inputs, tmp_path, hostile):
    (tmp_path / "link.csv").symlink_to("r.csv")  # dangling until r.csv is written: still the same file
    hostile(*[part.format(d=tmp_path, **inputs) for part in argv], names=names)


def test_csv_through_a_symlink_writes_its_target(inputs, tmp_path, run_cli):
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, err = run_cli("flops", str(inputs["graph"]), "--by", "op-class", "--csv", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().splitlines()[:2] == ["op-class,detail,ops,macs,share", "conv.dense,,1,3456,0.729730"]
    dangling = tmp_path / "new-link.csv"
    dangling.symlink_to("created.csv")
    code, _, err = run_cli("flops", str(inputs["graph"]), "--by", "op-class", "--csv", str(dangling))
    assert code == 0, err
    assert dangling.is_symlink() and (tmp_path / "created.csv").read_text().startswith("op-class,")


def test_csv_into_a_fifo(inputs, tmp_path, run_cli):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run_cli("flops", str(inputs["graph"]), "--csv", str(fifo))
    reader.join(timeout=30)
    assert code == 0, err
    assert fifo.is_fifo()  # not replaced by a regular file
    assert received[0].decode().splitlines()[0] == "op-group,detail,ops,macs,share"
    # 3,456 conv MACs of 4,736 (the tiny graph): share 0.729730
    assert "conv,,1,3456,0.729730" in received[0].decode()


def test_csv_to_stdout(inputs, run_cli):
    code, out, err = run_cli("flops", str(inputs["graph"]), "--csv", "-", "--by", "layer")
    assert code == 0, err
    assert out.splitlines()[0].startswith("layer,") and "conv:convolution#0" in out
    code, _, err = run_cli("flops", str(inputs["graph"]), "--csv", "-", "--json")
    assert code == 0, err


def test_dev_stdout_is_written_not_replaced(inputs, tmp_path):
    """A real process whose stdout is a pipe: /dev/stdout (a link to /proc/self/fd/1) receives the CSV."""
    done = subprocess.run([sys.executable, "-m", "hwmap", "flops", str(inputs["graph"]), "--csv", "/dev/stdout",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("op-group,detail,ops,macs,share\n")
    assert '"total_macs": 4736' in done.stdout


def test_a_file_keeps_its_permissions_and_a_full_disk_leaves_it_whole(inputs, tmp_path, run_cli, monkeypatch):
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    out.chmod(0o640)
    code, _, err = run_cli("flops", str(inputs["graph"]), "--csv", str(out))
    assert code == 0, err
    assert (out.stat().st_mode & 0o777) == 0o640 and out.read_text().startswith("op-group")
    out.write_text("precious\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    code, _, err = run_cli("flops", str(inputs["graph"]), "--csv", str(out))
    assert code == 2 and err.splitlines() == [f"hwmap: error: cannot write {out}: no space left on the device"]
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left
