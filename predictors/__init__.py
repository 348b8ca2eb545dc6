"""Accuracy predictors: learned regressors, zero-cost proxies and their ensembles.

The built-in predictors are registered by :mod:`archgen.composition`. Heavy dependencies
(LightGBM, BoTorch, PyTorch Geometric) are imported when a predictor is fitted,
not here.
"""

from archgen.predictors.base import (
    Capabilities,
    Predictor,
    PredictorState,
    get_predictor,
    list_predictors,
    predictor_class,
    register_predictor,
)

__all__ = [
    "Capabilities",
    "Predictor",
    "PredictorState",
    "get_predictor",
    "list_predictors",
    "predictor_class",
    "register_predictor",
]
