"""The multi-level mapper (issue 17): loop problems, the neutral mapping, its evaluation and the search."""

from hwmap.cost.multilevel.evaluate import LevelResult, OperandAccess, evaluate_mapping
from hwmap.cost.multilevel.nest import MappingError, NestMapping
from hwmap.cost.multilevel.problem import LoopProblem, problem_of

__all__ = ["LevelResult", "LoopProblem", "MappingError", "NestMapping", "OperandAccess", "evaluate_mapping",
           "problem_of"]
