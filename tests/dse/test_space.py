"""Design-space files: expansion of axes (lists, ranges, square, tied) and one clear error per malformed file."""

from __future__ import annotations

import textwrap

import pytest

import hwmap.cli.dse_commands  # noqa: F401  (registers `hwmap sweep` until hwmap.cli registers it itself)
from hwmap.dse.space import DesignSpace, DesignSpaceError, load_space


def write(tmp_path, text: str, name: str = "space.yaml"):
    """The space file, and a stand-in saved graph (loading a space only checks that the file exists)."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    (tmp_path / "tiny.json").write_text("{}")
    return path


def test_axes_expand_lists_ranges_square_and_tied(tmp_path):
    path = write(tmp_path, """\
        schema_version: 1
        base: systolic16x16
        axes:
          array.rows: {start: 8, stop: 32, step: 8}          # 8, 16, 24, 32: stop included
          array.dataflow: [ws, os]
          buffers.ifmap.size_bytes: {start: 16384, stop: 65536, factor: 2}
          buffers.filter.size_bytes: {values: [16384, 32768, 65536]}
          dram.bw_bytes_per_cycle: {start: 8.0, stop: 9.0, step: 0.5}
        square: true
        tied: [[buffers.ifmap.size_bytes, buffers.filter.size_bytes]]
        models: [resnet18, {model: tiny.json, name: tiny}, {model: segformer-b0, input: 3x256x256}]
        """)
    space = load_space(path)
    assert space.axes["array.rows"] == (8, 16, 24, 32)
    assert space.axes["buffers.ifmap.size_bytes"] == (16384, 32768, 65536)
    assert space.axes["dram.bw_bytes_per_cycle"] == (8.0, 8.5, 9.0)
    assert space.columns == ("array.rows", "array.cols", "array.dataflow", "buffers.ifmap.size_bytes",
                             "buffers.filter.size_bytes", "dram.bw_bytes_per_cycle")
    # 4 rows x 2 dataflows x 3 (tied buffer pairs) x 3 bandwidths
    assert space.n_variants == 4 * 2 * 3 * 3 == len(space.variants())
    assert space.workload_labels == ("resnet18", "tiny", "segformer-b0@3x256x256")
    assert space.n_points == 72 * 3
    for variant in space.variants():
        assert variant["array.cols"] == variant["array.rows"]
        assert variant["buffers.ifmap.size_bytes"] == variant["buffers.filter.size_bytes"]
    assert len({tuple(v.values()) for v in space.variants()}) == space.n_variants
    assert isinstance(space.variants()[0]["array.rows"], int)  # integer ranges stay integers (strict schema)


def test_vector_pe_square_ties_lanes_and_vector_width(tmp_path):
    space = DesignSpace.from_dict({"schema_version": 1, "base": "magnet16pe_v16", "square": True,
                                   "axes": {"pe_array.lanes": [8, 16], "pe_array.num_pes": [4, 16]},
                                   "models": ["resnet18"]})
    assert [(v["pe_array.lanes"], v["pe_array.vector_width"]) for v in space.variants()] == \
        [(8, 8), (8, 8), (16, 16), (16, 16)]


BAD_SPACES = [
    # (YAML body after schema_version, the field the message must name, words the message must contain)
    ("base: systolic16x16\naxes: {array.rows: [8]}\nmodels: [resnet18]\nmodel: resnet50\n",
     "model", "unknown field"),
    ("base: systolic16x16\naxes: {array.rows: []}\nmodels: [resnet18]\n", "axes.array.rows", "empty axis"),
    ("base: systolic16x16\naxes: {array.rows: {values: []}}\nmodels: [resnet18]\n", "axes.array.rows",
     "empty axis"),
    ("base: systolic16x16\naxes: {array.rows: [16, 0]}\nmodels: [resnet18]\n", "axes.array.rows",
     "array.rows: must be >= 1, got 0"),
    ("base: systolic16x16\naxes: {array.rows: [16.5]}\nmodels: [resnet18]\n", "axes.array.rows",
     "expected an integer"),
    ("base: systolic16x16\naxes: {array.dataflow: [ws, xs]}\nmodels: [resnet18]\n", "axes.array.dataflow",
     "'xs'"),
    ("base: systolic999x999\naxes: {array.rows: [8]}\nmodels: [resnet18]\n", "base",
     "unknown accelerator 'systolic999x999'"),
    ("base: systolic16x16\naxes: {array.rowz: [8]}\nmodels: [resnet18]\n", "axes.array.rowz",
     "did you mean array.rows"),
    ("base: systolic16x16\naxes: {kind: [systolic]}\nmodels: [resnet18]\n", "axes.kind", "cannot be swept"),
    ("base: systolic16x16\naxes: {array.rows: {start: 8, stop: 4, step: 2}}\nmodels: [resnet18]\n",
     "axes.array.rows.stop", "must be >= start"),
    ("base: systolic16x16\naxes: {array.rows: {start: 8, stop: 64}}\nmodels: [resnet18]\n", "axes.array.rows",
     "exactly one of step"),
    ("base: systolic16x16\naxes: {array.rows: {start: 8, stop: 64, factor: 1}}\nmodels: [resnet18]\n",
     "axes.array.rows.factor", "must be > 1"),
    ("base: systolic16x16\naxes: {array.rows: [8, 8]}\nmodels: [resnet18]\n", "axes.array.rows",
     "appears twice"),
    ("base: systolic16x16\naxes: {array.cols: [8]}\nsquare: true\nmodels: [resnet18]\n", "square",
     "array.rows is not an axis"),
    ("base: systolic16x16\naxes: {array.rows: [8, 16], array.cols: [8]}\ntied: [[array.rows, array.cols]]\n"
     "models: [resnet18]\n", "tied[0]", "same number of values"),
    ("base: systolic16x16\naxes: {array.rows: [8]}\n", "models", "no workload"),
    ("base: systolic16x16\naxes: {array.rows: [8]}\nmodels: [missing.json]\n", "models[0].model",
     "saved graph 'missing.json' not found"),
    ("base: systolic16x16\naxes: {array.rows: [8]}\nmodels: [{model: resnet18, input: 3x0x4}]\n",
     "models[0].input", "CxHxW"),
    ("base: systolic16x16\naxes: {array.rows: [8]}\nmodels: [resnet18, resnet18]\n", "models",
     "repeated: resnet18"),
    ("base: systolic16x16\naxes: {array.rows: [8]}\nmodels: [resnet18]\nobjectives: [power]\n", "objectives",
     "unknown objective 'power'"),
    ("base: systolic16x16\naxes: {array.rows: [8]}\naxes: {array.cols: [8]}\nmodels: [resnet18]\n", "axes",
     "duplicate key"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD_SPACES, ids=[case[2] for case in BAD_SPACES])
def test_malformed_space_is_one_error_naming_file_and_field(tmp_path, body, field, words):
    path = write(tmp_path, "schema_version: 1\n" + body)
    with pytest.raises(DesignSpaceError) as caught:
        load_space(path)
    message = str(caught.value)
    assert message.startswith(f"space file {path}: ")
    assert f"{field}:" in message
    assert words in message
    assert "\n" not in message


def test_schema_version_and_top_level_shape(tmp_path):
    with pytest.raises(DesignSpaceError, match="schema_version: must be 1, got 2"):
        load_space(write(tmp_path, "schema_version: 2\nbase: systolic16x16\nmodels: [resnet18]\n"))
    with pytest.raises(DesignSpaceError, match="<top>: expected a mapping"):
        load_space(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(DesignSpaceError, match="cannot read it"):
        load_space(tmp_path / "nope.yaml")


def test_cross_field_problems_are_not_space_errors(tmp_path):
    # 256 bytes of ofmap buffer cannot drain 128 columns of 32-bit outputs: a property of the combination,
    # so the space loads and the sweep records that point as invalid
    space = load_space(write(tmp_path, """\
        schema_version: 1
        base: systolic16x16
        axes: {array.cols: [8, 128], buffers.ofmap.size_bytes: [256]}
        models: [resnet18]
        """))
    assert space.n_variants == 2


def test_cli_reports_a_malformed_space_on_one_line(tmp_path, run_cli):
    path = write(tmp_path, "schema_version: 1\nbase: systolic16x16\naxes: {array.rows: [0]}\nmodels: [resnet18]\n")
    code, out, err = run_cli("sweep", str(path))
    assert code == 2 and out == ""
    assert err.startswith("hwmap: error: space file ") and "axes.array.rows" in err and err.count("\n") == 1
