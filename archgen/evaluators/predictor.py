"""Evaluation by a fitted predictor: its mean (and std) instead of training."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.evaluators.base import EvalResult, Evaluator

if TYPE_CHECKING:  # importing the predictors imports torch: a worker evaluating a table needs neither
    from archgen.predictors.base import Predictor


class PredictorEvaluator(Evaluator):
    """A fitted predictor's predicted mean (the value) and std.

    Args:
        predictor: A fitted predictor (or a label-free one).
        space: The space it predicts for (default: the one it was fitted on).
        objective: Name of the predicted value (e.g. ``"val_acc"``).
        cost: Charged per architecture (default 0: predictions are cheap).
        source: Provenance written into each result (e.g. the model's store id).
        maximize: Whether larger is better.
    """

    name: ClassVar[str] = "predictor"

    def __init__(
        self,
        predictor: Predictor,
        space: str | None = None,
        *,
        objective: str = "predicted",
        cost: float = 0.0,
        source: str | None = None,
        maximize: bool = True,
    ) -> None:
        super().__init__()
        fitted_space = getattr(predictor, "space_", None)
        if space is None and fitted_space is None:
            raise ValueError("give the space of a predictor that has not been fitted")
        if not np.isfinite(cost) or cost < 0:
            raise ValueError(f"cost must be finite and >= 0, got {cost}")
        self.predictor = predictor
        self.space = space or fitted_space  # type: ignore[assignment]
        self.objective = objective
        self.cost = float(cost)
        self.source = f"predictor:{source or predictor.name}"
        self.maximize = maximize

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        mean, std = self.predictor.predict_with_uncertainty(archs, validated=True)
        has_std = self.predictor.capabilities.has_uncertainty
        return [
            EvalResult(a, float(m), {self.objective: float(m)}, self.cost, self.source, float(s) if has_std else None)
            for a, m, s in zip(archs, mean.tolist(), std.tolist(), strict=True)
        ]
