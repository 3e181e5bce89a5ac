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


class ParameterError(HwmapError):
    """A bad value of one API parameter. The message starts with the parameter's name (``batch must be a positive
    integer, got 0``); the CLI shows the command's flag in its place (``--batch must be ...``).

    param: the API keyword; detail: the rest of the message, after the name.
    """

    def __init__(self, param: str, detail: str) -> None:
        super().__init__(f"{param} {detail}")
        self.param = param
        self.detail = detail

    def __reduce__(self):  # picklable across worker processes despite the two-argument constructor
        return (type(self), (self.param, self.detail))
