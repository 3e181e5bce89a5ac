"""Accelerator templates: strict YAML in ``accelerators/`` -> schema -> semantic checks -> frozen Accelerator.

Stands alone in the dependency graph: besides pydantic and PyYAML it imports only the base modules
(hwmap.errors, fileio, yamlio, vocabulary). The ``gpu`` kind's schema (gpu_schema.GpuSpec) is registered
here by name, so importing the package does not import it.
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
