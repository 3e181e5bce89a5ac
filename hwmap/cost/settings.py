"""How a graph is costed, apart from the graph and the template: the estimate request, parsed once.

`EstimateSettings` is built once where the settings enter (hwmap.api from its keywords, the design space from its
`estimate:` section, `estimate_graph` for library callers that pass raw keywords) and checked there: every word is
one of its vocabulary list. The cost models take it as it is; the only check left downstream is whether a setting
applies to the template's kind (`check_applies`), which needs the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from hwmap.errors import ParameterError
from hwmap.vocabulary import DATAFLOWS, FUSIONS, GPU_DTYPES, GPU_MODES, MAPPER_OBJECTIVES, MAPPINGS

__all__ = ["DEFAULT_SETTINGS", "EstimateSettings", "GpuSettings"]


@dataclass(frozen=True)
class GpuSettings:
    """How a GPU runs the model: a calibration file (None: the one beside the template, else the priors),
    execution mode (eager | sdpa | compiled | auto), dtype of the compute roof, and TF32 for fp32."""

    calibration: str | None = None
    mode: str = "auto"
    dtype: str = "fp16"
    tf32: bool = True


_WORDS: dict[str, tuple[str, ...]] = {"dataflow": DATAFLOWS, "mapping": MAPPINGS, "objective": MAPPER_OBJECTIVES,
                                      "fusion": FUSIONS, "mode": GPU_MODES, "dtype": GPU_DTYPES}


@dataclass(frozen=True)
class EstimateSettings:
    """Everything an estimate depends on besides the graph and the template, checked when made.

    dataflow: overrides a systolic template's (None: the template's); mapping: 'best' (the mapper picks each layer's
    loop order and tiles for `objective`: energy, latency or edp) or 'scalesim' (systolic only); fusion: 'epilogue'
    or 'none' for accelerator templates (None: epilogue; GPU templates take fusion from gpu.mode); gpu: the GPU
    settings (GPU templates only). A ParameterError names the first setting that is not one of its words.
    """

    dataflow: str | None = None
    mapping: str = "best"
    objective: str = "energy"
    fusion: str | None = None
    gpu: GpuSettings = field(default_factory=GpuSettings)

    def __post_init__(self) -> None:
        for name, value in (("dataflow", self.dataflow), ("mapping", self.mapping), ("objective", self.objective),
                            ("fusion", self.fusion), ("mode", self.gpu.mode), ("dtype", self.gpu.dtype)):
            if value is not None and value not in _WORDS[name]:
                raise ParameterError(name, f"must be one of {', '.join(_WORDS[name])}, got {value!r}")
        if not isinstance(self.gpu.tf32, bool):
            raise ParameterError("tf32", f"must be True or False, got {self.gpu.tf32!r}")

    @classmethod
    def of(cls, *, dataflow: str | None = None, mapping: str = "best", objective: str = "energy",
           fusion: str | None = None, mode: str = "auto", dtype: str = "fp16", calibration: Any = None,
           tf32: bool = True) -> EstimateSettings:
        """The settings from the flat keywords hwmap.api and the CLI use (calibration: a path or None)."""
        gpu = GpuSettings(calibration=str(calibration) if calibration is not None else None, mode=mode, dtype=dtype,
                          tf32=tf32)
        return cls(dataflow=dataflow, mapping=mapping, objective=objective, fusion=fusion, gpu=gpu)

    def changed(self) -> tuple[str, ...]:
        """The flat names (as `of` takes them) of the settings that differ from the defaults."""
        default = DEFAULT_SETTINGS
        names = [f.name for f in fields(self) if f.name != "gpu" and getattr(self, f.name) != getattr(default, f.name)]
        return tuple(names + [f.name for f in fields(GpuSettings)
                              if getattr(self.gpu, f.name) != getattr(default.gpu, f.name)])

    def to_dict(self) -> dict[str, Any]:
        """The flat settings (as `of` takes them), for journals, point ids and JSON."""
        return {"dataflow": self.dataflow, "mapping": self.mapping, "objective": self.objective,
                "fusion": self.fusion, "mode": self.gpu.mode, "dtype": self.gpu.dtype,
                "calibration": self.gpu.calibration, "tf32": self.gpu.tf32}

    def check_applies(self, kind: str, name: str) -> None:
        """Refuse a setting that the template's kind does not take (name: the template's, for the message): each
        kind lists the settings it takes in the registry (hwmap.hardware.kinds: dataflow on systolic templates,
        mapping scalesim on systolic templates, fusion on the accelerator kinds, GPU settings on GPUs)."""
        from hwmap.hardware.kinds import kind_info, kinds_taking

        info = kind_info(kind)
        takes = (*info.settings, *info.ignores)
        given = {"fusion": self.fusion is not None, "dataflow": self.dataflow is not None}
        changed = set(self.changed())
        for setting in ("fusion", *(g.name for g in fields(GpuSettings)), "dataflow", "mapping", "objective"):
            if setting in takes or not given.get(setting, setting in changed):
                continue
            takers = kinds_taking(setting)
            labels = [kind_info(k).label for k in takers] or ["no"]
            labels = " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 2 else labels)
            only = " only" if len(takers) == 1 else ""
            value = f"{self.mapping} " if setting == "mapping" else ""
            raise ParameterError(setting, f"{value}applies to {labels} templates{only}; {name!r} is of kind {kind!r}")


DEFAULT_SETTINGS = EstimateSettings()  # what every setting is when not given
