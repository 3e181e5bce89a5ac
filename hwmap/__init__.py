"""hwmap: what a vision model costs on a chip, and which execution paths to keep for dynamic inference.

The public API lives in hwmap.api and is re-exported here lazily: `import hwmap` does not import torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "DesignSpace",
    "bounds",
    "cache_info",
    "calibrate_from_table",
    "calibrate_gpu",
    "census",
    "census_models",
    "check_cost",
    "clear_cache",
    "compare_counters",
    "cost_paths",
    "estimate",
    "evaluate_paths",
    "export_accelerator",
    "export_graph",
    "export_zigzag_hardware",
    "export_zigzag_workload",
    "extract_graph",
    "flops",
    "generate_paths",
    "import_accelerator",
    "list_accelerators",
    "list_models",
    "load_accelerator",
    "load_costed_paths",
    "load_graph",
    "load_paths",
    "load_selection",
    "load_space",
    "map_layers",
    "measure",
    "pareto",
    "plot_bounds",
    "plot_frontier",
    "plot_layers",
    "plot_pareto",
    "plot_shares",
    "save_costed_paths",
    "save_graph",
    "select_paths",
    "simulate",
    "sweep",
    "template_kinds",
    "validate_accelerators",
]


def __getattr__(name: str):
    if name in __all__:
        from hwmap import api

        return getattr(api, name)
    raise AttributeError(f"module 'hwmap' has no attribute {name!r}")
