"""Every user-facing failure is a HwmapError: the CLI prints its message on one line and exits 2."""

from __future__ import annotations


class HwmapError(Exception):
    """A failure caused by the user's input or environment, with a message that says what was expected."""


class ModelError(HwmapError):
    """A model spec that names no known model, or a model that cannot be built or traced."""


class GraphFileError(HwmapError):
    """A saved layer-graph file that is missing, truncated or edited into an inconsistent state."""


class TemplateError(HwmapError):
    """An accelerator template that does not load or validate."""


class UnsupportedOpError(HwmapError):
    """Raised in strict mode when the trace met operators hwmap cannot lower."""


class OutputError(HwmapError):
    """An output path that cannot be written, or would overwrite an input or another output of the same run."""


class InputFileError(HwmapError):
    """An input file (paths YAML, costed CSV, selection JSON, budget trace, topology, .cfg) that does not parse."""


class ResultError(HwmapError):
    """A result holding a non-finite or out-of-range number (the template's numbers are outside what it can cost)."""
