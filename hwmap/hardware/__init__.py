"""Accelerator templates: strict YAML in ``accelerators/`` -> schema -> semantic checks -> frozen Accelerator.

Stands alone in the dependency graph (imports only hwmap.errors, pydantic and PyYAML).
"""

from hwmap.hardware.catalog import list_accelerators, templates_root
from hwmap.hardware.loader import load_accelerator, loads_accelerator
from hwmap.hardware.schema import (
    Accelerator,
    Area,
    Buffer,
    CnnAcceleratorSpec,
    Dram,
    OperandBits,
    PEArray,
    PEBuffers,
    Problem,
    StrictModel,
    SystolicArray,
    SystolicBuffers,
    SystolicSpec,
    Technology,
    TemplateSpec,
    VectorPESpec,
    VectorUnit,
    register_template_kind,
    registered_kinds,
    validate_template,
)

register_template_kind("gpu", "hwmap.hardware.gpu_schema:GpuSpec")
register_template_kind("hierarchy", "hwmap.hardware.hierarchy_schema:HierarchySpec")

__all__ = [
    "Accelerator",
    "Area",
    "Buffer",
    "CnnAcceleratorSpec",
    "Dram",
    "OperandBits",
    "PEArray",
    "PEBuffers",
    "Problem",
    "StrictModel",
    "SystolicArray",
    "SystolicBuffers",
    "SystolicSpec",
    "Technology",
    "TemplateSpec",
    "VectorPESpec",
    "VectorUnit",
    "list_accelerators",
    "load_accelerator",
    "loads_accelerator",
    "register_template_kind",
    "registered_kinds",
    "templates_root",
    "validate_template",
]
