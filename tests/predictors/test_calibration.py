"""Monotone recalibration: strictly increasing (ranking kept), fixes a level that overshoots at the top."""

from __future__ import annotations

import numpy as np
import torch

from archgen.predictors.calibration import IDENTITY, apply_recalibration, fit_recalibration, map_spread, torch_interp


def test_fixes_an_overshooting_top_and_keeps_the_ranking() -> None:
    rng = np.random.default_rng(0)
    y = np.minimum(rng.normal(85, 5, 400), 91.6)  # a ceiling, as NB201's accuracies have
    pred = y + np.maximum(y - 88, 0) ** 2 + rng.normal(0, 0.3, 400)  # stretched at the top
    knots = fit_recalibration(pred[:200], y[:200])
    cal = apply_recalibration(knots, pred[200:])
    top = y[200:] >= np.quantile(y[200:], 0.95)
    assert np.abs(cal[top] - y[200:][top]).mean() < 0.5 * np.abs(pred[200:][top] - y[200:][top]).mean()
    order = np.argsort(pred[200:])
    assert (np.diff(cal[order]) > 0).all()  # strictly increasing: the ranking is unchanged


def test_identity_for_too_few_points_and_spread_carried_through() -> None:
    assert np.array_equal(fit_recalibration(np.arange(3.0), np.arange(3.0)), IDENTITY)
    p = np.array([1.0, 2.0])
    assert np.array_equal(apply_recalibration(IDENTITY, p), p)
    np.testing.assert_allclose(map_spread(IDENTITY, p, np.array([0.5, 0.5])), [0.5, 0.5])


def test_torch_interp_matches_numpy() -> None:
    x, v = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 2.5])
    t = np.array([-1.0, 0.5, 2.0, 4.0])
    np.testing.assert_allclose(
        torch_interp(torch.tensor(t), torch.tensor(x), torch.tensor(v)).numpy(), np.interp(t, x, v)
    )


def test_level_scales_widen_where_errors_are_larger_and_are_continuous() -> None:
    from archgen.predictors.calibration import level_scales, scaled_std

    rng = np.random.default_rng(1)
    pred = rng.uniform(0, 10, 2000)
    err = np.where(pred > 8, 3.0, 1.0) * rng.normal(size=2000)  # larger errors at the top
    y = pred + err
    scales = level_scales(pred, y, np.ones_like(pred), top_share=0.2)
    lo, hi, rest, top = scales
    assert top > 1.5 * rest and lo < hi
    std = scaled_std(scales, np.linspace(0, 10, 1001), np.ones(1001))
    assert np.abs(np.diff(std)).max() < 0.1  # no jump at the threshold
    top_cells = pred > 9
    assert (
        abs(np.mean(np.abs(err[top_cells]) <= scaled_std(scales, pred[top_cells], np.ones(top_cells.sum()))) - 0.68)
        < 0.1
    )
