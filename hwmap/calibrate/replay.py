"""A meter that plays back a recorded energy log: tests and offline analysis without a GPU.

Log format: JSON lines. An optional first line ``{"kind": "hwmap-energy-log", ...}`` carries metadata (device
name, how the log was recorded); every other line is one sample with a time ``t_s`` (seconds, increasing) and
either ``energy_mj`` (a cumulative energy counter in millijoules, as NVML's total-energy counter) or ``power_w``
(an instantaneous power reading). One log uses one of the two.

Energy between two times:

- counter logs: the counter difference, each end linearly interpolated between its neighbouring samples;
- power logs: the trapezoid integral of power over time, each end linearly interpolated.

The meter's clock is injected (``clock``: a callable returning seconds since the log began), so a test drives
start/stop at exact log times; :meth:`ReplayMeter.energy_between` answers directly.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwmap.calibrate.meter import EnergyReading, MeterError, ReplayLogError
from hwmap.fileio import atomic_write_text

__all__ = ["EnergyLog", "ReplayMeter", "read_log", "write_log"]

LOG_KIND = "hwmap-energy-log"


@dataclass(frozen=True)
class EnergyLog:
    """A recorded log: times (s, increasing) and either cumulative energy (J) or power (W) at those times."""

    t_s: np.ndarray
    energy_j: np.ndarray | None  # cumulative counter, joules
    power_w: np.ndarray | None
    meta: Mapping[str, object]
    source: str = "<log>"

    @property
    def kind(self) -> str:
        return "counter" if self.energy_j is not None else "power"

    @property
    def start_s(self) -> float:
        return float(self.t_s[0])

    @property
    def end_s(self) -> float:
        return float(self.t_s[-1])

    def energy_between(self, t0: float, t1: float) -> float:
        """Joules used between log times t0 <= t1 (both inside the log)."""
        if not (math.isfinite(t0) and math.isfinite(t1)) or t1 < t0:
            raise ReplayLogError(f"{self.source}: energy between {t0} s and {t1} s: the end must not precede the start")
        eps = 1e-12
        if t0 < self.start_s - eps or t1 > self.end_s + eps:
            raise ReplayLogError(
                f"{self.source}: {t0:g} s to {t1:g} s lies outside the log ({self.start_s:g} s to {self.end_s:g} s)")
        if self.energy_j is not None:
            e0, e1 = np.interp([t0, t1], self.t_s, self.energy_j)
            return float(e1 - e0)
        assert self.power_w is not None
        inside = (self.t_s > t0) & (self.t_s < t1)
        times = np.concatenate(([t0], self.t_s[inside], [t1]))
        power = np.interp(times, self.t_s, self.power_w)
        return float(np.sum((power[1:] + power[:-1]) * np.diff(times)) / 2.0)


def read_log(path: str | os.PathLike[str]) -> EnergyLog:
    """Read a JSON-lines energy log, or raise ONE ReplayLogError naming the file and line."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReplayLogError(f"{shown}: no such energy log") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayLogError(f"{shown}: cannot read the energy log: {exc}") from None
    return parse_log(text.splitlines(), source=shown)


def parse_log(lines: Iterable[str], *, source: str = "<log>") -> EnergyLog:
    meta: dict[str, object] = {}
    times: list[float] = []
    values: list[float] = []
    field: str | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplayLogError(f"{source}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ReplayLogError(f"{source}: line {number}: expected an object, got {type(record).__name__}")
        if record.get("kind") == LOG_KIND:
            if times:
                raise ReplayLogError(f"{source}: line {number}: the metadata line must come first")
            meta = {k: v for k, v in record.items() if k != "kind"}
            continue
        has = [k for k in ("energy_mj", "power_w") if k in record]
        if "t_s" not in record or len(has) != 1:
            raise ReplayLogError(f"{source}: line {number}: expected t_s and one of energy_mj or power_w, "
                                 f"got keys {sorted(record)}")
        if field is None:
            field = has[0]
        elif has[0] != field:
            raise ReplayLogError(f"{source}: line {number}: {has[0]} in a log of {field} samples (use one kind)")
        t, value = record["t_s"], record[field]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (t, value)):
            raise ReplayLogError(f"{source}: line {number}: t_s and {field} must be finite numbers")
        if times and t <= times[-1]:
            raise ReplayLogError(f"{source}: line {number}: t_s {t} does not increase (previous {times[-1]})")
        if field == "power_w" and value < 0:
            raise ReplayLogError(f"{source}: line {number}: negative power {value} W")
        if field == "energy_mj" and values and value < values[-1]:
            raise ReplayLogError(f"{source}: line {number}: the energy counter went backwards "
                                 f"({values[-1]} -> {value} mJ)")
        times.append(float(t))
        values.append(float(value))
    if len(times) < 2:
        raise ReplayLogError(f"{source}: an energy log needs at least two samples, got {len(times)}")
    t_arr = np.asarray(times)
    v_arr = np.asarray(values)
    if field == "energy_mj":
        return EnergyLog(t_arr, v_arr / 1e3, None, meta, source)
    return EnergyLog(t_arr, None, v_arr, meta, source)


def write_log(path: str | os.PathLike[str], samples: Iterable[Mapping[str, float]], *,
              meta: Mapping[str, object] | None = None) -> Path:
    """Write samples ({"t_s": ..., "energy_mj": ...} or {"t_s": ..., "power_w": ...}) as a JSON-lines log."""
    lines = [json.dumps({"kind": LOG_KIND, **(meta or {})})] if meta is not None else []
    lines += [json.dumps(dict(sample)) for sample in samples]
    parse_log(lines, source=str(path))  # refuse to write a log that would not read back
    return atomic_write_text(path, "\n".join(lines) + "\n")


class ReplayMeter:
    """Plays back a recorded log as an EnergyMeter. ``clock()`` gives the current log time in seconds.

    Without a clock, the meter walks the log: the first start() is at the log's first sample and every later
    call advances to the next sample, so start/stop pairs cover consecutive sample intervals.
    """

    def __init__(self, log: EnergyLog, *, clock: Callable[[], float] | None = None) -> None:
        self._log = log
        self._clock = clock
        self._cursor = 0
        self._t0: float | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, clock: Callable[[], float] | None = None) -> ReplayMeter:
        return cls(read_log(path), clock=clock)

    @property
    def log(self) -> EnergyLog:
        return self._log

    @property
    def method(self) -> str:
        return f"replay-{self._log.kind}"

    def _now(self) -> float:
        if self._clock is not None:
            return float(self._clock())
        if self._cursor >= len(self._log.t_s):
            raise ReplayLogError(f"{self._log.source}: the log is exhausted ({len(self._log.t_s)} samples)")
        t = float(self._log.t_s[self._cursor])
        self._cursor += 1
        return t

    def start(self) -> None:
        if self._t0 is not None:
            raise MeterError("the meter is already measuring: stop() before start()")
        self._t0 = self._now()

    def stop(self) -> EnergyReading:
        if self._t0 is None:
            raise MeterError("stop() without start()")
        t0, self._t0 = self._t0, None
        t1 = self._now()
        samples = int(np.sum((self._log.t_s >= t0) & (self._log.t_s <= t1)))
        return EnergyReading(energy_j=self._log.energy_between(t0, t1), elapsed_s=t1 - t0, method=self.method,
                             samples=samples if self._log.kind == "power" else 0)

    def energy_between(self, t0: float, t1: float) -> float:
        return self._log.energy_between(t0, t1)

    def close(self) -> None:
        self._t0 = None
