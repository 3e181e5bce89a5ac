"""The on-disk mapping cache: a hit gives the cold run's estimate bit for bit, damage is a miss that is rewritten,
cache=False / --no-cache neither reads nor writes it, and `hwmap cache info|clear` covers it beside the graphs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hwmap.api as api
from hwmap.cache_files import SECRET_NAME, split_entry, wrap_entry
from hwmap.cost import cnn, dispatch, mapping, mapping_cache
from hwmap.cost.layers import layer_arrays
from hwmap.cost.mapping import LoopNest
from tests.conftest import traced

RES = 64
# (model, template, dataflow, objective): convs with strides and 1x1 kernels on a ws and an os array, attention's
# batched matmuls (groups > 1) on a vector-PE array.
CASES = [
    ("resnet18", "systolic16x16", None, "energy"),
    ("resnet18", "systolic32x32", "os", "edp"),
    ("deit_tiny_patch16_224", "magnet16pe_v16", None, "latency"),  # at its fixed 224
]


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "hwmap" / "mappings"


def _forget_in_process() -> None:
    """Empty the mapper's in-process caches: the next search starts from nothing, as in a new process."""
    for cached in (mapping._map_group, mapping._grid, mapping._floored, mapping._candidates):
        cached.cache_clear()


@pytest.fixture
def mapper_calls(monkeypatch):
    """Counts the mapper's searches (cnn.map_layer, the mapper as the CNN kinds call it) while still searching."""
    calls = []
    original = cnn.map_layer

    def counted(nest, target, **options):
        calls.append(options["name"])
        return original(nest, target, **options)

    monkeypatch.setattr(cnn, "map_layer", counted)
    return calls


def _estimate(graph, accel, dataflow, objective, *, cache=True):
    _forget_in_process()
    return api.estimate(graph, accel, dataflow=dataflow, objective=objective, cache=cache)


def _assert_same(hit, cold):
    """Every number of the two estimates is the same float (not just close)."""
    assert hit.layers.mappings == cold.layers.mappings  # LayerMappings: order, tiles, bytes, energies, cycles
    assert [m.record() if m else None for m in hit.layers.mappings] == \
        [m.record() if m else None for m in cold.layers.mappings]
    for name in ("compute_cycles", "stall_cycles", "dram_bytes"):
        assert np.array_equal(getattr(hit.layers, name), getattr(cold.layers, name)), name
    assert hit.layers.energy_terms_pj.keys() == cold.layers.energy_terms_pj.keys()
    for term in cold.layers.energy_terms_pj:
        assert np.array_equal(hit.layers.energy_terms_pj[term], cold.layers.energy_terms_pj[term]), term
    assert json.dumps(hit.to_dict(layers=True), sort_keys=True) == json.dumps(cold.to_dict(layers=True),
                                                                              sort_keys=True)


@pytest.mark.parametrize(("model", "accel", "dataflow", "objective"), CASES)
def test_hit_equals_the_cold_estimate_without_searching(cache_home, mapper_calls, model, accel, dataflow,
                                                        objective):
    graph = traced(model, resolution=None if model.startswith("deit") else RES)
    cold = _estimate(graph, accel, dataflow, objective)
    gemm_layers = sum(m is not None for m in cold.layers.mappings)
    searched = len(mapper_calls)
    # Each distinct layer searched once; a repeated layer (same nest, cycles, energy) reads the entry just made.
    assert gemm_layers > 10 and 0 < searched <= gemm_layers
    files = list(cache_home.glob("*.mappings.json"))
    assert len(files) == 1 and files[0].name.startswith(f"{objective}-")
    assert len(json.loads(split_entry(files[0].read_bytes())[1])["entries"]) == searched
    hit = _estimate(graph, accel, dataflow, objective)
    assert len(mapper_calls) == searched  # nothing searched again: every mapping came from the file
    _assert_same(hit, cold)
    uncached = _estimate(graph, accel, dataflow, objective, cache=False)
    _assert_same(uncached, cold)


