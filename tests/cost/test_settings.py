"""hwmap.cost.settings: EstimateSettings is checked once, when made; the cost models take it as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwmap
from hwmap.cost import dispatch, settings
from hwmap.cost.settings import EstimateSettings, GpuSettings
from hwmap.errors import ParameterError
from hwmap.graph.ir import LayerGraph, Node, TensorMeta
from hwmap.ops.classes import OpClass
from hwmap.ops.work import Gemm


def _gemm_graph() -> LayerGraph:
    inputs = (TensorMeta((1, 64, 48), "float32", "input:0"), TensorMeta((48, 32), "float32", "param:w"))
    node = Node(0, "test.op", Gemm(1, 64, 32, 48), OpClass.LINEAR, "fc", "Linear", inputs,
                (TensorMeta((1, 64, 32), "float32", "0"),))
    return LayerGraph("gemm", ((1, 64, 48),), (node,), params=48 * 32, param_bytes=0, buffer_bytes=0)


@pytest.mark.parametrize(("keyword", "value"), [
    ("dataflow", "rs"), ("mapping", "timeloop"), ("objective", "accuracy"), ("fusion", "all"), ("mode", "jit"),
    ("dtype", "fp64")])
def test_a_word_outside_its_list_is_one_parameter_error_naming_the_keyword(keyword, value):
    with pytest.raises(ParameterError, match=f"^{keyword} must be one of .*, got '{value}'$") as caught:
        EstimateSettings.of(**{keyword: value})
    assert caught.value.param == keyword


def test_tf32_must_be_a_flag():
    with pytest.raises(ParameterError, match="^tf32 must be True or False, got 1$"):
        EstimateSettings(gpu=GpuSettings(tf32=1))


def test_of_builds_the_nested_gpu_settings_and_changed_lists_what_differs():
    made = EstimateSettings.of(objective="latency", mode="eager", calibration=Path("c.yaml"))
    assert made == EstimateSettings(objective="latency", gpu=GpuSettings(calibration="c.yaml", mode="eager"))
    assert made.changed() == ("objective", "calibration", "mode")
    assert EstimateSettings().changed() == ()
    assert made.to_dict() == {"dataflow": None, "mapping": "best", "objective": "latency", "fusion": None,
                              "mode": "eager", "dtype": "fp16", "calibration": "c.yaml", "tf32": True}
    assert EstimateSettings.of(**made.to_dict()) == made  # the flat form round-trips


@pytest.mark.parametrize(("kind", "made", "param"), [
    ("gpu", EstimateSettings(fusion="none"), "fusion"),
    ("gpu", EstimateSettings(dataflow="os"), "dataflow"),
    ("systolic", EstimateSettings.of(dtype="fp32"), "dtype"),
    ("vector_pe", EstimateSettings(dataflow="ws"), "dataflow"),
    ("vector_pe", EstimateSettings(mapping="scalesim"), "mapping"),
])
def test_a_setting_for_another_kind_of_template_is_refused(kind, made, param):
    with pytest.raises(ParameterError) as caught:
        made.check_applies(kind, "t")
    assert caught.value.param == param


def test_settings_that_apply_pass():
    for kind, made in (("gpu", EstimateSettings.of(mode="eager", dtype="fp32", tf32=False, mapping="scalesim")),
                       ("systolic", EstimateSettings(dataflow="os", mapping="scalesim", fusion="none")),
                       ("vector_pe", EstimateSettings(objective="edp", fusion="none"))):
        made.check_applies(kind, "t")


def test_estimate_graph_takes_settings_or_their_keywords_not_both():
    graph, accel = _gemm_graph(), hwmap.load_accelerator("systolic16x16")
    by_settings = dispatch.estimate_graph(graph, accel, EstimateSettings(dataflow="os", mapping="scalesim"))
    by_keywords = dispatch.estimate_graph(graph, accel, dataflow="os", mapping="scalesim")
    assert by_settings.settings == by_keywords.settings == {"dataflow": "os", "mapping": "scalesim",
                                                            "objective": "energy", "fusion": "epilogue"}
    assert by_settings.cycles == by_keywords.cycles and by_settings.energy_mj == by_keywords.energy_mj
    with pytest.raises(TypeError, match="give settings or objective, not both"):
        dispatch.estimate_graph(graph, accel, EstimateSettings(), objective="latency")


def test_the_api_makes_the_settings_once_and_the_cost_model_takes_them_as_they_are(monkeypatch):
    graph = _gemm_graph()
    expected = EstimateSettings(objective="latency", fusion="none")  # made before the count starts
    made: list[EstimateSettings] = []
    received: list[EstimateSettings] = []
    post_init = EstimateSettings.__post_init__
    estimate_graph = dispatch.estimate_graph

    def counting(self):
        post_init(self)
        made.append(self)

    def receiving(graph, accel, settings=None, **keywords):
        received.append(settings)
        return estimate_graph(graph, accel, settings, **keywords)

    monkeypatch.setattr(settings.EstimateSettings, "__post_init__", counting)
    monkeypatch.setattr(dispatch, "estimate_graph", receiving)
    cost = hwmap.estimate(graph, "magnet16pe_v16", objective="latency", fusion="none", cache=False)
    assert made == [expected]  # made (and checked) exactly once
    assert received == made and received[0] is made[0]  # passed down as it is, not rebuilt from words
    assert cost.settings == {"mapping": "best", "objective": "latency", "fusion": "none"}
