"""The on-disk graph cache: hits equal traces, keys cover every input, damage is a miss, a hit needs no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import hwmap.api as api
from hwmap.cache_files import split_entry, wrap_entry
from hwmap.graph import cache
from hwmap.graph.io import graph_from_dict, graph_to_dict
from tests.conftest import traced

SPEC = "resnet18"
RES = 64  # small input: a quick trace; the graph still has every layer


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "hwmap" / "graphs"


@pytest.fixture
def trace_calls(monkeypatch):
    """Counts real traces (hwmap.graph.sources._trace_name, behind the model names' front ends) while still
    tracing."""
    from hwmap.graph import sources

    calls = []
    original = sources._trace_name

    def counted(model, spec):
        calls.append(model)
        return original(model, spec)

    monkeypatch.setattr(sources, "_trace_name", counted)
    return calls


def _key(**changes):
    options = {"input_shape": None, "resolution": RES, "batch": 1, "num_classes": None, "strict": False}
    options.update(changes)
    return cache.graph_key(SPEC, **options)


def test_second_extraction_reads_the_cache_and_equals_the_trace(cache_home, trace_calls):
    first = api.extract_graph(SPEC, resolution=RES)
    assert trace_calls == [SPEC]
    files = list(cache_home.glob("*.graph.json"))
    assert [f.name for f in files] == [_key().file_name]
    second = api.extract_graph(SPEC, resolution=RES)
    assert trace_calls == [SPEC]  # no second trace
    assert second == first and graph_to_dict(second) == graph_to_dict(first)
    assert second.total_macs == first.total_macs > 0


def test_every_option_changes_the_key(monkeypatch):
    base = _key()
    variants = [_key(batch=2), _key(resolution=96), _key(num_classes=10), _key(strict=True),
                _key(resolution=None, input_shape=(3, 64, 64)), cache.graph_key(
                    "resnet34", input_shape=None, resolution=RES, batch=1, num_classes=None, strict=False)]
    digests = {base.digest} | {v.digest for v in variants}
    assert len(digests) == len(variants) + 1
    monkeypatch.setattr(cache, "_version", lambda name: "9.9" if name == "timm" else "1.0")
    assert _key().digest != base.digest  # a timm upgrade is a different graph


def test_key_reads_versions_without_importing_torch():
    code = ("import sys; from hwmap.graph.cache import graph_key\n"
            "key = graph_key('resnet50', input_shape=None, resolution=None, batch=1, num_classes=None, strict=False)\n"
            "assert not {'torch', 'timm', 'transformers'} & set(sys.modules), 'heavy import'\n"
            "print(dict(key.versions)['torch'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    from importlib.metadata import version

    assert result.stdout.strip() == version("torch")


def _entry_graph(entry):
    header, payload = split_entry(entry.read_bytes())
    assert header is not None and header["key"] == _key().to_dict()
    return graph_from_dict(json.loads(payload))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "binary", "edited", "edited-consistently"])
def test_damaged_entry_is_traced_again_and_replaced(cache_home, trace_calls, damage):
    good = api.extract_graph(SPEC, resolution=RES)
    entry = cache_home / _key().file_name
    data = entry.read_bytes()
    header, payload = split_entry(data)
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        entry.write_text("not json at all")
    elif damage == "binary":
        entry.write_bytes(b"\xff\xfe\x00\x81" * 100)
    else:  # valid JSON, but the MAC total no longer matches its nodes (the digest left, or remade without the secret)
        graph = json.loads(payload)
        graph["total_macs"] += 1
        edited = json.dumps(graph).encode()
        entry.write_bytes(wrap_entry(header["key"], edited, b"guessed secret") if damage == "edited-consistently" else
                          data.split(b"\n", 1)[0] + b"\n" + edited)
    again = api.extract_graph(SPEC, resolution=RES)
    assert trace_calls == [SPEC, SPEC]
    assert again == good
    assert _entry_graph(entry) == good  # the entry was rewritten whole


def test_cache_false_neither_reads_nor_writes(cache_home, trace_calls):
    api.extract_graph(SPEC, resolution=RES, cache=False)
    assert not cache_home.exists()
    api.extract_graph(SPEC, resolution=RES)
    api.extract_graph(SPEC, resolution=RES, cache=False)
    assert trace_calls == [SPEC, SPEC, SPEC]


def test_folder_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a"))
    assert cache.cache_dir() == tmp_path / "a" / "hwmap" / "graphs"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert cache.cache_dir() == tmp_path / "b" / "hwmap" / "graphs"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "hwmap" / "graphs"


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch, trace_calls):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # hwmap/graphs cannot be created under a file
    graph = api.extract_graph(SPEC, resolution=RES)
    assert graph.total_macs == traced(SPEC, resolution=RES).total_macs
    assert api.cache_info()["graphs"].entries == ()


def test_hf_spec_is_keyed_by_config_content(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "vit", "hidden_size": 64}')
    options = {"input_shape": None, "resolution": None, "batch": 1, "num_classes": None, "strict": False}
    first = cache.graph_key(f"hf:{folder}", **options)
    (folder / "config.json").write_text('{"model_type": "vit", "hidden_size": 128}')
    assert cache.graph_key(f"hf:{folder}", **options).digest != first.digest
    assert cache.graph_key(f"hf:{tmp_path / 'missing'}", **options) is None  # the build reports it


def test_cli_no_cache_info_and_clear(cache_home, trace_calls, run_cli):
    code, out, _ = run_cli("flops", SPEC, "--resolution", str(RES), "--json")
    assert code == 0 and trace_calls == [SPEC]
    macs = json.loads(out)["total_macs"]
    code, out, _ = run_cli("flops", SPEC, "--resolution", str(RES), "--json")
    assert code == 0 and trace_calls == [SPEC] and json.loads(out)["total_macs"] == macs
    code, out, _ = run_cli("--no-cache", "flops", SPEC, "--resolution", str(RES), "--json")
    assert code == 0 and trace_calls == [SPEC, SPEC] and json.loads(out)["total_macs"] == macs
    code, out, _ = run_cli("flops", SPEC, "--no-cache", "--resolution", str(RES), "--json")  # after the command
    assert code == 0 and trace_calls == [SPEC, SPEC, SPEC] and json.loads(out)["total_macs"] == macs

    code, out, _ = run_cli("cache", "info", "--json")
    info = json.loads(out)["graphs"]
    assert code == 0 and info["entries"] == 1 and info["files"][0]["model"] == SPEC
    assert info["folder"] == str(cache_home) and info["size_bytes"] == (cache_home / info["files"][0]["file"]).stat(
    ).st_size
    (cache_home / f".{info['files'][0]['file']}.abc123.tmp").write_text("{")  # an interrupted write
    code, out, _ = run_cli("cache", "clear")
    assert code == 0 and out.startswith("removed 1 graphs") and "removed 0 mapping sets" in out and \
        "removed 0 candidate tables" in out
    assert list(cache_home.iterdir()) == []
    code, out, _ = run_cli("cache", "info")
    assert code == 0 and ": 0 graphs, 0.00 MB" in out


def test_global_flags_move_in_front_of_the_command():
    from hwmap.cli import _hoist_global_flags

    assert _hoist_global_flags(["estimate", "m", "--no-cache", "-a", "x"]) == ["--no-cache", "estimate", "m", "-a",
                                                                                 "x"]
    assert _hoist_global_flags(["flops", "--", "--no-cache"]) == ["flops", "--", "--no-cache"]  # an argument
    assert _hoist_global_flags(["--no-cache", "flops", "--no-cache"]) == ["--no-cache", "flops"]


def test_cached_estimate_imports_neither_torch_nor_timm(cache_home):
    graph = traced(SPEC, resolution=RES)
    assert cache.store(_key(), graph) is not None
    code = (
        "import json, sys\nfrom hwmap.cli import main\n"
        f"try:\n    main(['estimate', {SPEC!r}, '--resolution', '{RES}', '--accel', 'systolic16x16', '--json'])\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n"
        "print('HEAVY', sorted({'torch', 'timm', 'transformers', 'torchvision'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out, heavy = result.stdout.rsplit("HEAVY", 1)
    assert heavy.strip() == "[]"
    assert json.loads(out)["macs"] == graph.total_macs
