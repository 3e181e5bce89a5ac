"""The candidate tables' on-disk store follows the API's cache switch: hwmap.estimate / hwmap.bounds with
cache=False neither read nor write it, even in a loop over buffer sizes (where the mapper builds the tables)."""

from __future__ import annotations

import pytest

import hwmap.api as api
from hwmap.cost import candidate_store, mapping
from tests.conftest import traced


@pytest.fixture()
def store_calls(tmp_path, monkeypatch):
    """Every opening of the store's folder (reads and writes both open it), in a fresh cache home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    mapping.clear_mapper_caches()
    calls = []
    real = candidate_store.open_folder

    def spied(name, **options):
        calls.append(options.get("create"))
        return real(name, **options)

    monkeypatch.setattr(candidate_store, "open_folder", spied)
    yield calls
    mapping.clear_mapper_caches()


def _buffer_loop(graph, *, cache: bool):
    """Three buffer sizes in a row: every layer shape meets a second capacity configuration (tables are used)."""
    base = api.load_accelerator("systolic16x16")
    return [api.estimate(graph, base.with_overrides({"buffers.ifmap.size_bytes": size}, name=f"ifmap{size}"),
                         cache=cache) for size in (16384, 32768, 65536)]


def test_cache_false_neither_reads_nor_writes_the_store(store_calls, tmp_path):
    graph = traced("resnet18", resolution=64)
    uncached = _buffer_loop(graph, cache=False)
    assert store_calls == [] and not (tmp_path / "hwmap" / "candidates").exists()
    api.bounds(graph, "systolic16x16", cache=False)
    assert store_calls == [] and not (tmp_path / "hwmap" / "candidates").exists()

    mapping.clear_mapper_caches()
    cached = _buffer_loop(graph, cache=True)  # the same loop with the cache: the store is read and written
    assert False in store_calls and True in store_calls
    assert len(candidate_store.store_info().entries) > 5
    assert [c.layers.mappings for c in cached] == [c.layers.mappings for c in uncached]


def test_the_process_wide_switch_wins_over_cache_true(store_calls):
    graph = traced("resnet18", resolution=64)
    candidate_store.set_enabled(False)  # `hwmap --no-cache`
    try:
        _buffer_loop(graph, cache=True)
    finally:
        candidate_store.set_enabled(True)
    assert store_calls == []
