"""The safe output layer and the strict input readers of hwmap.fileio, on their own."""

from __future__ import annotations

import os

import pytest

from hwmap.errors import HwmapError, OutputError
from hwmap.fileio import (
    atomic_write_text,
    check_nesting,
    check_run_files,
    parse_json_strict,
    read_text_input,
)


def test_regular_file_is_replaced_whole_and_symlinks_are_followed(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    chain = tmp_path / "chain.txt"
    chain.symlink_to(link)  # a link to a link: the final target is written
    atomic_write_text(chain, "newer")
    assert target.read_text() == "newer" and chain.is_symlink() and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.txt", "l.txt", "t.txt"]


def test_stdout_dash(capsys):
    atomic_write_text("-", "a,b\n1,2\n")
    assert capsys.readouterr().out == "a,b\n1,2\n"


def test_run_checks_compare_real_files(tmp_path):
    source = tmp_path / "in.json"
    source.write_text("{}")
    os.link(source, tmp_path / "hard.json")
    (tmp_path / "soft.json").symlink_to(source)
    (tmp_path / "sub").mkdir()
    for alias in ("in.json", "hard.json", "soft.json", "sub/../in.json"):
        with pytest.raises(OutputError, match=f"--out {tmp_path / alias} is the same file as the input MODEL"):
            check_run_files(inputs={"MODEL": str(source)}, outputs={"--out": str(tmp_path / alias)})
    with pytest.raises(OutputError, match="--b .*b.csv and --a .*a.csv are the same file"):
        (tmp_path / "b.csv").symlink_to("a.csv")  # dangling: resolves to a.csv, which --a will create
        check_run_files(outputs={"--a": str(tmp_path / "a.csv"), "--b": str(tmp_path / "b.csv")})
    with pytest.raises(OutputError, match="would both write to standard output"):
        check_run_files(outputs={"--a": "-", "--b": "-"})
    check_run_files(inputs={"MODEL": "resnet50"}, outputs={"--csv": str(tmp_path / "new.csv"), "--out": None})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "hard.json", "in.json", "soft.json", "sub"]


def test_text_inputs_are_utf8_text(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n")
    assert read_text_input(path, what="CSV") == "a,b\n"
    path.write_bytes(b"a\x00b")
    with pytest.raises(HwmapError, match=f"CSV {path}: is a binary file"):
        read_text_input(path, what="CSV")
    path.write_bytes(b"caf\xe9")
    with pytest.raises(HwmapError, match=rf"CSV {path}: not UTF-8 text \(byte 3\)"):
        read_text_input(path, what="CSV")


def test_strict_json_and_nesting_limits():
    assert parse_json_strict('{"a": [1, 2.5, {"b": 4611686018427387904}]}', origin="f") == \
        {"a": [1, 2.5, {"b": 2 ** 62}]}
    with pytest.raises(HwmapError, match="f: integer 4611686018427387905 is too large"):
        parse_json_strict("[4611686018427387905]", origin="f")
    with pytest.raises(HwmapError, match="f: -Infinity is not a number"):
        parse_json_strict("[-Infinity]", origin="f")
    check_nesting("a: " + "[" * 100 + "]" * 100, origin="f")  # 100 levels: allowed
    with pytest.raises(HwmapError, match="f: nested more than 100 levels"):
        check_nesting("a: " + "{" * 101, origin="f")
    with pytest.raises(HwmapError, match="f: nested more than 100 levels"):
        check_nesting("- " * 201 + "x\n", origin="f")
    check_nesting("a: '" + "[" * 150 + "'\n", origin="f")  # brackets inside quotes are text
