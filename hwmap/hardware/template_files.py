"""Which files a template argument reads: for the same-file check of the safe output layer (hwmap.fileio), so an
output can never overwrite a template or the calibration a GPU template reads implicitly beside it."""

from __future__ import annotations

import os
from pathlib import Path

from hwmap.errors import HwmapError
from hwmap.hardware.calibration import calibration_path_for
from hwmap.hardware.catalog import catalog_entries


def template_input_files(label: str, accel: object) -> dict[str, str]:
    """The files a template argument (``--accel``) reads, for :func:`hwmap.fileio.check_run_files`: the template
    itself (a path, or a shipped template's file) and ``<template>.calibration.yaml`` beside it, which GPU templates
    read implicitly; only those that exist. Anything that is not a name or path (an Accelerator object) reads none."""
    if not isinstance(accel, (str, Path)) or not str(accel).strip():
        return {}
    text = str(accel)
    files: dict[str, str] = {}
    if os.path.lexists(text):
        files[label] = text
    else:
        with _quietly():
            entry = catalog_entries().get(text.removesuffix(".yaml").rsplit("/", 1)[-1])
            if entry is not None and os.path.isfile(str(entry.resource)):
                files[f"{label} {text}: the shipped template"] = str(entry.resource)
    with _quietly():
        calibration = calibration_path_for(text)
        if calibration is not None and os.path.lexists(calibration):
            files[f"{label}'s calibration"] = str(calibration)
    return files


class _quietly:
    """Skip a template that cannot be looked up: loading it will say why."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, _value, _traceback) -> bool:
        return kind is not None and issubclass(kind, (HwmapError, OSError, ValueError))
