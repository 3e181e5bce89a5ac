"""The multi-level mapper (issue 17): loop problems, the neutral mapping, its evaluation and the search."""

from hwmap.cost.multilevel.evaluate import LevelResult, OperandAccess, evaluate_mapping
from hwmap.cost.multilevel.nest import MappingError, NestMapping
from hwmap.cost.multilevel.problem import LoopProblem, problem_of
from hwmap.cost.multilevel.search import MappedProblem, lower_bound, map_problem

__all__ = ["LevelResult", "LoopProblem", "MappedProblem", "MappingError", "NestMapping", "OperandAccess",
           "evaluate_mapping", "lower_bound", "map_problem", "problem_of"]
