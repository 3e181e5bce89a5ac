"""What a mapper minimises, as registered score functions (issue 17): the single-level mapper
(:mod:`hwmap.cost.mapping`) and the multi-level one (:mod:`hwmap.cost.multilevel.search`) both choose through here.

A score function gets the energies (pJ) and cycles of every candidate a mapper compares (numpy arrays of one
shape) and returns one score per candidate; the least wins. Scores may depend on the whole set: ``latency``
scores every candidate within a relative 1e-12 of the fewest cycles by its energy (ties broken by energy) and the
rest as inf. ``value`` is the objective's number for one mapping (what a report prints).
The registered names must equal :data:`hwmap.vocabulary.MAPPER_OBJECTIVES` (the CLI's and the settings' choices;
tests/cost/test_objectives.py checks): register a new objective here and add its name there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hwmap.errors import HwmapError

__all__ = ["Objective", "check_objective", "choice_key", "choice_scores", "objective_value", "register_objective",
           "registered_objectives"]


@dataclass(frozen=True)
class Objective:
    name: str
    score: Callable[[np.ndarray, np.ndarray], np.ndarray]
    value: Callable[[float, float], float]
    description: str


_OBJECTIVES: dict[str, Objective] = {}


def register_objective(name: str, score: Callable, description: str, *, value: Callable | None = None,
                       replace: bool = False) -> None:
    """Register a mapper objective; value defaults to the score of a one-candidate set."""
    if name in _OBJECTIVES and not replace:
        raise HwmapError(f"mapper objective {name!r} is already registered")
    if value is None:
        def value(energy_pj: float, cycles: float) -> float:
            return float(score(np.array([energy_pj]), np.array([cycles]))[0])
    _OBJECTIVES[name] = Objective(name, score, value, description)


def registered_objectives() -> tuple[str, ...]:
    return tuple(_OBJECTIVES)


def check_objective(name: str) -> Objective:
    """The registered objective ``name``, or one HwmapError line listing the choices."""
    found = _OBJECTIVES.get(name)
    if found is None:
        raise HwmapError(f"objective must be one of {', '.join(_OBJECTIVES)}, got {name!r}")
    return found


def choice_scores(name: str, energy_pj: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    return check_objective(name).score(energy_pj, cycles)


def objective_value(name: str, energy_pj: float, cycles: float) -> float:
    return check_objective(name).value(energy_pj, cycles)


def choice_key(name: str, energy_pj: float, cycles: float) -> tuple[float, float, float]:
    """How two candidates met one at a time compare (least first): the objective's value, then energy, then cycles.
    choice_scores ranks the states of one array (its latency score is the energy of the states with the fewest
    cycles), so on a single candidate it would rank latency by energy."""
    return objective_value(name, energy_pj, cycles), energy_pj, cycles


def _latency(energy_pj: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    return np.where(cycles <= cycles.min() * (1 + 1e-12), energy_pj, np.inf)


register_objective("energy", lambda energy_pj, cycles: energy_pj, "total energy (pJ)",
                   value=lambda energy_pj, cycles: energy_pj)
register_objective("latency", _latency, "cycles, ties broken by energy", value=lambda energy_pj, cycles: cycles)
register_objective("edp", lambda energy_pj, cycles: energy_pj * cycles, "energy-delay product (pJ x cycles)",
                   value=lambda energy_pj, cycles: energy_pj * cycles)
