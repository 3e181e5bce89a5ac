"""The words hwmap's choices are made of, each list defined here once (base layer: the library, the API and the
CLI all import it; the CLI builds its ``Literal`` option types from these tuples).

One word for one meaning: a mapper *objective* (what the mapper minimises per layer) is not a selection *goal*
(what path selection maximises); Pareto columns of a sweep are the sweep's ``objectives`` (result columns, not a
fixed list). Budget and physical units live in :mod:`hwmap.units`.
"""

from __future__ import annotations

#: Systolic dataflows: weight-, output-, input-stationary.
DATAFLOWS: tuple[str, ...] = ("ws", "os", "is")
#: GPU execution modes: eager PyTorch, fused SDPA attention, torch.compile, or auto (eager + SDPA where called).
GPU_MODES: tuple[str, ...] = ("eager", "sdpa", "compiled", "auto")
#: GPU compute dtypes the GPU model knows.
GPU_DTYPES: tuple[str, ...] = ("fp16", "bf16", "fp32", "fp8", "int8")
#: What the mapper minimises for each layer.
MAPPER_OBJECTIVES: tuple[str, ...] = ("energy", "latency", "edp")
#: What path selection optimises: expected accuracy over the budget levels, or closeness to a target frontier.
SELECTION_GOALS: tuple[str, ...] = ("accuracy", "frontier")
#: What a budget limits (path selection, simulation, a sweep's paths workloads).
BUDGET_METRICS: tuple[str, ...] = ("energy", "latency")
#: The breakdown tables of a GraphCost.
BREAKDOWNS: tuple[str, ...] = ("op-class", "op-group", "module", "layer")
#: How layers are mapped on accelerator templates: the mapper's best, or SCALE-Sim's fold order and DRAM counts.
MAPPINGS: tuple[str, ...] = ("best", "scalesim")
#: Fusion policies of accelerator templates (GPUs add 'compiled', graph.fusion.FUSION_POLICIES).
FUSIONS: tuple[str, ...] = ("none", "epilogue")
#: Counting and pricing rules a fixed mapping is evaluated under: hwmap's own, or ZigZag 3.9.1's
#: (hwmap.cost.multilevel.evaluate.CONVENTIONS_BY_NAME).
ACCESS_CONVENTIONS: tuple[str, ...] = ("hwmap", "zigzag")
# Template kinds are not a fixed list: hwmap.hardware.kinds registers them (hwmap.api.template_kinds()).

__all__ = ["ACCESS_CONVENTIONS", "BREAKDOWNS", "BUDGET_METRICS", "DATAFLOWS", "FUSIONS", "GPU_DTYPES", "GPU_MODES",
           "MAPPER_OBJECTIVES", "MAPPINGS", "SELECTION_GOALS"]
