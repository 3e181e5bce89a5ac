"""How hwmap.dse.sweep cuts a space into chunks: points with equal buffer sizes go together (the mapper's work per
memory configuration is then done in one worker), the first chunk of every workload comes first, no point is lost
or repeated."""

from __future__ import annotations

from hwmap.dse import DesignSpace
from hwmap.dse.sweep import Workload, _chunk_tasks, _point_ids


def _space(axes: dict) -> DesignSpace:
    return DesignSpace.from_dict({"schema_version": 1, "base": "systolic16x16", "axes": axes,
                                  "models": ["resnet18"], "objectives": ["energy_mj"]}, origin="test")


def _chunks(space: DesignSpace, size: int, n_workloads: int = 1):
    workloads = [Workload(label=f"m{i}", key=f"k{i}", graphs={}) for i in range(n_workloads)]
    variants = space.variants()
    ids, _ = _point_ids(space, variants, workloads)
    pending = [list(range(len(variants)))] * n_workloads
    return _chunk_tasks(space, workloads, variants, ids, pending, size)


def test_points_with_equal_buffer_sizes_share_chunks():
    space = _space({"array.rows": [16, 32, 64], "array.cols": [16, 32],
                    "buffers.ifmap.size_bytes": [8192, 16384, 32768], "buffers.ofmap.size_bytes": [4096, 65536]})
    tasks = _chunks(space, size=6)  # 6 array shapes per buffer configuration
    sizes = [{(v["buffers.ifmap.size_bytes"], v["buffers.ofmap.size_bytes"]) for _, v in t.points} for t in tasks]
    assert [len(s) for s in sizes] == [1] * 6  # in the space's order every chunk would hold 6 configurations
    assert sizes[0] == {(8192, 4096)} and sizes[1] == {(8192, 65536)}  # the space's order of the sizes
    points = [pid for t in tasks for pid, _ in t.points]
    assert len(points) == len(set(points)) == space.n_variants == 36
    assert [v["array.rows"] for _, v in tasks[0].points] == [16, 16, 32, 32, 64, 64]  # in the space's order


def test_without_buffer_axes_the_space_order_is_kept_and_workloads_start_first():
    space = _space({"array.rows": [16, 32, 64], "array.cols": [16, 32]})
    tasks = _chunks(space, size=2, n_workloads=2)
    assert [t.workload.label for t in tasks] == ["m0", "m1", "m0", "m0", "m1", "m1"]
    assert [v for t in tasks if t.workload.label == "m0" for _, v in t.points] == space.variants()
