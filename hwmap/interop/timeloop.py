"""Timeloop v0.4 architectures <-> hwmap's neutral :class:`~hwmap.hardware.hierarchy.Hierarchy` (issue 17).

Reads the flattened architecture ``timeloop-mapper`` writes (``*.flattened_architecture.yaml``: a ``local`` list of
components, outermost first, each ``system_top_level.<name>[1..<instances>]`` with resolved attributes) with the
per-action energies of Accelergy's energy reference table (``*.ERT.yaml``). The flattened form carries no
dataspace or spatial constraints; they come, when given, from the design's ``arch.yaml`` (inline ``constraints``
of its ``!Component`` / ``!Container`` nodes), from a classic ``constraints: {targets: [...]}`` document (what
:func:`write_timeloop` writes) or from the ``architecture_constraints`` section of the ``parsed-processed-input.yaml``
timeloop-mapper writes (the same targets list). A dataflow-fixed unrolling (a systolic array's) is written as a
spatial constraint allowing only its dims. Without them every level may keep every operand (the mapper's choice), as
Timeloop itself assumes, except DRAM, which keeps all.

Mapping of fields: capacity = depth x width bits; word = ``datawidth``; access = ``width`` bits (Accelergy prices
one access of ``width`` bits); bandwidth = ``read_bandwidth`` / ``write_bandwidth`` words per cycle x datawidth;
mesh = (meshX, meshY), checked against the ``[1..N]`` instance count; energies = ERT ``read``, ``write``,
``update``, ``leak``; compute = the component whose ERT has ``compute`` (``multiplier_width`` as MAC width).
``dummy_storage`` components (Timeloop's placeholders for spatial containers) carry no data and are not levels.

Refused by name (never dropped): sparse optimisations (gating, skipping), compression and metadata, network
components (networks-on-chip costs), any ERT action beyond read/write/update/leak/compute.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from hwmap.errors import TemplateError
from hwmap.fileio import atomic_write_text
from hwmap.hardware.hierarchy import LOOP_DIMS, Hierarchy, build_hierarchy, load_architecture_yaml

__all__ = ["read_timeloop", "timeloop_clock_mhz", "timeloop_documents", "write_timeloop"]

DATASPACES = {"Inputs": "input", "Weights": "weight", "Outputs": "output"}
DIMS = {"N": "B", "M": "K", "C": "C", "P": "OY", "Q": "OX", "R": "FY", "S": "FX"}
STORAGE_ACTIONS = ("read", "write", "update", "leak")
_NAME = re.compile(r"^(?:.*\.)?([^.\[\]]+)\[1\.\.(\d+)\]$")
_UNSUPPORTED_ATTRIBUTES = {
    "metadata_storage_width": "compression metadata", "metadata_datawidth": "compression metadata",
    "metadata_storage_depth": "compression metadata", "compression": "compression",
    "decompression_rate": "compression", "sparse_optimizations": "sparse optimisations (gating/skipping)",
}
_UNSUPPORTED_CLASSES = ("network", "noc", "router", "xy_", "wire")


def read_timeloop(architecture: str | Path, ert: str | Path, *, constraints: str | Path | None = None) -> Hierarchy:
    """A Hierarchy from a flattened Timeloop v0.4 architecture and its Accelergy ERT (and constraints)."""
    arch_path, ert_path = Path(architecture), Path(ert)
    arch = _load(arch_path)
    tables = _ert_tables(_load(ert_path), str(ert_path))
    keep, spatial = _constraints(Path(constraints)) if constraints is not None else ({}, {})
    return _hierarchy(arch, tables, keep, spatial, arch_source=str(arch_path), ert_source=str(ert_path))


def timeloop_clock_mhz(architecture: str | Path) -> float:
    """The clock of a flattened architecture: its first component's ``global_cycle_seconds`` (else
    ``cycle_seconds``), in MHz; 1000 MHz (Timeloop's default 1 ns cycle) when no component states one."""
    path = Path(architecture)
    for component in _components(_load(path), str(path)):
        attrs = component.get("attributes") if isinstance(component, dict) else None
        for key in ("global_cycle_seconds", "cycle_seconds"):
            value = attrs.get(key) if isinstance(attrs, dict) else None
            if isinstance(value, str):  # the project's YAML 1.2 loader reads 1e-09 as a number; '1e-9' text too
                try:
                    value = float(value)
                except ValueError:
                    pass
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise TemplateError(f"{path}: {component.get('name')}: attributes.{key}: {value!r}; expected "
                                    "seconds > 0")
            return round(1e-6 / value, 6)
    return 1000.0


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read: {exc}") from None
    # arch.yaml tags its nodes (!Component, !Container, !Parallel); the keys say the same, so the tags go
    text = re.sub(r"!(Component|Container|Parallel|Hierarchical|Nothing)\b", "", text)
    data = load_architecture_yaml(text, source=str(path))
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: expected a YAML mapping at the top")
    return data


def _ert_tables(data: dict, source: str) -> dict[str, dict[str, float]]:
    ert = data.get("ERT")
    if not isinstance(ert, dict) or not isinstance(ert.get("tables"), list):
        raise TemplateError(f"{source}: ERT.tables: missing; expected Accelergy's energy reference table")
    tables: dict[str, dict[str, float]] = {}
    for table in ert["tables"]:
        name = table.get("name") if isinstance(table, dict) else None
        if not isinstance(name, str):
            raise TemplateError(f"{source}: ERT.tables: an entry without a name")
        actions: dict[str, float] = {}
        listed = table.get("actions") or []
        if not isinstance(listed, list) or not all(isinstance(a, dict) for a in listed):
            raise TemplateError(f"{source}: {name}: actions: expected a list of {{name, energy}} entries")
        for action in listed:
            what, energy = action.get("name"), action.get("energy")
            if what not in (*STORAGE_ACTIONS, "compute"):
                raise TemplateError(f"{source}: {name}: action {what!r} is not supported (sparsity gating/skipping, "
                                    "metadata and compression actions are not modelled); expected "
                                    f"{list(STORAGE_ACTIONS)} or compute")
            if not isinstance(energy, (int, float)) or isinstance(energy, bool) or not math.isfinite(energy):
                raise TemplateError(f"{source}: {name}: {what}.energy: {energy!r}; expected pJ as a number")
            if what in actions and actions[what] != energy:
                raise TemplateError(f"{source}: {name}: action {what!r} has energies {actions[what]} and {energy} "
                                    "(argument-dependent energies are not supported)")
            actions[what] = float(energy)
        tables[name] = actions
    return tables


def _short(name: str, source: str) -> tuple[str, int]:
    match = _NAME.match(name)
    if not match:
        raise TemplateError(f"{source}: {name}: name: expected '<path>.<component>[1..<instances>]'")
    return match.group(1), int(match.group(2))


def _components(arch: dict, source: str) -> list[dict]:
    body = arch.get("architecture")
    if not isinstance(body, dict) or not isinstance(body.get("local"), list):
        raise TemplateError(f"{source}: architecture.local: missing; expected the flattened v0.4 form "
                            "timeloop-mapper writes (*.flattened_architecture.yaml)")
    if str(body.get("version", "0.4")) != "0.4":
        raise TemplateError(f"{source}: architecture.version: {body.get('version')!r}; expected 0.4")
    for key in body:
        if key not in ("version", "local"):
            raise TemplateError(f"{source}: architecture.{key}: not supported (networks-on-chip and other "
                                "sections are not modelled); expected version and local")
    return body["local"]


def _hierarchy(arch: dict, tables: dict, keep: dict, spatial: dict, *, arch_source: str, ert_source: str
               ) -> Hierarchy:
    levels: list[dict] = []
    compute: dict | None = None
    spatial_at: dict[str, dict] = {}
    order: list[tuple[str, tuple[int, int]]] = []  # every component's mesh, dummies included, outermost first
    for component in _components(arch, arch_source):
        if not isinstance(component, dict) or not isinstance(component.get("name"), str):
            raise TemplateError(f"{arch_source}: architecture.local: a component without a name")
        full = component["name"]
        name, instances = _short(full, arch_source)
        klass = str(component.get("class", ""))
        attrs = component.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise TemplateError(f"{arch_source}: {name}: attributes: expected a mapping")
        required = component.get("required_actions") or []
        if not isinstance(required, list) or not all(isinstance(a, str) for a in required):
            raise TemplateError(f"{arch_source}: {name}: required_actions: expected a list of action names")
        _refuse_unsupported(component, name, klass, attrs, arch_source)
        mesh = (_whole(attrs, "meshX", name, arch_source), _whole(attrs, "meshY", name, arch_source))
        if mesh[0] * mesh[1] != instances:
            raise TemplateError(f"{arch_source}: {name}: meshX/meshY: {mesh[0]} x {mesh[1]} is not the "
                                f"{instances} instances its name [1..{instances}] states")
        order.append((name, mesh))
        if klass == "dummy_storage":
            if name in spatial:
                spatial_at[name] = {"mesh": mesh, **spatial[name]}
            continue
        energies = tables.get(full)
        if energies is None:
            raise TemplateError(f"{ert_source}: {name}: no ERT table for {full!r}, which the architecture needs")
        for action in required:
            if action not in energies:
                raise TemplateError(f"{ert_source}: {name}: no {action!r} action, which the architecture needs")
        if "compute" in energies:
            compute = {"name": name, "mac_energy_pj": energies["compute"],
                       "leakage_pj_per_cycle": energies.get("leak", 0.0), "mesh": mesh,
                       "mac_width_bits": attrs.get("multiplier_width")}
            continue
        if compute is not None:
            raise TemplateError(f"{arch_source}: {name}: a storage level below the compute level {compute['name']}")
        levels.append(_level(name, attrs, energies, mesh, keep.get(name), outermost=not levels,
                             source=arch_source, ert_source=ert_source))
        if name in spatial:
            spatial_at[name] = {"mesh": mesh, **spatial[name]}
    if compute is None:
        raise TemplateError(f"{arch_source}: architecture.local: no compute component (an ERT with a 'compute' "
                            "action)")
    unrollings = []
    for target, rule in spatial_at.items():
        below = _mesh_below(target, order, rule["mesh"])
        axes = [axis for axis, a, b in zip(("X", "Y"), rule["mesh"], below, strict=True) if b > a]
        unrollings += _unrollings(axes, rule, source=arch_source, target=target)
    stem = Path(arch_source).name.split(".")[0]
    name = Path(arch_source).resolve().parent.name if stem == "flattened_architecture" else stem
    return build_hierarchy({"name": name, "array_axes": ("X", "Y"),
                            "levels": levels, "compute": compute, "spatial": unrollings}, source=arch_source)


def _mesh_below(target: str, order: list[tuple[str, tuple[int, int]]], mesh: tuple[int, int]) -> tuple[int, int]:
    """The mesh of the first component below ``target`` whose mesh differs (the fanout the constraint governs)."""
    names = [name for name, _ in order]
    for _, below in order[names.index(target) + 1:]:
        if below != mesh:
            return below
    return mesh


def _refuse_unsupported(component: dict, name: str, klass: str, attrs: dict, source: str) -> None:
    for key in component:
        if key not in ("name", "class", "subclass", "attributes", "required_actions", "enabled"):
            what = _UNSUPPORTED_ATTRIBUTES.get(key, "not modelled")
            raise TemplateError(f"{source}: {name}: {key}: not supported ({what})")
    for key in attrs:
        if key in _UNSUPPORTED_ATTRIBUTES:
            raise TemplateError(f"{source}: {name}: attributes.{key}: not supported ({_UNSUPPORTED_ATTRIBUTES[key]})")
    if any(tag in klass.lower() for tag in _UNSUPPORTED_CLASSES):
        raise TemplateError(f"{source}: {name}: class {klass!r}: networks-on-chip costs are not supported")


def _number(attrs: dict, key: str, name: str, source: str) -> float | None:
    value = attrs.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TemplateError(f"{source}: {name}: attributes.{key}: {value!r}; expected a number")
    return float(value)


def _whole(attrs: dict, key: str, name: str, source: str) -> int:
    value = attrs.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TemplateError(f"{source}: {name}: attributes.{key}: {value!r}; expected a whole number >= 1")
    return value


def _level(name: str, attrs: dict, energies: dict, mesh: tuple[int, int], rule: dict | None, *, outermost: bool,
           source: str, ert_source: str) -> dict:
    width = _number(attrs, "width", name, source)
    word = _number(attrs, "datawidth", name, source)
    depth = _number(attrs, "depth", name, source)
    if width is None or word is None:
        raise TemplateError(f"{source}: {name}: attributes.width/datawidth: missing; expected bits")
    if depth is None and not outermost:
        raise TemplateError(f"{source}: {name}: attributes.depth: missing; only the outermost level (DRAM) is "
                            "unbounded")
    keeps, bypasses = (rule or {}).get("keep", ()), (rule or {}).get("bypass", ())
    if outermost and not rule:
        keeps = ("input", "weight", "output")
    rbw, wbw = (_number(attrs, key, name, source) for key in ("read_bandwidth", "write_bandwidth"))
    return {
        "name": name, "keeps": tuple(keeps), "bypasses": tuple(bypasses),
        "capacity_bytes": None if depth is None else depth * width / 8,
        "word_bits": int(word), "access_width_bits": int(width),
        "energy": {"read_pj": energies.get("read", 0.0), "write_pj": energies.get("write", 0.0),
                   "update_pj": energies.get("update", energies.get("write", 0.0)),
                   "leakage_pj_per_cycle": energies.get("leak", 0.0)},
        "read_bandwidth_bytes_per_cycle": None if rbw is None else rbw * word / 8,
        "write_bandwidth_bytes_per_cycle": None if wbw is None else wbw * word / 8,
        "mesh": mesh, "multiple_buffering": _number(attrs, "multiple_buffering", name, source) or 1.0,
    }


# ------------------------------------------------------------------------------------------------------------
# Constraints: the design's arch.yaml or a classic constraints document
# ------------------------------------------------------------------------------------------------------------


def _constraints(path: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """Dataspace rules (level -> keep/bypass operands) and spatial rules (level -> factors/permutation/split)."""
    data = _load(path)
    keep: dict[str, dict] = {}
    spatial: dict[str, dict] = {}
    source = str(path)
    # a classic constraints document, or the architecture_constraints section of Timeloop's
    # parsed-processed-input.yaml (the same targets list)
    listed = data.get("constraints") if isinstance(data.get("constraints"), dict) else data.get(
        "architecture_constraints")
    if isinstance(listed, dict):
        targets = listed.get("targets") or []
        if not isinstance(targets, list) or not all(isinstance(t, dict) and isinstance(t.get("target"), str)
                                                    for t in targets):
            raise TemplateError(f"{source}: constraints.targets: expected a list of {{target, type, ...}} entries")
        for target in targets:
            name, kind = target.get("target"), target.get("type")
            if kind == "dataspace":
                keep[name] = _dataspace(target, name, source)
            elif kind == "spatial":
                spatial[name] = _spatial_rule(target, name, source)
            elif kind not in ("temporal", "utilization", "bypass"):
                raise TemplateError(f"{source}: {name}: type {kind!r}: not a supported constraint type")
        return keep, spatial
    body = data.get("architecture")
    nodes = body.get("nodes") if isinstance(body, dict) else None
    if not isinstance(nodes, list):
        raise TemplateError(f"{source}: expected constraints.targets or architecture.nodes (a Timeloop arch.yaml)")
    for node in _walk_nodes(nodes):
        name, rules = node.get("name"), node.get("constraints") or {}
        if not isinstance(rules, dict) or (rules and not isinstance(name, str)):
            raise TemplateError(f"{source}: architecture.nodes: a node without a name or with constraints that are "
                                "not a mapping")
        if "dataspace" in rules:
            keep[name] = _dataspace(rules["dataspace"], name, source)
        if "spatial" in rules and node.get("spatial"):
            # a container's spatial fanout: Timeloop places its dummy storage 'inter_<name>_spatial' above it
            spatial[f"inter_{name}_spatial"] = _spatial_rule(rules["spatial"], name, source)
    return keep, spatial


def _walk_nodes(nodes: list) -> list[dict]:
    found: list[dict] = []
    for node in nodes:
        if isinstance(node, dict):
            found.append(node)
            children = node.get("nodes") or []
            found += _walk_nodes(children if isinstance(children, list) else [])
    return found


def _dataspace(rule: dict, name: str, source: str) -> dict:
    out: dict[str, tuple[str, ...]] = {}
    if not isinstance(rule, dict):
        raise TemplateError(f"{source}: {name}: constraints.dataspace: expected keep / bypass lists")
    for field in ("keep", "bypass"):
        values = rule.get(field) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise TemplateError(f"{source}: {name}: constraints.dataspace.{field}: expected a list of "
                                f"{' / '.join(DATASPACES)}")
        unknown = [v for v in values if v not in DATASPACES]
        if unknown:
            raise TemplateError(f"{source}: {name}: constraints.dataspace.{field}: unknown dataspace {unknown[0]!r}; "
                                f"expected {' / '.join(DATASPACES)}")
        out[field] = tuple(DATASPACES[v] for v in values)
    return out


def _spatial_rule(rule: dict, name: str, source: str) -> dict:
    factors: dict[str, int] = {}
    if not isinstance(rule, dict):
        raise TemplateError(f"{source}: {name}: constraints.spatial: expected factors / permutation / split")
    raw = rule.get("factors") or []
    if not isinstance(raw, (str, list)):
        raise TemplateError(f"{source}: {name}: constraints.spatial.factors: expected a list of <dim>=<int>")
    items = re.split(r"[\s,]+", raw.strip()) if isinstance(raw, str) else list(raw)  # 'C=1 M=1' or 'C=1,M=1'
    for item in items:
        dim, _, value = str(item).partition("=")
        if dim not in DIMS or not value.isdigit():
            raise TemplateError(f"{source}: {name}: constraints.spatial.factors: {item!r}; expected <dim>=<int> with "
                                f"dim one of {list(DIMS)}")
        factors[DIMS[dim]] = int(value)
    permutation = rule.get("permutation")
    if isinstance(permutation, str):
        permutation = list(permutation)
    if permutation is not None and not isinstance(permutation, list):
        raise TemplateError(f"{source}: {name}: constraints.spatial.permutation: expected a list of dimensions")
    split = rule.get("split")
    if split is not None and (isinstance(split, bool) or not isinstance(split, int) or split < 0):
        raise TemplateError(f"{source}: {name}: constraints.spatial.split: {split!r}; expected a whole number >= 0")
    for dim in permutation or []:
        if not isinstance(dim, str) or dim not in DIMS:
            raise TemplateError(f"{source}: {name}: constraints.spatial.permutation: unknown dimension {dim!r}; "
                                f"expected one of {list(DIMS)}")
    return {"factors": factors, "permutation": [DIMS[d] for d in permutation] if permutation else None,
            "split": rule.get("split")}


def _unrollings(axes: list[str], rule: dict, *, source: str, target: str) -> list[dict]:
    """Timeloop's rule as per-axis unrollings: the permutation's first ``split`` dims on X, the rest on Y (a
    one-axis fanout takes them all); dims with factor 1 may not spread; factors > 1 are fixed."""
    if not axes:
        return []
    allowed = [d for d in (rule["permutation"] or LOOP_DIMS) if rule["factors"].get(d) != 1]
    if len(axes) == 1:
        parts = {axes[0]: allowed}
    else:
        order = rule["permutation"] or list(LOOP_DIMS)
        split = len(order) if rule["split"] is None else int(rule["split"])
        parts = {"X": [d for d in order[:split] if d in allowed], "Y": [d for d in order[split:] if d in allowed]}
    out = []
    for axis, dims in parts.items():
        if not dims:
            continue
        fixed = {d: f for d, f in rule["factors"].items() if f > 1 and d in dims}
        out.append({"axis": axis, "dims": tuple(dims), "factors": fixed})
    return out


# ------------------------------------------------------------------------------------------------------------
# Writer
# ------------------------------------------------------------------------------------------------------------

_OPERAND_DATASPACE = {v: k for k, v in DATASPACES.items()}
_DIM_NAMES = {v: k for k, v in DIMS.items()}


def timeloop_documents(h: Hierarchy) -> tuple[dict, dict, dict]:
    """The flattened architecture, ERT and constraints documents of a Hierarchy (2-axis arrays only)."""
    if len(h.array_axes) != 2:
        raise TemplateError(f"{h.name}: array_axes: {list(h.array_axes)}; Timeloop meshes have two axes (X, Y)")
    local, tables, targets = [], [], []
    for i, level in enumerate(h.levels):
        if level.capacity_bytes_per_operand is not None:
            raise TemplateError(f"{h.name}: {level.name}: capacity_bytes_per_operand has no Timeloop form; "
                                "expected one level per operand")
        full = f"system_top_level.{level.name}[1..{level.instances}]"
        attrs: dict[str, Any] = {"width": level.access_width_bits, "datawidth": level.word_bits}
        if level.capacity_bytes is not None:
            depth = level.capacity_bytes * 8 / level.access_width_bits
            if depth != int(depth):
                raise TemplateError(f"{h.name}: {level.name}: capacity_bytes: {level.capacity_bytes:g} bytes is not "
                                    f"a whole number of {level.access_width_bits}-bit rows (Timeloop's depth)")
            attrs["depth"] = int(depth)
        for key, value in (("read_bandwidth", level.read_bandwidth_bytes_per_cycle),
                           ("write_bandwidth", level.write_bandwidth_bytes_per_cycle)):
            if value is not None:
                attrs[key] = value * 8 / level.word_bits
        attrs.update(multiple_buffering=level.multiple_buffering, meshX=level.mesh[0], meshY=level.mesh[1])
        local.append({"name": full, "class": "DRAM" if level.capacity_bytes is None and i == 0 else "storage",
                      "attributes": attrs, "required_actions": list(STORAGE_ACTIONS), "enabled": True})
        e = level.energy
        tables.append({"name": full, "actions": [
            {"name": "read", "energy": e.read_pj}, {"name": "write", "energy": e.write_pj},
            {"name": "update", "energy": e.update_pj}, {"name": "leak", "energy": e.leakage_pj_per_cycle}]})
        if level.keeps or level.bypasses:
            targets.append({"target": level.name, "type": "dataspace",
                            "keep": [_OPERAND_DATASPACE[o] for o in level.keeps],
                            "bypass": [_OPERAND_DATASPACE[o] for o in level.bypasses]})
    c = h.compute
    full = f"system_top_level.{c.name}[1..{c.instances}]"
    attrs = {"meshX": c.mesh[0], "meshY": c.mesh[1]}
    if c.mac_width_bits is not None:
        attrs["multiplier_width"] = c.mac_width_bits
    local.append({"name": full, "class": "intmac", "attributes": attrs, "required_actions": ["compute"],
                  "enabled": True})
    tables.append({"name": full, "actions": [{"name": "compute", "energy": c.mac_energy_pj},
                                             {"name": "leak", "energy": c.leakage_pj_per_cycle}]})
    targets += _spatial_targets(h)
    return ({"architecture": {"version": "0.4", "local": local}}, {"ERT": {"version": "0.4", "tables": tables}},
            {"constraints": {"version": "0.4", "targets": targets}})


def _spatial_targets(h: Hierarchy) -> list[dict]:
    """One spatial target per fanout level: X dims first, then Y dims, split between them."""
    by_level: dict[str, dict[str, SpatialDims]] = {}
    for unrolling in h.spatial:
        # a dataflow-fixed unrolling without factors (a systolic array's) is written as a constraint that lets
        # only its dims spread on the axis: Timeloop cannot force a dim to fill an axis without a factor
        index = h.array_axes.index(unrolling.axis)
        level = next((lv for lv in h.levels if _fanout(h, lv.name)[index] > 1), None)
        if level is None:
            raise TemplateError(f"{h.name}: spatial[{unrolling.axis}]: no level fans out along {unrolling.axis}")
        by_level.setdefault(level.name, {})[unrolling.axis] = SpatialDims(unrolling.dims, unrolling.factors)
    targets = []
    for name, per_axis in by_level.items():
        fanout = _fanout(h, name)
        x, y = (per_axis.get(axis) for axis in h.array_axes)  # Timeloop's X and Y, whatever the axes are named
        dims_x = list(x.dims) if x else []
        dims_y = list(y.dims) if y else []
        used = set(dims_x) | set(dims_y)
        factors = [f"{_DIM_NAMES[d]}=1" for d in LOOP_DIMS if d in _DIM_NAMES and d not in used]
        for part in (x, y):
            factors += [f"{_DIM_NAMES[d]}={f}" for d, f in (part.factors if part else {}).items()]
        permutation = [_DIM_NAMES[d] for d in (*dims_x, *dims_y)]
        split = len(dims_x) if fanout[0] > 1 and fanout[1] > 1 else (len(permutation) if fanout[0] > 1 else 0)
        targets.append({"target": name, "type": "spatial", "factors": factors, "permutation": permutation,
                        "split": split})
    return targets


def _fanout(h: Hierarchy, name: str) -> tuple[int, ...]:
    """Timeloop's fanout: the mesh of the next component in the list over this one's, per axis."""
    meshes = [lv.mesh for lv in h.levels] + [h.compute.mesh]
    index = [lv.name for lv in h.levels].index(name)
    return tuple(b // a for a, b in zip(meshes[index], meshes[index + 1], strict=True))


class SpatialDims:
    def __init__(self, dims: tuple[str, ...], factors: dict[str, int]) -> None:
        self.dims, self.factors = dims, factors


def write_timeloop(h: Hierarchy, out_dir: str | Path, *, stem: str | None = None) -> tuple[Path, Path, Path]:
    """Write ``<stem>.flattened_architecture.yaml``, ``<stem>.ERT.yaml`` and ``<stem>.constraints.yaml``."""
    out = Path(out_dir)
    stem = stem or h.name
    paths = (out / f"{stem}.flattened_architecture.yaml", out / f"{stem}.ERT.yaml", out / f"{stem}.constraints.yaml")
    for path, document in zip(paths, timeloop_documents(h), strict=True):
        atomic_write_text(path, yaml.safe_dump(document, sort_keys=False))
    return paths
