"""Hostile caches: every way to tamper with the graph, mapping and candidate-table caches (edit a number, with or
without remaking the digest; swap entries; truncate; plant a link to a file outside, a FIFO or a folder at an
entry's name; make the folder writable by others; replace the folder by a link) gives the same result as a clean
cache and as --no-cache, writes nothing outside the cache, never blames the user's inputs, and `cache clear`
removes only the regular files the cache wrote."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from hwmap import cache_files
from hwmap.cache_files import SECRET_NAME, split_entry, wrap_entry

from .conftest import snapshot

GRAPH_SPEC = "resnet18"
GRAPH_RES = 32


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """The cache root ($XDG_CACHE_HOME/hwmap) of this test; notes are shown again in each test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache_files, "_NOTED", set())
    return tmp_path / "xdg" / "hwmap"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file outside the cache that a planted link points at: it must never change."""
    path = tmp_path / "victim.txt"
    path.write_text("the user's own file\n")
    return path


def _secret(root: Path) -> bytes:
    return (root / SECRET_NAME).read_bytes()


def _rewrap(path: Path, edit, secret: bytes | None) -> None:
    """Edit an entry's payload (parsed JSON) and write it back: with the cache's secret (a consistent edit that only
    the content checks can catch), a guessed one, or None (the old digest kept)."""
    data = path.read_bytes()
    header, payload = split_entry(data)
    document = json.loads(payload)
    edit(document)
    edited = json.dumps(document).encode()
    if secret is None:
        path.write_bytes(data.split(b"\n", 1)[0] + b"\n" + edited)
    else:
        path.write_bytes(wrap_entry(header["key"], edited, secret))


# ------------------------------------------------------------------------------------------------ mapping entries


def _estimate(run_cli, graph: Path, accel: str, *flags: str) -> tuple[dict, str]:
    code, out, err = run_cli(*flags, "estimate", str(graph), "--accel", accel, "--json")
    assert code == 0, err
    return json.loads(out), err


def _scale_first_energy(document: dict) -> None:
    row = next(iter(document["entries"].values()))
    row[4] *= 2  # input_read_bytes: the estimate's DRAM traffic and energy follow it
    row[-2] *= 0.5  # energy_pj


def _swap_entries(document: dict) -> None:
    keys = list(document["entries"])
    assert len(keys) >= 2
    entries = document["entries"]
    entries[keys[0]], entries[keys[1]] = entries[keys[1]], entries[keys[0]]


def _damage_mapping(kind: str, path: Path, root: Path, victim: Path, other: Path) -> None:
    if kind == "edit-number":
        _rewrap(path, _scale_first_energy, None)
    elif kind == "edit-number-resigned":
        _rewrap(path, _scale_first_energy, _secret(root))
    elif kind == "edit-number-guessed-secret":
        _rewrap(path, _scale_first_energy, b"\0" * 32)
    elif kind == "swap-entries-resigned":
        _rewrap(path, _swap_entries, _secret(root))
    elif kind == "swap-files":
        mine, theirs = path.read_bytes(), other.read_bytes()
        path.write_bytes(theirs)
        other.write_bytes(mine)
    elif kind == "truncate":
        path.write_bytes(path.read_bytes()[:-40])
    elif kind == "symlink-outside":
        path.unlink()
        path.symlink_to(victim)
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif kind == "folder":
        path.unlink()
        path.mkdir()
    elif kind == "secret-replaced":
        (root / SECRET_NAME).write_bytes(os.urandom(32))
    else:
        raise AssertionError(kind)


MAPPING_DAMAGE = ["edit-number", "edit-number-resigned", "edit-number-guessed-secret", "swap-entries-resigned",
                  "swap-files", "truncate", "symlink-outside", "fifo", "folder", "secret-replaced"]


@pytest.mark.parametrize("kind", MAPPING_DAMAGE)
def test_tampered_mapping_entry_gives_the_clean_result(run_cli, inputs, root, victim, kind, caplog):
    graph = inputs["graph"]
    clean, _ = _estimate(run_cli, graph, "systolic16x16")
    _estimate(run_cli, graph, "systolic8x8")  # a second set, to swap with
    uncached, _ = _estimate(run_cli, graph, "systolic16x16", "--no-cache")
    assert uncached == clean
    by_target = {}
    for path in (root / "mappings").glob("*.mappings.json"):
        header, _ = split_entry(path.read_bytes())
        by_target[header["key"]["target"]["cap_input"]] = path
    assert len(by_target) == 2
    path, other = (by_target[c] for c in sorted(by_target, reverse=True))  # 16x16 has the larger buffers
    _damage_mapping(kind, path, root, victim, other)
    before = victim.read_bytes()
    with caplog.at_level(logging.INFO, logger="hwmap.cache"):
        tampered, err = _estimate(run_cli, graph, "systolic16x16")
    assert tampered == clean, kind
    assert any(r.getMessage().startswith("ignoring") for r in caplog.records), "the debug log says why"
    assert err == "" and victim.read_bytes() == before and not victim.is_symlink()
    if kind not in ("fifo", "folder"):  # those stay in the way: the cache is skipped for that set
        assert path.is_file() and not path.is_symlink()
        assert _estimate(run_cli, graph, "systolic16x16")[0] == clean  # the rewritten entry is good


def test_hwmap_log_says_why_an_entry_was_ignored(run_cli, inputs, root, monkeypatch):
    graph = inputs["graph"]
    clean, _ = _estimate(run_cli, graph, "systolic16x16")
    (path,) = (root / "mappings").glob("*.mappings.json")
    _rewrap(path, _swap_entries, _secret(root))
    monkeypatch.setenv("HWMAP_LOG", "info")
    again, err = _estimate(run_cli, graph, "systolic16x16")
    assert again == clean
    assert "hwmap: INFO: ignoring the cached mapping of layer" in err and "mapping it again" in err
    monkeypatch.delenv("HWMAP_LOG")
    assert _estimate(run_cli, graph, "systolic16x16") == (clean, "")  # rewritten, and quiet without HWMAP_LOG


def test_cached_mapping_that_breaks_invariants_is_never_blamed_on_the_template(run_cli, inputs, root):
    graph = inputs["graph"]
    clean, _ = _estimate(run_cli, graph, "systolic16x16")
    (path,) = (root / "mappings").glob("*.mappings.json")

    def absurd(document):
        for row in document["entries"].values():
            row[4:9] = [-1.0, 1e300, 0.0, 0.0, 0.0]  # negative and absurd DRAM traffic

    _rewrap(path, absurd, _secret(root))
    again, err = _estimate(run_cli, graph, "systolic16x16")
    assert again == clean and err == ""


# ------------------------------------------------------------------------------------------------ folder trust


@pytest.mark.parametrize("which", ["mappings", "root"])
def test_folder_writable_by_others_is_not_used(run_cli, inputs, root, which):
    graph = inputs["graph"]
    clean, _ = _estimate(run_cli, graph, "systolic16x16")
    folder = root / "mappings" if which == "mappings" else root
    folder.chmod(0o777)
    state = snapshot(root)
    again, err = _estimate(run_cli, graph, "systolic16x16")
    assert again == clean
    assert err.count("\n") == 1 and err.startswith("hwmap: note: not using the mapping cache") and str(folder) in err
    assert "writable by group or others" in err
    assert snapshot(root) == state  # neither read nor written
    folder.chmod(0o700)
    _, err = _estimate(run_cli, graph, "systolic16x16")
    assert err == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_folder_of_another_user_is_not_used(run_cli, inputs, root):
    graph = inputs["graph"]
    clean, _ = _estimate(run_cli, graph, "systolic16x16")
    os.chown(root / "mappings", 4321, -1)
    again, err = _estimate(run_cli, graph, "systolic16x16")
    assert again == clean and "belongs to another user (uid 4321)" in err


def test_symlinked_folder_is_not_followed(run_cli, inputs, root, tmp_path):
    graph = inputs["graph"]
    clean, _ = _estimate(run_cli, graph, "systolic16x16")
    elsewhere = tmp_path / "elsewhere"
    (root / "mappings").rename(elsewhere)
    (elsewhere / "user-notes-0123456789abcdef0123456789abcdef.mappings.json").write_text("mine\n")
    (root / "mappings").symlink_to(elsewhere)
    state = snapshot(elsewhere)
    again, err = _estimate(run_cli, graph, "systolic16x16")
    assert again == clean and "is a symbolic link, not a folder" in err
    code, out, err = run_cli("cache", "clear")
    assert code == 0 and "removed 0 mapping sets" in out
    assert snapshot(elsewhere) == state  # nothing read, written or deleted through the link


def test_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch, run_cli, inputs):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative-cache")
    from hwmap.cost.mapping_cache import cache_dir

    assert cache_dir() == tmp_path / "home" / ".cache" / "hwmap" / "mappings"
    _estimate(run_cli, inputs["graph"], "systolic16x16")
    assert not (tmp_path / "relative-cache").exists()
    assert len(list(cache_dir().glob("*.mappings.json"))) == 1


# ------------------------------------------------------------------------------------------------ graph entries


def _flops(run_cli, *flags: str, resolution: int = GRAPH_RES) -> tuple[dict, str]:
    code, out, err = run_cli(*flags, "flops", GRAPH_SPEC, "--resolution", str(resolution), "--json")
    assert code == 0, err
    return json.loads(out), err


def _graph_entry(root: Path, resolution: int) -> Path:
    from hwmap.graph.cache import graph_key

    key = graph_key(GRAPH_SPEC, input_shape=None, resolution=resolution, batch=1, num_classes=None, strict=False)
    return root / "graphs" / key.file_name


GRAPH_DAMAGE = ["edit-number", "edit-number-guessed-secret", "swap", "truncate", "symlink-outside", "fifo"]


@pytest.mark.parametrize("kind", GRAPH_DAMAGE)
def test_tampered_graph_entry_gives_the_clean_result(run_cli, root, victim, kind):
    clean, _ = _flops(run_cli)
    assert _flops(run_cli, "--no-cache")[0] == clean
    _flops(run_cli, resolution=GRAPH_RES + 8)
    entry, other = _graph_entry(root, GRAPH_RES), _graph_entry(root, GRAPH_RES + 8)

    def more_params(document):
        document["params"] += 1000  # no integrity check inside the graph covers this number

    if kind == "edit-number":
        _rewrap(entry, more_params, None)
    elif kind == "edit-number-guessed-secret":
        _rewrap(entry, more_params, b"\0" * 32)
    elif kind == "swap":
        mine, theirs = entry.read_bytes(), other.read_bytes()
        entry.write_bytes(theirs)
        other.write_bytes(mine)
    elif kind == "truncate":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    elif kind == "symlink-outside":
        entry.unlink()
        entry.symlink_to(victim)
    else:
        entry.unlink()
        os.mkfifo(entry)
    before = victim.read_bytes()
    again, err = _flops(run_cli)
    assert again == clean and err == ""
    assert victim.read_bytes() == before and not victim.is_symlink()
    if kind != "fifo":
        assert entry.is_file() and not entry.is_symlink()


@pytest.mark.parametrize("tamper", ["writable-by-others", "symlinked"])
def test_untrusted_graph_folder_is_neither_read_nor_written(run_cli, root, tmp_path, tamper):
    clean, _ = _flops(run_cli)
    graphs = root / "graphs"
    if tamper == "writable-by-others":
        graphs.chmod(0o777)
        watched, reason = graphs, "writable by group or others"
    else:
        watched = tmp_path / "elsewhere"
        graphs.rename(watched)
        graphs.symlink_to(watched)
        reason = "is a symbolic link, not a folder"
    state = snapshot(watched)
    again, err = _flops(run_cli, resolution=GRAPH_RES)
    assert again == clean
    assert err.startswith("hwmap: note: not using the graph cache") and reason in err and err.count("\n") == 1
    code, out, err = run_cli("cache", "info", "--json")
    assert code == 0 and json.loads(out)["graphs"]["entries"] == 0
    assert snapshot(watched) == state


def test_cache_clear_removes_only_regular_files_it_wrote(run_cli, root, victim, tmp_path):
    _flops(run_cli)
    graphs = root / "graphs"
    (entry,) = graphs.glob("*.graph.json")
    link = graphs / "planted-0123456789abcdef0123456789abcdef.graph.json"
    link.symlink_to(victim)
    folder = graphs / "dir-0123456789abcdef0123456789abcdef.graph.json"
    folder.mkdir()
    (folder / "inside.txt").write_text("kept\n")
    own = graphs / "my-notes.graph.json"  # not named like an entry
    own.write_text("kept\n")
    code, out, err = run_cli("cache", "clear", "--json")
    assert code == 0, err
    removed = json.loads(out)["graphs"]
    assert [f["file"] for f in removed["files"]] == [entry.name]
    assert not entry.exists() and link.is_symlink() and (folder / "inside.txt").exists() and own.exists()
    assert victim.read_text() == "the user's own file\n"
    assert (root / SECRET_NAME).exists()  # the secret survives: entries written later stay verifiable


# ------------------------------------------------------------------------------------------------ candidate tables
# The mapper's candidate tables ($XDG_CACHE_HOME/hwmap/candidates, hwmap.cost.candidate_store) read by `hwmap bounds`
# and by buffer sweeps. Each command below starts with the mapper's in-process caches emptied, as a new process.

TABLE_DAMAGE = ["edit-byte", "edit-array-guessed-secret", "resigned-order-out-of-range", "resigned-wrong-shape",
                "resigned-not-int8", "swap-files", "truncate", "symlink-outside", "fifo", "folder", "secret-replaced"]


@pytest.fixture(scope="module")
def resnet18_graph(tmp_path_factory) -> Path:
    from hwmap.api import extract_graph, save_graph

    path = tmp_path_factory.mktemp("graph") / "resnet18-64.json"
    save_graph(extract_graph(GRAPH_SPEC, resolution=64), path)
    return path


def _cold_process() -> None:
    from hwmap.cost import mapping

    mapping.clear_mapper_caches()


def _bounds(run_cli, graph: Path, *flags: str) -> tuple[dict, str]:
    _cold_process()
    code, out, err = run_cli(*flags, "bounds", str(graph), "--accel", "systolic16x16", "--json")
    assert code == 0, err
    return json.loads(out), err


def _buffer_sweep(graph: Path) -> list[tuple]:
    """A small sweep over buffer sizes (the second configuration of each shape switches to the tables)."""
    from hwmap.api import load_accelerator, load_graph
    from hwmap.cost.dispatch import estimate_graph

    _cold_process()
    loaded = load_graph(graph)
    base = load_accelerator("systolic16x16")
    rows = []
    for size in (8192, 65536, 262144):
        variant = base.with_overrides({"buffers.ifmap.size_bytes": size, "buffers.filter.size_bytes": size},
                                      name=f"v{size}")
        cost = estimate_graph(loaded, variant)
        rows.append((float(cost.energy_mj), float(cost.cycles), cost.layers.mappings))
    return rows


def _npz(array) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, best_order=array)
    return buffer.getvalue()


def _rewrap_table(path: Path, edit, secret: bytes) -> None:
    import io

    import numpy as np

    header, payload = split_entry(path.read_bytes())
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        array = data["best_order"]
    path.write_bytes(wrap_entry(header["key"], _npz(edit(array)), secret))


def _damage_table(kind: str, path: Path, root: Path, victim: Path, other: Path) -> None:
    import numpy as np

    if kind == "edit-byte":  # the old digest kept
        data = bytearray(path.read_bytes())
        data[-60] ^= 0xFF
        path.write_bytes(bytes(data))
    elif kind == "edit-array-guessed-secret":
        _rewrap_table(path, lambda a: (a + 1) % 6, b"\0" * 32)
    elif kind == "resigned-order-out-of-range":
        _rewrap_table(path, lambda a: np.full_like(a, 9), _secret(root))
    elif kind == "resigned-wrong-shape":
        _rewrap_table(path, lambda a: a[:-1], _secret(root))
    elif kind == "resigned-not-int8":
        _rewrap_table(path, lambda a: a.astype(np.float64), _secret(root))
    else:
        _damage_mapping(kind, path, root, victim, other)


@pytest.mark.parametrize("kind", TABLE_DAMAGE)
def test_tampered_candidate_table_gives_the_clean_result(run_cli, resnet18_graph, root, victim, kind, caplog):
    clean, _ = _bounds(run_cli, resnet18_graph)
    swept = _buffer_sweep(resnet18_graph)
    tables = sorted((root / "candidates").glob("*.candidates.npz"), key=lambda p: p.stat().st_size)
    assert len(tables) >= 2 and all(t.name.count("x") >= 6 for t in tables)  # named by the layer's loop bounds
    assert _bounds(run_cli, resnet18_graph, "--no-cache")[0] == clean
    path, other = tables[-1], tables[-2]  # the largest tables
    _damage_table(kind, path, root, victim, other)
    before = victim.read_bytes()
    with caplog.at_level(logging.INFO, logger="hwmap.cache"):
        tampered, err = _bounds(run_cli, resnet18_graph)
        assert _buffer_sweep(resnet18_graph) == swept, kind
    assert tampered == clean, kind
    assert any(r.getMessage().startswith("ignoring") for r in caplog.records), "the debug log says why"
    assert err == "" and victim.read_bytes() == before and not victim.is_symlink()
    if kind not in ("fifo", "folder"):  # those stay in the way: that table is searched in each process
        assert path.is_file() and not path.is_symlink()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="hwmap.cache"):
            assert _bounds(run_cli, resnet18_graph)[0] == clean  # the rewritten entry is good
        assert not caplog.records


def test_consistent_table_is_read_back_not_searched(run_cli, resnet18_graph, root, monkeypatch):
    """The clean store is used (a tampering test whose store is never read would pass vacuously)."""
    from hwmap.cost import mapping

    clean, _ = _bounds(run_cli, resnet18_graph)
    built = []
    original = mapping.build_candidate_table
    monkeypatch.setattr(mapping, "build_candidate_table",
                        lambda nest, t, orders=None: built.append(orders is None) or original(nest, t, orders))
    assert _bounds(run_cli, resnet18_graph)[0] == clean
    assert built and not any(built)
    built.clear()
    assert _bounds(run_cli, resnet18_graph, "--no-cache")[0] == clean
    assert built and all(built)  # --no-cache searched every table again


@pytest.mark.parametrize("tamper", ["writable-by-others", "symlinked"])
def test_untrusted_candidate_folder_is_neither_read_nor_written(run_cli, resnet18_graph, root, tmp_path, tamper):
    clean, _ = _bounds(run_cli, resnet18_graph)
    folder = root / "candidates"
    if tamper == "writable-by-others":
        folder.chmod(0o777)
        watched, reason = folder, "writable by group or others"
    else:
        watched = tmp_path / "elsewhere"
        folder.rename(watched)
        folder.symlink_to(watched)
        reason = "is a symbolic link, not a folder"
    state = snapshot(watched)
    again, err = _bounds(run_cli, resnet18_graph)
    assert again == clean
    assert err.startswith("hwmap: note: not using the candidate table cache") and reason in err
    assert err.count("\n") == 1
    code, out, err = run_cli("cache", "clear", "--json")
    assert code == 0 and json.loads(out)["candidates"]["entries"] == 0
    assert snapshot(watched) == state


def test_cache_clear_removes_only_candidate_tables_it_wrote(run_cli, resnet18_graph, root, victim):
    _bounds(run_cli, resnet18_graph)
    folder = root / "candidates"
    written = sorted(p.name for p in folder.glob("*.candidates.npz"))
    link = folder / "planted-0123456789abcdef0123456789abcdef.candidates.npz"
    link.symlink_to(victim)
    own = folder / "my-notes.candidates.npz"  # not named like an entry
    own.write_text("kept\n")
    code, out, err = run_cli("cache", "info", "--json")
    assert code == 0 and json.loads(out)["candidates"]["entries"] == len(written) > 0
    code, out, err = run_cli("cache", "clear", "--json")
    assert code == 0, err
    assert sorted(f["file"] for f in json.loads(out)["candidates"]["files"]) == written
    assert link.is_symlink() and own.read_text() == "kept\n" and victim.read_text() == "the user's own file\n"
    assert sorted(p.name for p in folder.iterdir()) == sorted([link.name, own.name])
