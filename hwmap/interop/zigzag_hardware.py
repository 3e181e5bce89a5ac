"""ZigZag 3.9.1 hardware YAML <-> hwmap's neutral :class:`~hwmap.hardware.hierarchy.Hierarchy` (issue 17).

ZigZag lists ``memories`` innermost first; each holds memory operands (I1 = inputs, I2 = weights, O = outputs, the
links ZigZag's example mapping files use), so the levels here are that list reversed (DRAM first), and a level
bypasses the operands it does not list. Field mapping:

- capacity = ``size`` bits / 8; one instance serves the array dimensions in ``served_dimensions``, so its mesh is
  1 along those and the dimension's size along the others;
- energies: ``r_cost`` / ``w_cost`` are per access of ``bandwidth_max`` bits (the access width here); an update
  (a partial sum written back) costs ``w_cost`` as in ZigZag; ZigZag has no leakage (0);
- word = ``bandwidth_min`` bits; read bandwidth = the read and read_write ports' ``bandwidth_max`` summed, write
  bandwidth likewise (a read_write port counts for both: ZigZag's port sharing between directions and each port's
  allocation are not kept; the writer rebuilds ports from the bandwidths. Read and written back, ZigZag 3.9.1 gives
  the six example accelerators the same accesses and energy, and latencies within -2.9%..+2.0%, on ResNet-50's
  conv1 and fc);
- ``force_double_buffering`` = multiple buffering 2; ``operational_array``: ``unit_energy`` per MAC,
  ``dimensions``/``sizes`` as the array axes, ``input_precision`` as the MAC width, ``systolic_dimensions``.
- the spatial unrolling, when a mapping file is given: its ``default`` entry's ``spatial_mapping``, fixed, each
  factor clamped to its axis (as ZigZag unrolls K 32 on an axis of 14 as 14).

Ignored as not costs: ``area``, ``unit_area``, ``mem_type``. Refused by name: ``auto_cost_extraction`` (CACTI),
in-memory computing arrays (``is_imc``/``imc_type`` and their ADC/DAC fields), an access ``latency`` other than 1,
ports of one memory with different widths, memory operands other than I1/I2/O.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from hwmap.errors import TemplateError
from hwmap.fileio import atomic_write_text
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy, build_hierarchy, load_architecture_yaml

__all__ = ["read_zigzag_hardware", "write_zigzag_hardware_files", "zigzag_hardware_documents"]

MEMORY_OPERANDS = {"I1": "input", "I2": "weight", "O": "output"}
_MEMORY_KEYS = {"size", "r_cost", "w_cost", "area", "latency", "mem_type", "auto_cost_extraction", "operands",
                "ports", "served_dimensions", "force_double_buffering"}
_ARRAY_KEYS = {"unit_energy", "unit_area", "dimensions", "sizes", "input_precision", "systolic_dimensions"}


def read_zigzag_hardware(hardware: str | Path, *, mapping: str | Path | None = None) -> Hierarchy:
    """A Hierarchy from a ZigZag hardware YAML (and the spatial unrolling of a ZigZag mapping YAML)."""
    path = Path(hardware)
    data = _load(path)
    source = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("memories"), dict) or not data["memories"]:
        raise TemplateError(f"{source}: memories: missing; expected ZigZag's accelerator YAML (name, memories, "
                            "operational_array)")
    array = data.get("operational_array")
    if not isinstance(array, dict):
        raise TemplateError(f"{source}: operational_array: missing; expected unit_energy, dimensions, sizes")
    axes, sizes, compute = _array(array, source)
    levels = [_memory(name, memory, axes, sizes, source) for name, memory in reversed(data["memories"].items())]
    spatial = _spatial(Path(mapping), axes, sizes) if mapping is not None else []
    return build_hierarchy({"name": str(data.get("name") or path.stem), "array_axes": axes, "levels": levels,
                            "compute": compute, "spatial": spatial}, source=source)


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read: {exc}") from None
    return load_architecture_yaml(text, source=str(path))


def _array(array: dict, source: str) -> tuple[tuple[str, ...], tuple[int, ...], dict]:
    for key in array:
        if key not in _ARRAY_KEYS:
            what = "in-memory computing is not modelled" if key in ("is_imc", "imc_type", "adc_resolution",
                                                                    "dac_resolution", "bit_serial_precision",
                                                                    "cells") else "not a supported field"
            raise TemplateError(f"{source}: operational_array: {key}: not supported ({what})")
    axes, sizes = array.get("dimensions"), array.get("sizes")
    if not isinstance(axes, list) or not isinstance(sizes, list) or len(axes) != len(sizes) or not axes:
        raise TemplateError(f"{source}: operational_array: dimensions/sizes: expected two lists of equal length")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
        raise TemplateError(f"{source}: operational_array: sizes: {sizes}; expected whole numbers >= 1")
    precision = array.get("input_precision")
    compute = {"name": "operational_array", "mac_energy_pj": array.get("unit_energy"), "mesh": tuple(sizes),
               "mac_width_bits": max(precision) if isinstance(precision, list) and precision else None,
               "systolic_axes": tuple(array.get("systolic_dimensions") or ())}
    return tuple(str(a) for a in axes), tuple(sizes), compute


def _memory(name: str, memory: Any, axes: tuple[str, ...], sizes: tuple[int, ...], source: str) -> dict:
    if not isinstance(memory, dict):
        raise TemplateError(f"{source}: {name}: expected a mapping of memory fields")
    for key in memory:
        if key not in _MEMORY_KEYS:
            raise TemplateError(f"{source}: {name}: {key}: not a supported memory field")
    if memory.get("auto_cost_extraction"):
        raise TemplateError(f"{source}: {name}: auto_cost_extraction: not supported (CACTI cost extraction); "
                            "expected r_cost and w_cost in pJ")
    if memory.get("latency", 1) != 1:
        raise TemplateError(f"{source}: {name}: latency: {memory.get('latency')!r}; access latencies other than 1 "
                            "cycle are not modelled")
    operands = memory.get("operands")
    if not isinstance(operands, list) or not all(isinstance(op, str) for op in operands):
        raise TemplateError(f"{source}: {name}: operands: expected a list of I1 / I2 / O")
    for op in operands:
        if op not in MEMORY_OPERANDS:
            raise TemplateError(f"{source}: {name}: operands: unknown operand {op!r}; expected I1 / I2 / O")
    served = memory.get("served_dimensions") or []
    if not isinstance(served, list):
        raise TemplateError(f"{source}: {name}: served_dimensions: expected a list of {list(axes)}")
    for dim in served:
        if dim not in axes:
            raise TemplateError(f"{source}: {name}: served_dimensions: unknown dimension {dim!r}; expected one of "
                                f"{list(axes)}")
    ports = memory.get("ports")
    if not isinstance(ports, list) or not ports or not all(isinstance(p, dict) for p in ports):
        raise TemplateError(f"{source}: {name}: ports: expected a list of at least one port")
    for port in ports:
        for key in ("bandwidth_min", "bandwidth_max"):
            value = port.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TemplateError(f"{source}: {name}: ports.{port.get('name', '?')}.{key}: {value!r}; expected "
                                    "bits as a whole number >= 1")
    widths = {p.get("bandwidth_max") for p in ports}
    words = {p.get("bandwidth_min") for p in ports}
    if len(widths) != 1 or len(words) != 1:
        raise TemplateError(f"{source}: {name}: ports: bandwidth_max {sorted(map(str, widths))} / bandwidth_min "
                            f"{sorted(map(str, words))} differ between ports; one access width per memory is "
                            "supported")
    width, word = widths.pop(), words.pop()
    read_bits = sum(p["bandwidth_max"] for p in ports if p.get("type") in ("read", "read_write"))
    write_bits = sum(p["bandwidth_max"] for p in ports if p.get("type") in ("write", "read_write"))
    kept = tuple(MEMORY_OPERANDS[op] for op in operands)
    size = memory.get("size")
    w_cost = memory.get("w_cost")
    return {
        "name": name, "keeps": kept, "bypasses": tuple(op for op in OPERANDS if op not in kept),
        "capacity_bytes": size / 8 if isinstance(size, (int, float)) and not isinstance(size, bool) else size,
        "word_bits": word, "access_width_bits": width,
        "energy": {"read_pj": memory.get("r_cost"), "write_pj": w_cost, "update_pj": w_cost},
        "read_bandwidth_bytes_per_cycle": read_bits / 8 if read_bits else None,
        "write_bandwidth_bytes_per_cycle": write_bits / 8 if write_bits else None,
        "mesh": tuple(1 if axis in served else size_ for axis, size_ in zip(axes, sizes, strict=True)),
        "multiple_buffering": 2.0 if memory.get("force_double_buffering") else 1.0,
    }


def _spatial(path: Path, axes: tuple[str, ...], sizes: tuple[int, ...]) -> list[dict]:
    data = _load(path)
    source = str(path)
    entries = [e for e in data if isinstance(e, dict) and e.get("name") == "default"] if isinstance(data, list) else []
    if not entries:
        raise TemplateError(f"{source}: expected a list with a 'default' entry (ZigZag's mapping YAML)")
    unrollings = []
    spatial = entries[0].get("spatial_mapping") or {}
    if not isinstance(spatial, dict) or not all(isinstance(v, list) for v in spatial.values()):
        raise TemplateError(f"{source}: default.spatial_mapping: expected <dimension>: ['<loop>, <factor>', ...]")
    for axis, items in spatial.items():
        if axis not in axes:
            raise TemplateError(f"{source}: default.spatial_mapping.{axis}: unknown dimension; expected one of "
                                f"{list(axes)}")
        size = sizes[axes.index(axis)]
        factors: dict[str, int] = {}
        for item in items or []:
            dim, _, factor = str(item).partition(",")
            dim, factor = dim.strip(), factor.strip()
            if dim not in LOOP_DIMS or not factor.isdigit():
                raise TemplateError(f"{source}: default.spatial_mapping.{axis}: {item!r}; expected '<dim>, <int>' "
                                    f"with dim one of {list(LOOP_DIMS)}")
            factors[dim] = min(int(factor), size)
        while math.prod(factors.values()) > size:  # several dims on one axis: ZigZag keeps what fits, in order
            last = list(factors)[-1]
            factors[last] = max(1, size // math.prod(f for d, f in factors.items() if d != last))
            if math.prod(factors.values()) > size:
                factors.pop(last)
        unrollings.append({"axis": axis, "dims": tuple(factors), "fixed": True, "factors": factors})
    return unrollings


# ------------------------------------------------------------------------------------------------------------
# Writer
# ------------------------------------------------------------------------------------------------------------

_LINKS = {v: k for k, v in MEMORY_OPERANDS.items()}


def zigzag_hardware_documents(h: Hierarchy) -> tuple[dict, list[dict] | None]:
    """ZigZag's accelerator document and, when the hierarchy states a spatial unrolling, its mapping document."""
    memories: dict[str, dict] = {}
    for index, level in reversed(list(enumerate(h.levels))):
        memories[level.name] = _memory_document(h, level, outermost=index == 0)
    array: dict[str, Any] = {"unit_energy": h.compute.mac_energy_pj, "unit_area": 1.0,
                             "dimensions": list(h.array_axes), "sizes": list(h.compute.mesh)}
    if h.compute.mac_width_bits is not None:
        array["input_precision"] = [h.compute.mac_width_bits, h.compute.mac_width_bits]
    if h.compute.systolic_axes:
        array["systolic_dimensions"] = list(h.compute.systolic_axes)
    hardware = {"name": h.name, "memories": memories, "operational_array": array}
    if not h.spatial:
        return hardware, None
    spatial = {}
    for unrolling in h.spatial:
        factors = dict(unrolling.factors)
        if unrolling.fixed and not factors and len(unrolling.dims) == 1:  # a dataflow's one dim: the whole axis
            factors = {unrolling.dims[0]: h.compute.mesh[h.array_axes.index(unrolling.axis)]}
        if set(factors) != set(unrolling.dims) or not unrolling.fixed:
            raise TemplateError(f"{h.name}: spatial[{unrolling.axis}]: ZigZag's mapping file fixes every "
                                "unrolled dimension's factor; expected fixed factors for all dims")
        spatial[unrolling.axis] = [f"{d}, {f}" for d, f in factors.items()]
    mapping = [{"name": "default", "spatial_mapping": spatial,
                "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]
    return hardware, mapping


def _memory_document(h: Hierarchy, level, *, outermost: bool) -> dict:
    if level.capacity_bytes is None or level.capacity_bytes_per_operand is not None:
        raise TemplateError(f"{h.name}: {level.name}: capacity_bytes: ZigZag needs one finite size per memory")
    if set(level.keeps) != set(level.may_keep):
        raise TemplateError(f"{h.name}: {level.name}: keeps: ZigZag has no mapper-chosen bypass; expected every "
                            "operand kept or bypassed")
    if level.energy.update_pj != level.energy.write_pj or level.energy.leakage_pj_per_cycle:
        raise TemplateError(f"{h.name}: {level.name}: energy: ZigZag prices updates as writes and has no leakage")
    ops = [_LINKS[op] for op in level.keeps]
    width, word = level.access_width_bits, level.word_bits

    def ports(kind: str, bandwidth: float | None, allocation: list[str]) -> list[dict]:
        count = 0 if bandwidth is None else bandwidth * 8 / width
        if count != int(count):
            raise TemplateError(f"{h.name}: {level.name}: {kind}_bandwidth_bytes_per_cycle: not a whole number of "
                                f"{width}-bit ports")
        return [{"name": f"{kind[0]}_port_{i + 1}", "type": kind, "bandwidth_min": word, "bandwidth_max": width,
                 "allocation": allocation if i == 0 else [a for a in allocation if a.startswith("O")]}
                for i in range(int(count))]

    reads = [f"{op}, tl" for op in ops] + (["O, th"] if "O" in ops else [])
    writes = [f"{op}, fh" for op in ops] + (["O, fl"] if "O" in ops else [])
    document = {
        "size": int(round(level.capacity_bytes * 8)), "r_cost": level.energy.read_pj, "w_cost": level.energy.write_pj,
        "area": 0.0, "latency": 1, "operands": ops,
        "ports": ports("read", level.read_bandwidth_bytes_per_cycle, reads)
        + ports("write", level.write_bandwidth_bytes_per_cycle, writes),
        "served_dimensions": [a for a, m in zip(h.array_axes, level.mesh, strict=True) if m == 1],
    }
    if level.multiple_buffering == 2:
        document["force_double_buffering"] = True
    elif level.multiple_buffering != 1:
        raise TemplateError(f"{h.name}: {level.name}: multiple_buffering: ZigZag knows 1 or 2")
    if outermost:
        document["mem_type"] = "dram"
    return document


def write_zigzag_hardware_files(h: Hierarchy, out_dir: str | Path) -> tuple[Path, Path | None]:
    """Write ``<name>.yaml`` (hardware) and, with a spatial unrolling, ``<name>.mapping.yaml``."""
    out = Path(out_dir)
    hardware, mapping = zigzag_hardware_documents(h)
    hw_path = atomic_write_text(out / f"{h.name}.yaml", yaml.safe_dump(hardware, sort_keys=False))
    map_path = None
    if mapping is not None:
        map_path = atomic_write_text(out / f"{h.name}.mapping.yaml", yaml.safe_dump(mapping, sort_keys=False))
    return Path(hw_path), map_path
