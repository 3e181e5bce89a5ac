"""Design spaces over `kind: hierarchy` templates (issue 17: every consumer, DSE overrides included, reads the one
hardware view): a level's fields are axes addressed by the level's name, every point carries what estimate_graph
says for that variant, and bad axes or values fail as the other kinds' do."""

from __future__ import annotations

import textwrap

import pytest
from conftest import traced

from hwmap.cost.dispatch import estimate_graph
from hwmap.dse.space import DesignSpaceError, load_space
from hwmap.dse.sweep import SerialExecutor, sweep
from hwmap.graph.io import save_graph
from hwmap.hardware.loader import load_accelerator

GLB = "hierarchy.levels.shared_glb.capacity_bytes"
DRAM_READ = "hierarchy.levels.DRAM.energy.read_pj"


def _space(folder, body: str):
    path = folder / "space.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def _resnet18_space(folder, *axes: str):
    """A space over eyeriss_like with these axes (one `key: values` line each) on the saved resnet18 graph."""
    lines = "".join(f"  {axis}\n" for axis in axes)
    return _space(folder, f"schema_version: 1\nbase: eyeriss_like\naxes:\n{lines}"
                          "models: [{model: resnet18.json, name: resnet18}]\n")


@pytest.fixture(scope="module")
def graph_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hierarchy_space")
    save_graph(traced("resnet18"), folder / "resnet18.json")
    return folder


def test_level_fields_are_axes_and_every_point_is_estimate_graphs(graph_folder):
    path = _resnet18_space(graph_folder, f"{GLB}: [16384, 131072]", f"{DRAM_READ}: [256, 512]")
    space = load_space(path)
    assert space.columns == (GLB, DRAM_READ) and space.base.kind == "hierarchy"
    result = sweep(path, executor=SerialExecutor())
    table = result.table
    assert len(table) == 4 and (table["status"] == "ok").all()
    graph = traced("resnet18")
    for _, row in table.iterrows():
        overrides = {GLB: int(row[GLB]), DRAM_READ: float(row[DRAM_READ])}
        cost = estimate_graph(graph, space.base.with_overrides(overrides))
        assert row["energy_mj"] == cost.energy_mj and row["cycles"] == cost.cycles
        assert row["energy_level_DRAM_mj"] == cost.energy_terms_mj["level.DRAM"]
    # the template's own values give the template's own estimate
    own = table[(table[GLB] == 131072) & (table[DRAM_READ] == 512)].iloc[0]
    assert own["energy_mj"] == estimate_graph(graph, load_accelerator("eyeriss_like")).energy_mj
    # DRAM read energy halved: the DRAM term can only fall, and the points differ (the axis reached the cost)
    cheap = table[(table[GLB] == 131072) & (table[DRAM_READ] == 256)].iloc[0]
    assert 0 < cheap["energy_level_DRAM_mj"] < own["energy_level_DRAM_mj"]


def test_a_bad_capacity_is_an_invalid_point_naming_the_level_and_field(graph_folder):
    path = _resnet18_space(graph_folder, f"{GLB}: [0, 131072]")
    table = sweep(path, executor=SerialExecutor()).table
    bad = table[table[GLB] == 0].iloc[0]
    assert bad["status"] == "invalid"
    assert "shared_glb: capacity_bytes: 0 bytes; expected a capacity > 0" in bad["error"]
    assert table[table[GLB] == 131072].iloc[0]["status"] == "ok"


@pytest.mark.parametrize(("axes", "square", "words"), [
    ("hierarchy.levels.glb.capacity_bytes: [1024]", "false",
     ["is not a field of the base template", "did you mean hierarchy.levels.shared_glb.capacity_bytes"]),
    ("hierarchy.levels.shared_glb.name: [glb]", "false", ["is not a field of the base template"]),
    (f"{GLB}: [1024, 2048]", "true", ["square: true ties the two sides of a 2-D array", "`tied:`"]),
])
def test_bad_axes_of_a_hierarchy_space_are_one_error(tmp_path, axes, square, words):
    path = _space(tmp_path, f"""\
        schema_version: 1
        base: eyeriss_like
        axes:
          {axes}
        square: {square}
        models: [resnet18]
        """)
    with pytest.raises(DesignSpaceError) as caught:
        load_space(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message


def test_a_gpu_is_still_not_a_base(tmp_path):
    path = _space(tmp_path, """\
        schema_version: 1
        base: h100_sxm
        axes:
          freq_mhz: [1000]
        models: [resnet18]
        """)
    with pytest.raises(DesignSpaceError, match="design spaces sweep accelerator templates of kind hierarchy, "
                                               "systolic, vector_pe"):
        load_space(path)
