"""Evaluators: the oracles a search spends its budget on.

The built-in evaluators (registered by :mod:`archgen.composition`): ``table`` (a
benchmark table's published value at a fidelity, with a simulated cost) and
``predictor`` (a fitted predictor's mean and std) and ``supernet`` (a path of a
trained weight-sharing supernet, :mod:`archgen.supernets`) and ``training`` (trained
from scratch, :mod:`archgen.training`).
"""

from archgen.evaluators.base import (
    EvalResult,
    Evaluator,
    evaluator_class,
    list_evaluators,
    register_evaluator,
)
from archgen.evaluators.predictor import PredictorEvaluator
from archgen.evaluators.supernet import SupernetEvaluator
from archgen.evaluators.table import BenchmarkEvaluator
from archgen.evaluators.training import TrainingEvaluator

__all__ = [
    "BenchmarkEvaluator",
    "EvalResult",
    "Evaluator",
    "PredictorEvaluator",
    "SupernetEvaluator",
    "TrainingEvaluator",
    "evaluator_class",
    "list_evaluators",
    "register_evaluator",
]
