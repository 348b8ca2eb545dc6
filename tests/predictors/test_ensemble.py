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
    assert np.isclose(stack.weights_.sum(), 1.0) and (stack.weights_ >= 0).all()
    finals = [f"final-{k}-{stack.members[k]}" for k in stack.used_]
    assert sorted(mon.parts) == sorted(["weights-0-lgbm", "weights-1-zc_learned", *finals])

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
