"""Accuracy predictors: learned regressors, zero-cost proxies and their ensembles.

Importing this package registers the built-in predictors. Heavy dependencies
(LightGBM, BoTorch, PyTorch Geometric) are imported when a predictor is fitted,
not here.
"""

from archgen.predictors import ensemble as _ensemble  # noqa: F401  (registers)
from archgen.predictors import gnn as _gnn  # noqa: F401  (registers)
from archgen.predictors import gp as _gp  # noqa: F401  (registers)
from archgen.predictors import lgbm as _lgbm  # noqa: F401  (registers)
from archgen.predictors import parzc as _parzc  # noqa: F401  (registers)
from archgen.predictors import supernet as _supernet  # noqa: F401  (registers)
from archgen.predictors import zc_ensemble as _zc_ensemble  # noqa: F401  (registers)
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
