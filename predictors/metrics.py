"""Ranking, regression and uncertainty metrics for predictors.

All take ``y_true`` and ``y_pred`` of shape ``(n,)``; NaN pairs are an error,
not silently dropped.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from archgen.errors import PredictorInputError


def _check(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise PredictorInputError(f"{name}: y_true has {t.size} values, y_pred {p.size}")
    if t.size < 2:
        raise PredictorInputError(f"{name} needs at least 2 values, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise PredictorInputError(f"{name}: inputs contain NaN or infinite values")
    return t, p


def kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall's tau-b (ties accounted for); NaN-free inputs of shape ``(n,)``."""
    t, p = _check(y_true, y_pred, "kendall_tau")
    return float(stats.kendalltau(t, p).statistic)


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Spearman's rank correlation."""
    t, p = _check(y_true, y_pred, "spearman")
    return float(stats.spearmanr(t, p).statistic)


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Pearson's linear correlation."""
    t, p = _check(y_true, y_pred, "pearson")
    return float(stats.pearsonr(t, p).statistic)


def top_k_precision(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.05) -> float:
    """Share of the predicted top ``fraction`` that is in the true top ``fraction``.

    Both sets have ``k = max(1, round(fraction * n))`` members.
    """
    t, p = _check(y_true, y_pred, "top_k_precision")
    if not 0 < fraction <= 1:
        raise PredictorInputError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, round(fraction * t.size))
    true_top = set(np.argsort(-t, kind="stable")[:k].tolist())
    pred_top = np.argsort(-p, kind="stable")[:k]
    return float(sum(int(i) in true_top for i in pred_top) / k)


def ndcg(y_true: np.ndarray, y_pred: np.ndarray, k: int | None = None) -> float:
    """Normalised discounted cumulative gain of the ranking by ``y_pred``.

    Gains are ``y_true`` min-max scaled to ``[0, 1]`` (so they are non-negative).

    .. math::
        \\mathrm{DCG@k} = \\sum_{i=1}^{k} \\frac{g_{\\pi(i)}}{\\log_2(i + 1)}, \\qquad
        \\mathrm{NDCG@k} = \\mathrm{DCG@k} / \\mathrm{IDCG@k}
    """
    t, p = _check(y_true, y_pred, "ndcg")
    k = t.size if k is None else min(int(k), t.size)
    if k < 1:
        raise PredictorInputError(f"k must be >= 1, got {k}")
    span = t.max() - t.min()
    gains = (t - t.min()) / span if span > 0 else np.ones_like(t)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(np.sum(gains[np.argsort(-p, kind="stable")[:k]] * discounts))
    idcg = float(np.sum(np.sort(gains)[::-1][:k] * discounts))
    return dcg / idcg if idcg > 0 else 1.0


def gaussian_nll(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray, min_std: float = 1e-6) -> float:
    """Mean negative log-likelihood of ``y_true`` under ``N(mean, std^2)``.

    .. math:: \\frac{1}{n}\\sum_i \\tfrac12\\log(2\\pi\\sigma_i^2) + \\frac{(y_i-\\mu_i)^2}{2\\sigma_i^2}
    """
    t, m = _check(y_true, mean, "gaussian_nll")
    s = np.asarray(std, dtype=np.float64).ravel()
    if s.shape != t.shape or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise PredictorInputError("gaussian_nll: std must be finite, >= 0 and the same length as y_true")
    var = np.maximum(s, min_std) ** 2
    return float(np.mean(0.5 * np.log(2 * np.pi * var) + (t - m) ** 2 / (2 * var)))


def coverage(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray, n_sigma: float = 1.0) -> float:
    """Share of ``y_true`` inside ``mean ± n_sigma * std`` (a calibrated Gaussian gives .683 at 1, .954 at 2)."""
    t, m = _check(y_true, mean, "coverage")
    s = np.asarray(std, dtype=np.float64).ravel()
    if s.shape != t.shape:
        raise PredictorInputError("coverage: std must have the same length as y_true")
    return float(np.mean(np.abs(t - m) <= n_sigma * s))


def coverage_scale(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray, target: float = 0.6827) -> float:
    """The factor ``c`` for which ``mean ± c * std`` covers ``target`` of held-out ``y_true``.

    Used to calibrate a predictor's std on data it was not fitted on
    (out-of-bag or a held-out slice): ``c`` is the ``target`` quantile of
    ``|y - mean| / std``.
    """
    t, m = _check(y_true, mean, "coverage_scale")
    s = np.maximum(np.asarray(std, dtype=np.float64).ravel(), 1e-9)
    return float(max(np.quantile(np.abs(t - m) / s, target), 1e-6))


def evaluate(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None) -> dict[str, float]:
    """All metrics at once (uncertainty metrics only when ``std`` is given and not all zero)."""
    out = {
        "kendall_tau": kendall_tau(y_true, mean),
        "spearman": spearman(y_true, mean),
        "pearson": pearson(y_true, mean),
        "top5_precision": top_k_precision(y_true, mean, 0.05),
        "ndcg": ndcg(y_true, mean),
    }
    if std is not None and np.any(np.asarray(std) > 0):
        out.update(
            nll=gaussian_nll(y_true, mean, std),
            coverage_1sigma=coverage(y_true, mean, std, 1.0),
            coverage_2sigma=coverage(y_true, mean, std, 2.0),
        )
    return out
