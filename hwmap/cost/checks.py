"""Result-level guard: a cost result never carries inf, NaN, a negative energy/latency/cycle count or a utilisation
outside [0, 1]. Such a number is a ResultError naming the layer and the field (and the template fields that feed
it), raised before anything is printed or written; ``--json`` stays strict JSON.

GPU results (``kind: gpu``): ``utilisation`` is the nominal-MAC rate against the dtype's tensor peak, which exceeds 1
where the algorithm runs fewer multiplications than the nominal MACs (Winograd) or where a fused kernel's time is
shared among its members (hwmap.cost.gpu.mac_rates); the invariant checked is the algorithm's rate
(``settings.algorithm_utilisation`` in [0, 1]) and every utilisation finite and >= 0. The messages name the GPU
template's fields.

Generic over the result's dict form (``GraphCost.to_dict()``, sweep rows, costed paths), so it does not depend
on how a cost model lays its result out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from hwmap.errors import ResultError
from hwmap.hardware.kinds import is_timeline

_NON_NEGATIVE = re.compile(r"(energy|latency|cycles|bytes|macs|_s$|_ms$|_mj$|_pj$|_us$|area|dram|power)")
_FRACTION = re.compile(r"utilisation|utilization")
_ALGORITHM_RATE = re.compile(r"algorithm_utili[sz]ation")
# Which template fields feed which result fields (for the message).
_CAUSES = (
    ("energy", "the template's energy fields (energy_pj_per_*, *_energy_pj) and its clock (freq_mhz)"),
    ("latency", "the template's clock (freq_mhz) and bandwidths (bw_bytes_per_cycle)"),
    ("cycles", "the template's array size and bandwidths (bw_bytes_per_cycle)"),
    ("utilisation", "the template's array size (rows, cols, lanes)"),
    ("bytes", "the template's buffer sizes (size_bytes)"),
)
_GPU_CAUSES = (
    ("energy", "the GPU template's tdp_w and priors (idle_power_w, dynamic_power_frac) or the calibration file's "
               "powers"),
    ("latency", "the GPU template's peaks (peak.*_tflops), memory.bandwidth_gb_per_s and priors (efficiencies, "
                "overheads) or the calibration file's coefficients"),
    ("cycles", "the GPU template's boost_clock_mhz and the latency's inputs (peaks, bandwidth, priors)"),
    ("utilisation", "the GPU template's peaks (peak.*_tflops) and the latency's inputs (priors or calibration)"),
    ("bytes", "the model's tensor sizes and the dtype"),
)


def bad_numbers(data: Any, path: str = "", *, nominal_rates: bool = False) -> Iterator[tuple[str, Any, str]]:
    """(where, value, why) for every non-finite or out-of-range number in a nested dict/list.

    nominal_rates: 'utilisation' fields are nominal-MAC rates (GPU results): only >= 0 is required of them, and
    [0, 1] of the algorithm's rate (algorithm_utilisation). A dict with ``kind: gpu`` turns it on for its contents.
    """
    if isinstance(data, Mapping):
        nominal_rates = nominal_rates or is_timeline(data.get("kind"))
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, Mapping | list | tuple):
                yield from bad_numbers(value, where, nominal_rates=nominal_rates)
            else:
                why = _problem(str(key), value, nominal_rates=nominal_rates)
                if why:
                    yield where, value, why
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from bad_numbers(value, f"{path}[{index}]", nominal_rates=nominal_rates)
    else:
        why = _problem(path, data, nominal_rates=nominal_rates)
        if why:
            yield path, data, why


def _problem(key: str, value: Any, *, nominal_rates: bool = False) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) and not hasattr(value, "item"):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return "not a finite number"
    if number < 0 and _NON_NEGATIVE.search(key):
        return "negative"
    if not _FRACTION.search(key):
        return None
    if nominal_rates and not _ALGORITHM_RATE.search(key):
        return "negative" if number < 0 else None
    if not 0.0 <= number <= 1.0 + 1e-9:
        return "outside [0, 1]"
    return None


def check_result(data: Mapping[str, Any], *, what: str, kind: str | None = None) -> None:
    """Raise ResultError for the first bad number in ``data`` (a result's dict form), naming the layer when the
    number belongs to one (a record in ``data['layers']`` with a 'layer' name). kind: the result's kind when
    ``data`` does not say it (``data['kind']``); 'gpu' checks GPU invariants and names GPU template fields."""
    kind = kind or data.get("kind")
    gpu = is_timeline(kind)
    for where, value, why in bad_numbers(data, nominal_rates=gpu):
        field = where.rsplit(".", 1)[-1]
        match = re.match(r"layers\[(\d+)\]", where)
        layer = ""
        if match and isinstance(data.get("layers"), list):
            record = data["layers"][int(match.group(1))]
            layer = f" layer {record.get('layer', match.group(1))}:" if isinstance(record, Mapping) else ""
        causes = _GPU_CAUSES if gpu else _CAUSES
        cause = next((c for key, c in causes if key in field), "the template's numbers")
        raise ResultError(f"{what}:{layer} {field} is {value!r} ({why}); {cause} are outside the range this "
                          "result can be computed in")


def check_cost(cost: Any, *, what: str | None = None) -> None:
    """check_result over a GraphCost. Fast path (a sweep checks every point): when every per-layer array is finite
    and in range, only the totals are checked (the shares by op group are sums of those non-negative layers over
    their finite totals, so they are finite and non-negative too); otherwise the per-layer records are inspected
    so the error names the layer that went wrong."""
    label = what or f"{getattr(cost, 'model', 'model')} on {getattr(cost, 'accelerator', 'the template')}"
    if _layer_arrays_in_range(cost):
        check_result(cost.totals_dict(), what=label)
        return
    data = cost.to_dict(layers=True)
    kind = getattr(cost, "kind", None)
    check_result({"layers": data.get("layers", [])}, what=label, kind=kind)  # the layer that went wrong, if one did
    check_result(data, what=label)


def _layer_arrays_in_range(cost: Any) -> bool:
    """Cycles, stalls, DRAM bytes and every energy term finite and >= 0, utilisation in [0, 1] (GPU: >= 0), per
    layer."""
    import numpy as np

    try:
        table = cost.layers
        arrays = [table.compute_cycles, table.stall_cycles, table.dram_bytes, *table.energy_terms_pj.values()]
        utilisation = np.asarray(table.utilisation, dtype=float)
    except (AttributeError, TypeError, ValueError):
        return False  # not a GraphCost: inspect everything
    with np.errstate(invalid="ignore"):
        for array in arrays:
            values = np.asarray(array, dtype=float)
            if not (np.isfinite(values).all() and (values >= 0).all()):
                return False
        upper = np.inf if is_timeline(getattr(cost, "kind", None)) else 1.0 + 1e-9
        return bool(np.isfinite(utilisation).all() and ((utilisation >= 0) & (utilisation <= upper)).all())


def check_json_safe(data: Any, *, what: str = "result") -> None:
    """Before printing JSON: any non-finite number is a ResultError naming where it is (JSON has no inf/NaN)."""
    for where, value, why in bad_numbers(data):
        if why == "not a finite number":
            raise ResultError(f"{what}: {where or 'value'} is {value!r}, which JSON cannot hold; the inputs are "
                              "outside the range this result can be computed in")
