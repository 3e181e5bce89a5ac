"""Strict numeric option types: decimal digits only (no ``1_0``, no ``²``), finite, inside a range that keeps every
product hwmap computes from them inside int64."""

from __future__ import annotations

import math
import re

import typer

# Bounds: a batch of 2^20 images of 2^16 x 2^16 pixels x 2^16 channels stays below 2^63 MACs per layer only for
# small layers, but no real workload comes near these sizes; they exist so that no product overflows int64.
MAX_BATCH = 1 << 20
MAX_RESOLUTION = 1 << 16
MAX_CLASSES = 1 << 24
MAX_COUNT = 1 << 31

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


# Option value parsers: `typer.Option(parser=StrictInt(...))`. A parser (not a click ParamType through click_type)
# works with every typer this project allows: typer < 0.26 runs on the click package, 0.26+ on its own copy of click,
# and 0.29+ has no click_type. A bad value raises typer.BadParameter, which click reports as
# "Invalid value for '--top': ..." with the option's name.


class StrictInt:
    """An integer written with ASCII digits, in [min_value, max_value]."""

    def __init__(self, *, min_value: int, max_value: int) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.__name__ = "integer"  # the metavar click shows in --help (INTEGER)

    def __call__(self, value) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not _INT.fullmatch(text):
                raise typer.BadParameter(f"{value!r} is not an integer (digits only)")
            number = int(text)
        if not self.min_value <= number <= self.max_value:
            raise typer.BadParameter(f"{number} is out of range: expected an integer from {self.min_value} to "
                                     f"{self.max_value}")
        return number


class StrictFloat:
    """A finite decimal number in [min_value, max_value]."""

    def __init__(self, *, min_value: float, max_value: float = 1e18) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.__name__ = "number"  # the metavar click shows in --help (NUMBER)

    def __call__(self, value) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            if not _FLOAT.fullmatch(text):
                raise typer.BadParameter(f"{value!r} is not a number")
            number = float(text)
        if not math.isfinite(number) or not self.min_value <= number <= self.max_value:
            raise typer.BadParameter(f"{value} is out of range: expected a number from {self.min_value:g} to "
                                     f"{self.max_value:g}")
        return number


def strict_float(text: str, *, argument: str) -> float:
    """One finite number written as a decimal (no ``1_0``, no ``nan``/``inf``)."""
    from hwmap.errors import HwmapError

    token = text.strip()
    if not _FLOAT.fullmatch(token):
        raise HwmapError(f"{argument} {text!r}: expected a decimal number")
    number = float(token)
    if not math.isfinite(number):
        raise HwmapError(f"{argument} {text!r}: expected a finite number")
    return number


def spec_path(spec: str | None) -> str | None:
    """The file or folder a MODEL / --accel argument reads, if it names one (``hf:DIR`` reads DIR)."""
    if spec is None:
        return None
    return spec.removeprefix("hf:")


def check_files(*, inputs: dict[str, str | None], outputs: dict[str, str | None]) -> None:
    """hwmap.fileio.check_run_files with MODEL-like specs mapped to the files they read."""
    from hwmap.fileio import check_run_files

    check_run_files(inputs={label: spec_path(path) for label, path in inputs.items()}, outputs=outputs)
