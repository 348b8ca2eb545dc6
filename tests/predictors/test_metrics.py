"""Ranking and uncertainty metrics against hand-computed values and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from archgen.errors import PredictorInputError
from archgen.predictors.metrics import (
    coverage,
    coverage_scale,
    gaussian_nll,
    kendall_tau,
    ndcg,
    pearson,
    spearman,
    top_k_precision,
)


def test_rank_correlations_of_monotone_and_reversed() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    for f in (kendall_tau, spearman):
        assert f(y, y**3) == pytest.approx(1.0)
        assert f(y, -y) == pytest.approx(-1.0)
    assert pearson(y, 2 * y + 1) == pytest.approx(1.0)
    # one discordant pair out of 10: tau = (9 - 1) / 10
    assert kendall_tau(y, np.array([1.0, 2.0, 3.0, 5.0, 4.0])) == pytest.approx(0.8)


def test_top_k_precision_counts_the_true_top() -> None:
    y = np.arange(100.0)
    assert top_k_precision(y, y, 0.05) == 1.0
    pred = y.copy()
    pred[[99, 0]] = pred[[0, 99]]  # the best is predicted worst
    assert top_k_precision(y, pred, 0.05) == pytest.approx(4 / 5)
    with pytest.raises(PredictorInputError):
        top_k_precision(y, y, 0.0)


def test_ndcg_is_one_for_a_perfect_ranking_and_lower_otherwise() -> None:
    y = np.array([3.0, 1.0, 2.0, 0.5])
    assert ndcg(y, y) == pytest.approx(1.0)
    assert ndcg(y, -y) < ndcg(y, y)


def test_gaussian_nll_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    y, m, s = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.5, 2, 50)
    assert gaussian_nll(y, m, s) == pytest.approx(-stats.norm.logpdf(y, m, s).mean())


def test_coverage_of_a_calibrated_gaussian() -> None:
    rng = np.random.default_rng(1)
    m = rng.normal(size=20000)
    s = rng.uniform(0.5, 2.0, 20000)
    y = m + s * rng.normal(size=20000)
    assert coverage(y, m, s) == pytest.approx(0.683, abs=0.01)
    assert coverage(y, m, s, 2.0) == pytest.approx(0.954, abs=0.01)
    # std twice too small: the scale that restores 68.3% is about 2
    assert coverage_scale(y, m, s / 2) == pytest.approx(2.0, rel=0.05)


def test_metrics_reject_mismatched_or_nan_input() -> None:
    with pytest.raises(PredictorInputError):
        kendall_tau(np.ones(3), np.ones(4))
    with pytest.raises(PredictorInputError):
        spearman(np.array([1.0, np.nan, 2.0]), np.ones(3))
