"""The neutral mapping of one layer onto a hierarchy (issue 17, interfaces section C), checked.

A mapping lists, for every memory level of the hierarchy (DRAM first, once each), the operands it keeps and its
temporal loops (outermost first, ``(dim, factor)``), and the spatial loops: which dims spread over which array
axis below which level. It is what ``--fixed`` files are parsed into and what the mapper returns
(:class:`NestMapping`); :func:`resolve` checks it against a hierarchy and a problem and flattens it into one
loop nest, outermost first: each level's temporal loops, then the spatial loops of its fanout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwmap.errors import HwmapError
from hwmap.hardware.hierarchy import LOOP_DIMS, OPERANDS, Hierarchy

__all__ = ["Loop", "MappingError", "Nest", "NestMapping", "nested", "operand_nest", "resolve"]

Dim = Literal[LOOP_DIMS]  # type: ignore[valid-type]
Operand = Literal[OPERANDS]  # type: ignore[valid-type]


class MappingError(HwmapError):
    """A mapping that does not fit its hierarchy or layer: one line naming the level and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SpatialLoop(_Strict):
    level: str = Field(min_length=1)
    axis: str = Field(min_length=1)
    dim: Dim
    factor: int = Field(ge=1)


class LevelLoops(_Strict):
    level: str = Field(min_length=1)
    keeps: tuple[Operand, ...]
    temporal: tuple[tuple[Dim, int], ...] = ()


class NestMapping(_Strict):
    spatial: tuple[SpatialLoop, ...] = ()
    levels: tuple[LevelLoops, ...]

    @classmethod
    def parse(cls, data, *, source: str = "mapping") -> NestMapping:
        """A NestMapping from a dict (form C) or itself; a bad field is ONE MappingError line naming it."""
        if isinstance(data, NestMapping):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = _where(data, first["loc"])
            raise MappingError(f"{source}: {where}: {first['msg']}") from None

    def to_dict(self) -> dict:
        data = self.model_dump(mode="python")
        for level in data["levels"]:
            level["keeps"] = list(level["keeps"])
            level["temporal"] = [list(loop) for loop in level["temporal"]]
        return data


def _where(data, loc: tuple) -> str:
    """'levels[shared_glb].temporal[1]' from a pydantic location, naming levels by their name."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, (list, tuple)) and parts:
            node = node[key] if key < len(node) else None
            name = node.get("level") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{name if name else key}]"
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "mapping"


@dataclass(frozen=True, slots=True)
class Loop:
    level: int  # index of the memory level the loop belongs to
    dim: str
    factor: int
    axis: str | None = None  # an array axis: a spatial loop of the level's fanout

    @property
    def spatial(self) -> bool:
        return self.axis is not None


@dataclass(frozen=True)
class Nest:
    """A checked mapping as one loop nest, outermost first; keeps[i]: the operands level i keeps."""

    loops: tuple[Loop, ...]
    keeps: tuple[frozenset[str], ...]
    mapping: NestMapping

    def level_start(self, level: int) -> int:
        """Index in loops of the first loop of ``level`` (the tile a level stores is everything from there on)."""
        for i, loop in enumerate(self.loops):
            if loop.level >= level:
                return i
        return len(self.loops)

    def keepers(self, operand: str) -> tuple[int, ...]:
        return tuple(i for i, keeps in enumerate(self.keeps) if operand in keeps)


def resolve(mapping, hierarchy: Hierarchy, problem, *, source: str = "mapping") -> Nest:
    """Check ``mapping`` against the hierarchy and the layer and flatten it (see the module docstring)."""
    m = NestMapping.parse(mapping, source=source)
    names = [level.name for level in hierarchy.levels]

    def fail(where: str, field: str, message: str) -> None:
        raise MappingError(f"{source}: {where}: {field}: {message}")

    given = [level.level for level in m.levels]
    if given != names:
        fail("levels", "level", f"{given} must list the hierarchy's memory levels {names} in order, once each")
    keeps = []
    for spec, level in zip(m.levels, hierarchy.levels, strict=True):
        kept = frozenset(spec.keeps)
        if len(kept) != len(spec.keeps):
            fail(f"levels[{level.name}]", "keeps", f"{list(spec.keeps)} repeats an operand")
        if not kept:
            fail(f"levels[{level.name}]", "keeps", "the level keeps no operand")
        for op in kept - set(level.may_keep):
            fail(f"levels[{level.name}]", "keeps", f"{op!r} bypasses this level in the template")
        for op in set(level.keeps) - kept:
            fail(f"levels[{level.name}]", "keeps", f"{op!r} is kept by this level in the template")
        for dim, factor in spec.temporal:
            if factor < 1:
                fail(f"levels[{level.name}]", "temporal", f"factor {factor} of {dim}; expected >= 1")
        keeps.append(kept)
    if keeps[0] != frozenset(OPERANDS):
        fail(f"levels[{names[0]}]", "keeps", f"the outermost level must keep every operand {list(OPERANDS)}")
    _check_spatial(m, hierarchy, fail)
    nest = flatten(m)
    for dim in LOOP_DIMS:
        covered = math.prod(loop.factor for loop in nest.loops if loop.dim == dim)
        if covered < problem.size(dim):
            fail("levels", dim, f"the factors multiply to {covered}, less than the layer's {problem.size(dim)}")
    return nest


def flatten(m: NestMapping) -> Nest:
    """``m`` as one loop nest, unchecked: resolve's last step, for a mapping valid by construction (the
    multi-level search's finalists)."""
    loops: list[Loop] = []
    for index, spec in enumerate(m.levels):
        loops += [Loop(index, dim, factor) for dim, factor in spec.temporal]
        loops += [Loop(index, s.dim, s.factor, s.axis) for s in m.spatial if s.level == spec.level]
    return Nest(tuple(loops), tuple(frozenset(spec.keeps) for spec in m.levels), m)


