"""Fixtures of the fuzz suite: valid inputs of every kind (made once per session, no torch), a checker that runs
one hostile command in-process and asserts the error contract."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fuzz.inputs import write_inputs


@pytest.fixture(scope="session")
def valid_inputs(tmp_path_factory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("valid"))


@pytest.fixture
def inputs(tmp_path, valid_inputs) -> dict[str, Path]:
    """A private copy of the valid inputs (tests may damage them)."""
    copies = {}
    for kind, path in valid_inputs.items():
        copies[kind] = tmp_path / path.name
        copies[kind].write_bytes(path.read_bytes())
    return copies


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under folder: file bytes, or the link target / 'fifo' / 'dir'."""
    state: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                state[key] = f"link -> {os.readlink(path)}"
            elif path.is_fifo():
                state[key] = "fifo"
            elif path.is_dir():
                state[key] = "dir"
            else:
                state[key] = path.read_bytes()
    return state


@pytest.fixture
def hostile(run_cli, tmp_path):
    """hostile(*argv, names=...) runs hwmap in-process and asserts the error contract: exit 2, exactly one stderr
    line starting 'hwmap: error:' that contains every string of ``names``, no internal error, and the folder
    (inputs included) byte-identical afterwards with nothing left behind. Returns the stderr line."""

    def check(*argv: str, names: tuple[str, ...] | str = ()) -> str:
        before = snapshot(tmp_path)
        code, out, err = run_cli(*map(str, argv))
        lines = err.splitlines()
        assert code == 2, f"exit {code} for {argv}: {err!r}"
        assert len(lines) == 1, f"{len(lines)} stderr lines for {argv}: {err!r}"
        assert lines[0].startswith("hwmap: error: "), lines[0]
        assert "internal error" not in lines[0], lines[0]
        for name in (names,) if isinstance(names, str) else names:
            assert name in lines[0], f"{name!r} not named in {lines[0]!r}"
        after = snapshot(tmp_path)
        assert after == before, f"files changed or left behind by {argv}: " \
            f"{sorted(set(after) ^ set(before)) or [k for k in after if after[k] != before.get(k)]}"
        return lines[0]

    return check
