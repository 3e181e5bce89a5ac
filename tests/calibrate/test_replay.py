"""The replay meter reproduces recorded logs: counter differences and trapezoid-integrated power."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwmap.calibrate.meter import EnergyMeter, MeterError, ReplayLogError
from hwmap.calibrate.replay import ReplayMeter, parse_log, read_log, write_log
from hwmap.errors import HwmapError

DATA = Path(__file__).parents[1] / "data" / "gpu"


def _clock(times):
    it = iter(times)
    return lambda: next(it)


def test_counter_log_energy_is_the_counter_difference() -> None:
    log = read_log(DATA / "counter_log.jsonl")
    assert log.kind == "counter"
    assert log.meta["method"] == "counter"
    # 1 700 000 mJ - 1 000 000 mJ = 700 J = 150 W x 1 s + 400 W x 1 s + 150 W x 1 s
    assert log.energy_between(0.0, 3.0) == pytest.approx(700.0)
    # 1 350 000 - 1 075 000 mJ = 275 J = 150 W x 0.5 s + 400 W x 0.5 s
    assert log.energy_between(0.5, 1.5) == pytest.approx(275.0)
    # between samples the counter is interpolated: e(0.1) = 1 015 000, e(0.6) = 1 090 000 -> 75 J = 150 W x 0.5 s
    assert log.energy_between(0.1, 0.6) == pytest.approx(75.0)


def test_power_log_energy_is_the_trapezoid_integral() -> None:
    log = read_log(DATA / "power_log.jsonl")
    assert log.kind == "power"
    # 10 + 40 + 40 + 150 + 105 + 75 = 420 J (trapezoids between the samples)
    assert log.energy_between(0.0, 1.5) == pytest.approx(420.0)
    # 0.05..0.1: 100 W x 0.05 s = 5; 0.1..0.3: 40; 0.3..0.35: (300 + 400) / 2 x 0.05 = 17.5 -> 62.5 J
    assert log.energy_between(0.05, 0.35) == pytest.approx(62.5)
    assert log.energy_between(0.4, 0.4) == 0.0


def test_replay_meter_start_stop_with_an_injected_clock() -> None:
    meter = ReplayMeter.from_file(DATA / "counter_log.jsonl", clock=_clock([1.0, 2.0, 0.0, 3.0]))
    assert isinstance(meter, EnergyMeter)
    assert meter.method == "replay-counter"
    meter.start()
    reading = meter.stop()
    assert reading.energy_j == pytest.approx(400.0)  # the 400 W second
    assert reading.elapsed_s == pytest.approx(1.0)
    assert reading.average_power_w == pytest.approx(400.0)
    meter.start()
    assert meter.stop().energy_j == pytest.approx(700.0)


def test_replay_meter_without_a_clock_walks_the_samples() -> None:
    meter = ReplayMeter.from_file(DATA / "power_log.jsonl")
    meter.start()  # t = 0.0
    first = meter.stop()  # t = 0.1
    assert first.energy_j == pytest.approx(10.0) and first.elapsed_s == pytest.approx(0.1)
    assert first.method == "replay-power" and first.samples == 2
    meter.start()  # t = 0.3
    assert meter.stop().energy_j == pytest.approx(40.0)  # 0.3 .. 0.4


def test_replay_meter_misuse_is_a_hwmap_error() -> None:
    meter = ReplayMeter.from_file(DATA / "counter_log.jsonl", clock=_clock([0.0, 5.0]))
    with pytest.raises(MeterError, match="without start"):
        meter.stop()
    meter.start()
    with pytest.raises(MeterError, match="already measuring"):
        meter.start()
    with pytest.raises(ReplayLogError, match="outside the log"):
        meter.stop()


@pytest.mark.parametrize(("lines", "fragment"), [
    (['{"t_s": 0, "energy_mj": 1}'], "at least two samples"),
    (['{"t_s": 0, "energy_mj": 1}', '{"t_s": 0, "energy_mj": 2}'], "does not increase"),
    (['{"t_s": 0, "energy_mj": 5}', '{"t_s": 1, "energy_mj": 2}'], "went backwards"),
    (['{"t_s": 0, "energy_mj": 1}', '{"t_s": 1, "power_w": 2}'], "use one kind"),
    (['{"t_s": 0, "power_w": -1}', '{"t_s": 1, "power_w": 2}'], "negative power"),
    (['{"t_s": 0}', '{"t_s": 1, "power_w": 2}'], "expected t_s and one of"),
    (['not json'], "not JSON"),
    (['{"t_s": 0, "power_w": 1}', '{"kind": "hwmap-energy-log"}', '{"t_s": 1, "power_w": 1}'], "must come first"),
])
def test_malformed_logs_are_one_clear_error(lines, fragment) -> None:
    with pytest.raises(ReplayLogError, match=fragment) as info:
        parse_log(lines, source="x.jsonl")
    assert isinstance(info.value, HwmapError)
    assert "x.jsonl" in str(info.value) and "\n" not in str(info.value)


def test_missing_log_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayLogError, match="no such energy log"):
        read_log(tmp_path / "nothing.jsonl")


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    samples = [{"t_s": 0.0, "power_w": 50.0}, {"t_s": 2.0, "power_w": 150.0}]
    path = write_log(tmp_path / "log.jsonl", samples, meta={"device": "test"})
    log = read_log(path)
    assert log.meta == {"device": "test"}
    assert log.energy_between(0.0, 2.0) == pytest.approx(200.0)  # (50 + 150) / 2 x 2 s
