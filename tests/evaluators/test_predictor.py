"""The predictor evaluator: a fitted predictor's mean and std, at a fixed cost."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.evaluators import PredictorEvaluator
from archgen.predictors import get_predictor


def test_mean_std_and_cost(ws, split) -> None:
    tr, ytr, te, _ = split
    pred = get_predictor("lgbm", data=ws, task="cifar10", n_estimators=20, n_bags=3).fit(tr, ytr)
    ev = PredictorEvaluator(pred, objective="val_acc", cost=0.25, source="m1")
    res = ev.evaluate(te[:5])
    mean, std = pred.predict_with_uncertainty(te[:5])
    np.testing.assert_allclose([r.value for r in res], mean)
    np.testing.assert_allclose([r.std for r in res], std)
    assert ev.total_cost == pytest.approx(1.25) and res[0].source == "predictor:m1"


def test_an_unfitted_predictor_needs_a_space(ws) -> None:
    with pytest.raises(ValueError, match="space"):
        PredictorEvaluator(get_predictor("zc_vote", data=ws, task="cifar10", source="table"))
    ev = PredictorEvaluator(get_predictor("zc_vote", data=ws, task="cifar10", source="table"), "nb201")
    assert ev.space == "nb201" and ev.evaluate(ws.space("nb201").sample(2, np.random.default_rng(0)))[0].std is None
