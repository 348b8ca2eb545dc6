"""PredictorModel: an archgen predictor's mean and std as a BoTorch posterior; BO on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.errors import UnknownNameError
from archgen.predictors.base import get_predictor
from archgen.search import SearchInputError, get_strategy, run_search
from archgen.search.surrogates import PredictorModel
from tests.search.test_loop import CANDIDATES, SPACE, ToyEvaluator


def test_posterior_is_the_predictors_mean_and_std() -> None:
    y = np.array([r.value for r in ToyEvaluator()._evaluate(CANDIDATES)])
    pred = get_predictor("lgbm", zc="none", n_estimators=50).fit(CANDIDATES[:40], y[:40])
    X = torch.as_tensor(SPACE.encode(CANDIDATES), dtype=torch.float64)
    model = PredictorModel(pred, CANDIDATES, X)
    mean, std = pred.predict_with_uncertainty(CANDIDATES[40:46])
    post = model.posterior(X[40:46].reshape(2, 3, -1))  # batch 2 x q 3
    assert post.mean.shape == (2, 3, 1) and post.variance.shape == (2, 3, 1)
    assert torch.allclose(post.mean.reshape(-1), torch.as_tensor(mean), atol=1e-9)
    assert torch.allclose(post.variance.reshape(-1).sqrt(), torch.as_tensor(np.maximum(std, 1e-6)), atol=1e-9)
    draws = post.rsample(torch.Size([64]))
    assert draws.shape == (64, 2, 3, 1) and torch.isfinite(draws).all()
    with pytest.raises(ValueError, match="not one of its architectures"):
        model.posterior(torch.full((1, X.shape[1]), 7.0, dtype=torch.float64))


@pytest.mark.parametrize("acquisition", ["qlognei", "ts"])
def test_bo_on_a_predictor_surrogate_finds_the_toy_optimum(acquisition: str) -> None:
    strat = get_strategy("bo", surrogate="lgbm", surrogate_params={"n_estimators": 50}, acquisition=acquisition,
                         n_init=8, pool_size=64)  # fmt: skip
    h = run_search(SPACE, strat, ToyEvaluator(), budget=40, batch_size=4, seed=3, candidates=CANDIDATES)
    assert h.best().value == 7 and len({e.architecture for e in h.evaluations}) == 40


def test_a_surrogate_without_uncertainty_is_refused() -> None:
    with pytest.raises(UnknownNameError, match="surrogate with uncertainty"):
        get_strategy("bo", surrogate="zc_vote")
    with pytest.raises(SearchInputError, match="n_init"):
        get_strategy("bo", surrogate="stack", n_init=10)
