"""The ``gpu`` kind: published peaks and a roofline timeline (:mod:`hwmap.cost.gpu`), calibrated by measurements.

The kind's cost module (the protocol of :mod:`hwmap.cost.kinds`). A GPU has no CNN memory hierarchy to map onto
(caches and shared memory are the kernels' business, not hwmap's): :func:`hardware_view` says so, and its spatial
space is empty.
"""

from __future__ import annotations

from hwmap.cost.result import GraphCost
from hwmap.cost.settings import EstimateSettings
from hwmap.errors import TemplateError
from hwmap.graph.ir import LayerGraph
from hwmap.hardware.hierarchy import Hierarchy, SpatialUnrolling
from hwmap.hardware.schema import Accelerator

__all__ = ["estimate", "hardware_view", "spatial_space"]


def hardware_view(accelerator: Accelerator) -> Hierarchy:
    raise TemplateError(f"{accelerator.name} is a GPU: no CNN memory hierarchy (the mapper, traffic bounds and "
                        "hierarchy exporters cover accelerator templates)")


def spatial_space(accelerator: Accelerator, settings: EstimateSettings) -> tuple[SpatialUnrolling, ...]:
    return ()


def estimate(graph: LayerGraph, accelerator: Accelerator, settings: EstimateSettings, *,
             cache: bool = False) -> GraphCost:
    """The GPU timeline under settings.gpu, with the calibration file given there or the one found beside the
    template (hwmap.hardware.calibration.find_calibration); ``cache`` is unused (no mapper)."""
    from hwmap.cost.gpu import estimate_gpu
    from hwmap.hardware.calibration import find_calibration, load_calibration

    gpu = settings.gpu
    path = gpu.calibration or find_calibration(accelerator)
    calibration = load_calibration(path) if path else None
    return estimate_gpu(graph, accelerator, calibration=calibration, mode=gpu.mode, dtype=gpu.dtype, tf32=gpu.tf32)
