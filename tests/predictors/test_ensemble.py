"""The stack: convex weights, members fitted as checkpointed parts (a resumed fit restores them), mixture std."""

from __future__ import annotations

import numpy as np

from archgen.predictors import get_predictor
from archgen.predictors.base import CallbackMonitor
from archgen.predictors.ensemble import mixture


def test_weights_are_convex_and_parts_are_checkpointed(ws, split) -> None:
    tr, ytr, te, _ = split
    mon = CallbackMonitor()
    stack = get_predictor("stack", data=ws, task="cifar10", members=["lgbm", "zc_learned"]).fit(tr, ytr, monitor=mon)
    assert np.isclose(stack.weights_.sum(), 1.0) and (stack.weights_ > 0).all()  # shrunk toward equal weights
    folds = [f"fold{f}-{k}-{m}" for f in range(3) for k, m in enumerate(["lgbm", "zc_learned"])]
    finals = [f"final-{k}-{stack.members[k]}" for k in stack.used_]
    assert sorted(mon.parts) == sorted([*folds, *finals])

    # a resumed fit restores every finished part instead of fitting it
    again = get_predictor("stack", data=ws, task="cifar10", members=["lgbm", "zc_learned"])
    resumed = CallbackMonitor()
    resumed.parts = dict(mon.parts)
    from archgen.predictors.lgbm import LightGBMPredictor

    original = LightGBMPredictor._fit
    try:
        LightGBMPredictor._fit = lambda *a, **k: (_ for _ in ()).throw(AssertionError("refitted"))  # type: ignore[method-assign]
        again.fit(tr, ytr, monitor=resumed)
    finally:
        LightGBMPredictor._fit = original  # type: ignore[method-assign]
    np.testing.assert_allclose(again.predict(te), stack.predict(te))


def test_mixture_of_two_gaussians() -> None:
    mu, sd = mixture(np.array([[0.0], [2.0]]), np.array([[1.0], [1.0]]), np.array([0.5, 0.5]))
    assert mu[0] == 1.0 and np.isclose(sd[0], np.sqrt(2.0))


def test_weights_come_from_out_of_fold_predictions_on_every_cell(ws, split) -> None:
    """The weights' evidence is every training cell; with few cells they stay near equal."""
    tr, ytr, _, _ = split
    few = get_predictor("stack", data=ws, task="cifar10", members=["lgbm", "zc_learned"], prior_cells=1000).fit(tr, ytr)
    assert np.abs(few.weights_ - 0.5).max() < 0.05
    free = get_predictor("stack", data=ws, task="cifar10", members=["lgbm", "zc_learned"], prior_cells=0).fit(tr, ytr)
    assert np.isclose(free.weights_.sum(), 1.0) and np.isfinite(free.heldout_tau_)
