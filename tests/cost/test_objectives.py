"""The mapper objective registry: the vocabulary's names, the scores both mappers choose by."""

from __future__ import annotations

import numpy as np
import pytest

from hwmap.cost import objectives
from hwmap.errors import HwmapError
from hwmap.vocabulary import MAPPER_OBJECTIVES


def test_registry_is_the_vocabulary():
    assert objectives.registered_objectives() == MAPPER_OBJECTIVES


def test_scores():
    energy, cycles = np.array([5.0, 3.0, 4.0]), np.array([10.0, 20.0, 10.0])
    assert np.argmin(objectives.choice_scores("energy", energy, cycles)) == 1
    assert np.argmin(objectives.choice_scores("latency", energy, cycles)) == 2  # fewest cycles, then least energy
    assert np.argmin(objectives.choice_scores("edp", energy, cycles)) == 2  # 40 < 50 < 60
    assert objectives.objective_value("latency", 5.0, 10.0) == 10.0
    assert objectives.objective_value("edp", 5.0, 10.0) == 50.0


def test_unknown_and_duplicate():
    with pytest.raises(HwmapError, match="objective must be one of energy, latency, edp, got 'power'"):
        objectives.check_objective("power")
    with pytest.raises(HwmapError, match="already registered"):
        objectives.register_objective("energy", lambda e, c: e, "again")


def test_a_registered_objective_reaches_the_single_level_mapper(monkeypatch):
    from hwmap.cost.mapping import LoopNest, MapTarget, clear_mapper_caches, map_layer

    seen = []

    def score(energy_pj, cycles):
        seen.append(len(energy_pj))
        return energy_pj

    monkeypatch.setitem(objectives._OBJECTIVES, "spy", objectives.Objective("spy", score, lambda e, c: e, "spy"))
    clear_mapper_caches()
    target = MapTarget(1, 1, 4, 1, 64, 64, 256, False, 100.0, 1, 1, 1, 1, 8.0, 0.0)
    nest = LoopNest(n=1, k=16, c=16, p=16, q=1)
    spied = map_layer(nest, target, compute_cycles=100, objective="spy")
    assert seen and seen[0] >= 1
    assert spied.dram_bytes == map_layer(nest, target, compute_cycles=100, objective="energy").dram_bytes