def test_every_input_of_the_mapper_is_in_the_key(cache_home, mapper_calls):
    graph = traced("resnet18", resolution=RES)
    _estimate(graph, "systolic16x16", None, "energy")
    searched = len(mapper_calls)
    _estimate(graph, "systolic16x16", None, "latency")  # another objective: another set
    _estimate(graph, "systolic16x16", "os", "energy")  # another dataflow: other floors and compute cycles
    accel = api.load_accelerator("systolic16x16")
    bigger = accel.with_overrides({"buffers.ifmap.size_bytes": 2 * accel.systolic.buffers.ifmap.size_bytes})
    _estimate(graph, bigger, None, "energy")  # another capacity
    assert len(mapper_calls) == 4 * searched
    assert len(list(cache_home.glob("*.mappings.json"))) == 4
    nest = LoopNest(n=1, k=64, c=64, p=56, q=56, r=3, s=3)
    keys = {mapping_cache.entry_key(nest, 100.0, 5.0), mapping_cache.entry_key(nest, 100.0, 5.000000000000001),
            mapping_cache.entry_key(nest, 101.0, 5.0),
            mapping_cache.entry_key(LoopNest(n=1, k=64, c=64, p=56, q=56, r=3, s=3, stride_h=2), 100.0, 5.0)}
    assert len(keys) == 4  # fixed energy one ulp apart, compute cycles, stride: all different entries


def _secret(folder):
    return (folder.parent / SECRET_NAME).read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "binary", "foreign-key", "entry-types", "entry-length"])