def _check_spatial(m: NestMapping, h: Hierarchy, fail) -> None:
    names = [level.name for level in h.levels]
    allowed: dict[str, set[str]] = {}
    fixed: dict[tuple[str, str], int] = {}
    for unrolling in h.spatial:
        allowed.setdefault(unrolling.axis, set()).update(unrolling.dims, unrolling.factors)
        fixed.update({(unrolling.axis, d): f for d, f in unrolling.factors.items()})
    product: dict[tuple[str, str], int] = {}
    for s in m.spatial:
        where = f"spatial[{s.level}.{s.axis}.{s.dim}]"
        if s.level not in names:
            fail(where, "level", f"unknown level {s.level!r}; expected one of {names}")
        if s.axis not in h.array_axes:
            fail(where, "axis", f"unknown axis {s.axis!r}; expected one of {list(h.array_axes)}")
        if s.axis in allowed and s.dim not in allowed[s.axis]:
            fail(where, "dim", f"the template unrolls only {sorted(allowed[s.axis])} on axis {s.axis}")
        if (s.axis, s.dim) in fixed and s.factor != fixed[(s.axis, s.dim)]:
            fail(where, "factor", f"{s.factor}; the template fixes {fixed[(s.axis, s.dim)]}")
        product[(s.level, s.axis)] = product.get((s.level, s.axis), 1) * s.factor
    if not nested(h):  # per-operand fanouts: a spatial loop's level is each operand's own (operand_nest)
        for axis in h.array_axes:
            total = math.prod(f for (_, a), f in product.items() if a == axis)
            size = h.compute.mesh[h.array_axes.index(axis)]
            if total > size:
                fail(f"spatial[{axis}]", "factor", f"unrolls {total} over an axis of {size}")
        return
    for (level, axis), total in product.items():
        a = h.array_axes.index(axis)
        fanout = fanout_of(h, names.index(level))[a]
        if total > fanout:
            where = [n for i, n in enumerate(names) if fanout_of(h, i)[a] > 1]
            hint = f" (levels fanning out along {axis}: {', '.join(where)})" if where else ""
            fail(f"spatial[{level}.{axis}]", "factor", f"unrolls {total} over a fanout of {fanout}{hint}")


def nested(h: Hierarchy) -> bool:
    """Whether every level's instances divide the next level's (and the MACs') along every axis: then a spatial
    loop sits below the level the mapping names, for every operand."""
    chain = [*h.levels, h.compute]
    return all(b % a == 0 for upper, lower in zip(chain, chain[1:], strict=False)
               for a, b in zip(upper.mesh, lower.mesh, strict=True))


def operand_nest(nest: Nest, h: Hierarchy, op: str) -> Nest:
    """The nest as operand ``op`` sees it. In a nested hierarchy, the nest itself. Otherwise (operands fanning out
    at different levels, as ZigZag's edge_tpu_like), each spatial loop moves below the keeper of op after which
    op's instances multiply along the loop's axis (below op's innermost keeper when they never do): the spatial
    loops a level's tile holds are those along the axes its one instance spans."""
    if nested(h):
        return nest
    return unnested_operand_nest(nest, h, op)


def unnested_operand_nest(nest: Nest, h: Hierarchy, op: str) -> Nest:
    """operand_nest for a hierarchy known not to be nested (callers that checked nested(h) once)."""
    keepers = nest.keepers(op)
    meshes = [h.levels[k].mesh for k in keepers] + [h.compute.mesh]
    level_of: dict[str, int] = {}  # axis -> the keeper its spatial loops move to
    loops = []
    for loop in nest.loops:
        if loop.axis is not None:
            if loop.axis not in level_of:
                a = h.array_axes.index(loop.axis)
                j = next((j for j in range(len(keepers)) if meshes[j + 1][a] > meshes[j][a]), len(keepers) - 1)
                level_of[loop.axis] = keepers[j]
            loop = Loop(level_of[loop.axis], loop.dim, loop.factor, loop.axis)
        loops.append(loop)
    loops.sort(key=lambda lp: (lp.level, lp.spatial))  # stable: temporal loops keep their order
    return Nest(tuple(loops), nest.keeps, nest.mapping)


def fanout_of(h: Hierarchy, index: int) -> tuple[int, ...]:
    """Instances of the next level (or of the MACs, below the last level) per instance of level ``index``."""
    below = h.levels[index + 1].mesh if index + 1 < len(h.levels) else h.compute.mesh
    return tuple(b // a for a, b in zip(h.levels[index].mesh, below, strict=True))