def test_damaged_set_is_a_miss_and_is_rewritten(cache_home, mapper_calls, damage):
    graph = traced("resnet18", resolution=RES)
    cold = _estimate(graph, "systolic16x16", None, "energy")
    searched = len(mapper_calls)
    (path,) = cache_home.glob("*.mappings.json")
    text = path.read_bytes()
    header, payload = split_entry(text)
    data = json.loads(payload)
    first = next(iter(data["entries"]))
    if damage == "truncate":
        path.write_bytes(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_text("not json at all")
    elif damage == "binary":
        path.write_bytes(b"\xff\xfe\x00\x81" * 100)
    elif damage == "foreign-key":  # a valid entry written for another mapper version
        path.write_bytes(wrap_entry({**header["key"], "mapper_sha256": "0" * 64}, payload, _secret(cache_home)))
    elif damage == "entry-types":  # one entry's DRAM bytes a string (the file's digest made with the cache's secret)
        data["entries"][first][4] = "12.0"
        path.write_bytes(wrap_entry(header["key"], json.dumps(data).encode(), _secret(cache_home)))
    else:
        data["entries"][first] = data["entries"][first][:-1]
        path.write_bytes(wrap_entry(header["key"], json.dumps(data).encode(), _secret(cache_home)))
    again = _estimate(graph, "systolic16x16", None, "energy")
    _assert_same(again, cold)
    searched_again = len(mapper_calls) - searched
    # A damaged entry: only its layer is searched again (layers with the same key then read the new entry);
    # a damaged file: every layer.
    assert searched_again == (1 if damage.startswith("entry") else searched)
    rewritten_header, rewritten = split_entry(path.read_bytes())
    assert rewritten_header["key"] == header["key"] and json.loads(rewritten) == json.loads(payload)  # whole again
    before = len(mapper_calls)
    _assert_same(_estimate(graph, "systolic16x16", None, "energy"), cold)
    assert len(mapper_calls) == before


def test_no_cache_neither_reads_nor_writes(cache_home, mapper_calls, run_cli):
    graph = traced("resnet18", resolution=RES)
    cost = _estimate(graph, "systolic16x16", None, "energy", cache=False)
    gemm_layers = len(mapper_calls)  # without the cache every distinct GEMM layer is searched (repeats once)
    arrays = layer_arrays(graph)
    distinct = {nest for nest, gemm in zip(cnn._nests(arrays), arrays.mask("array"), strict=True) if gemm}
    assert gemm_layers == len(distinct) < sum(m is not None for m in cost.layers.mappings)
    assert not cache_home.exists()
    assert dispatch.estimate_graph(graph, api.load_accelerator("systolic16x16")).layers.mappings  # library default: off
    assert not cache_home.exists()
    saved = cache_home.parent / "resnet18.json"
    cache_home.parent.mkdir(parents=True, exist_ok=True)
    api.save_graph(graph, saved)

    def cli(*argv):
        _forget_in_process()
        before = len(mapper_calls)
        code, out, err = run_cli(*argv, str(saved), "--accel", "systolic16x16", "--json")
        assert code == 0, err
        return out, len(mapper_calls) - before

    out, searched = cli("--no-cache", "estimate")
    assert searched == gemm_layers and not cache_home.exists()
    out, searched = cli("estimate")
    assert searched == gemm_layers and len(list(cache_home.glob("*.mappings.json"))) == 1
    again, searched = cli("estimate")
    assert again == out and searched == 0  # the CLI read the cache
    bypassed, searched = cli("estimate", "--no-cache")
    assert bypassed == out and searched == gemm_layers
    _, searched = cli("map")
    assert searched == 0
    _, searched = cli("map", "--no-cache")
    assert searched == gemm_layers


def test_unwritable_folder_is_skipped(tmp_path, monkeypatch, mapper_calls):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # hwmap/mappings cannot be created under a file
    graph = traced("resnet18", resolution=RES)
    cost = _estimate(graph, "systolic16x16", None, "energy")
    searched = len(mapper_calls)
    assert searched > 0
    _assert_same(_estimate(graph, "systolic16x16", None, "energy"), cost)
    assert len(mapper_calls) == 2 * searched  # nothing was stored: searched again
    assert api.cache_info()["mappings"].entries == ()


def test_cache_info_and_clear_list_the_three_caches(cache_home, run_cli):
    from hwmap.cost import candidate_store

    mapping.clear_mapper_caches()  # no shape has met two capacity configurations: the estimates store no table
    graph = traced("resnet18", resolution=RES)
    _estimate(graph, "systolic16x16", None, "energy")
    _estimate(graph, "systolic16x16", None, "latency")
    from hwmap.graph import cache as graph_cache

    key = graph_cache.graph_key("resnet18", input_shape=None, resolution=RES, batch=1, num_classes=None, strict=False)
    assert graph_cache.store(key, graph) is not None
    assert candidate_store.store(candidate_store.table_key({"nest": [7, 3]}), np.zeros((2, 2), np.int8)) is not None
    info = api.cache_info()
    assert sorted(info) == ["candidates", "graphs", "mappings"]
    assert [e.label for e in info["candidates"].entries] == ["7x3"]
    assert [e.label for e in info["mappings"].entries] == ["energy", "latency"]
    assert info["mappings"].folder == str(cache_home)
    assert info["mappings"].size_bytes == sum(p.stat().st_size for p in cache_home.glob("*.mappings.json")) > 0
    code, out, _ = run_cli("cache", "info", "--json")
    data = json.loads(out)
    assert code == 0 and data["graphs"]["entries"] == 1 and data["graphs"]["files"][0]["model"] == "resnet18"
    assert data["mappings"]["entries"] == 2 and {f["objective"] for f in data["mappings"]["files"]} == {
        "energy", "latency"}
    assert data["candidates"]["entries"] == 1 and data["candidates"]["files"][0]["table"] == "7x3"
    assert data["candidates"]["folder"] == str(cache_home.parent / "candidates")
    code, out, _ = run_cli("cache", "info")
    assert code == 0 and ": 1 graphs, " in out and ": 2 mapping sets, " in out and ": 1 candidate tables, " in out
    (cache_home / ".energy-abc.layers.mappings.json.xyz.tmp").write_text("{")  # an interrupted write
    code, out, _ = run_cli("cache", "clear")
    assert code == 0 and "removed 1 graphs" in out and "removed 2 mapping sets" in out and \
        "removed 1 candidate tables" in out
    assert list(cache_home.iterdir()) == []
    assert all(each.entries == () for each in api.cache_info().values())
