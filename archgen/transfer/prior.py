"""A ranker for a task without a table: sources that use none of its labels, weighted by its own evaluations.

A **source** scores any cell without a label of the task: another task's
published accuracy (``transfer``), a zero-cost proxy computed on the task's
images (``zero-cost``), the task's supernet (``supernet``). Each source is
placed against a reference sample of the space (a table column: the whole
space; a computed source: the same random cells scored on the task) and read
as a normal score ``z = Phi^-1(percentile)``, so sources of any unit and scale
are comparable and an outlier moves nothing much.

:class:`SourcePrior` is Bayesian linear regression of the task's evaluations
(their normal scores among the evaluated cells) on the sources' normal scores,
with an intercept, a prior mean ``beta0`` and a fixed noise:

* ``beta0``: every group of sources the same total weight, split equally within
  the group, scaled so the combination correlates with the target at
  ``rho0`` (a prior belief, not fitted to any task);
* prior ``beta ~ N(beta0, prior_sd^2 I)``, noise variance ``1 - rho0^2``.

It is a Gaussian process with a linear kernel on the sources whose mean is
their default combination (the "GP whose inputs and mean are the sources" of
transfer NAS). With no evaluation it ranks by ``beta0``: the sources' vote. As
evaluations arrive the posterior moves weight to the sources that agree with
them, and its predictive variance is the uncertainty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from archgen.errors import PredictorInputError

#: Groups of sources, in report order.
GROUPS = ("transfer", "zero-cost", "supernet")
#: Least size of a computed source's reference sample.
MIN_REFERENCE = 8


@dataclass(frozen=True)
class Source:
    """One label-free score of cells, and what places a value among the space.

    Attributes:
        name: e.g. ``"table:cifar10/test_acc"``, ``"zc:synflow"``, ``"supernet:ID"``.
        group: One of :data:`GROUPS`.
        reference: The source's values on a reference sample of the space (finite; larger predicts better).
        uses_labels: Whether it reads other tasks' labels (a "transfer" result).
    """

    name: str
    group: str
    reference: np.ndarray
    uses_labels: bool = False

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise PredictorInputError(f"source {self.name!r}: group must be one of {', '.join(GROUPS)}")
        ref = np.sort(np.asarray(self.reference, dtype=np.float64).ravel())
        ref = ref[np.isfinite(ref)]
        if len(ref) < MIN_REFERENCE:
            raise PredictorInputError(
                f"source {self.name!r}: {len(ref)} finite reference values, need at least {MIN_REFERENCE}"
            )
        object.__setattr__(self, "reference", ref)

    def percentile(self, values: np.ndarray) -> np.ndarray:
        """Mid-rank percentile in (0, 1) of each value among the reference (ties share it); NaN stays NaN."""
        v = np.asarray(values, dtype=np.float64)
        ref = self.reference
        below = np.searchsorted(ref, v, side="left")
        upto = np.searchsorted(ref, v, side="right")
        n = len(ref)
        p = (below + upto + 1) / (2.0 * (n + 1))
        return np.where(np.isfinite(v), p, np.nan)

    def normal_scores(self, values: np.ndarray) -> np.ndarray:
        """``Phi^-1`` of :meth:`percentile`; a missing value scores 0 (the median)."""
        z = ndtri(self.percentile(values))
        return np.where(np.isfinite(z), z, 0.0)


def normal_scores(y: np.ndarray) -> np.ndarray:
    """Blom normal scores of ``y`` among themselves (ties share the mean rank)."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    return ndtri((rankdata(y) - 0.375) / (n + 0.25))


class SourcePrior:
    """Bayesian linear regression of a task's evaluations on label-free sources (see the module docstring).

    Args:
        sources: The sources, in feature order (names unique).
        rho0: Prior correlation of the sources' default combination with the target (in (0, 1)).
        prior_sd: Prior standard deviation of each source's weight around its default.

    ``fit(values, y)`` learns from evaluations (``values``: each source's values on the evaluated cells;
    ``y``: what the evaluations measured, larger better); ``predict(values)`` gives the posterior mean and std
    of each cell's normal score. Before any ``fit`` (or after ``fit`` with no evaluation) it is the prior.
    """

    def __init__(self, sources: Sequence[Source], *, rho0: float = 0.6, prior_sd: float = 0.3) -> None:
        names = [s.name for s in sources]
        if not sources:
            raise PredictorInputError("a prior needs at least one source")
        if len(set(names)) != len(names):
            raise PredictorInputError(f"source names repeat: {', '.join(names)}")
        if not 0 < rho0 < 1 or not prior_sd > 0:
            raise PredictorInputError(f"rho0 must be in (0, 1) and prior_sd > 0, got {rho0!r} and {prior_sd!r}")
        self.sources = list(sources)
        self.rho0, self.prior_sd = float(rho0), float(prior_sd)
        self.noise_var = 1.0 - self.rho0**2
        self.beta0_ = self._default_weights()
        self._posterior(np.empty((0, len(self.sources))), np.empty(0))

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    def _default_weights(self) -> np.ndarray:
        """Each group present the same total weight, split equally within it; scaled so the combination of the
        references' normal scores (taken as independent across groups, equal within) has variance ``rho0^2``."""
        groups = [s.group for s in self.sources]
        present = [g for g in GROUPS if g in groups]
        w = np.array([1.0 / (len(present) * groups.count(g)) for g in groups])
        # within a group the sources are close to one source (tau .84-.88 between NB201's tables): the variance
        # of the combination is about the sum over groups of (the group's weight)^2 = 1 / len(present)
        return w * self.rho0 * np.sqrt(len(present))

    def features(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """``[n, len(sources)]`` normal scores of each source's values (missing sources are refused)."""
        missing = [s.name for s in self.sources if s.name not in values]
        if missing:
            raise PredictorInputError(f"values missing for sources: {', '.join(missing)}")
        cols = [s.normal_scores(np.asarray(values[s.name], dtype=np.float64).ravel()) for s in self.sources]
        lengths = {len(c) for c in cols}
        if len(lengths) != 1:
            raise PredictorInputError(f"sources give different numbers of values: {sorted(lengths)}")
        return np.stack(cols, axis=1)

    def _posterior(self, Z: np.ndarray, t: np.ndarray, w: np.ndarray | None = None) -> None:
        k = len(self.sources)
        X = np.hstack([np.ones((len(Z), 1)), Z])
        w = np.ones(len(t)) if w is None else w
        mean0 = np.concatenate([[0.0], self.beta0_])
        prec0 = np.diag(np.concatenate([[1.0], np.full(k, 1.0 / self.prior_sd**2)]))  # intercept ~ N(0, 1)
        prec = prec0 + (X * w[:, None]).T @ X / self.noise_var
        cov = np.linalg.inv(prec)
        self.coef_ = cov @ (prec0 @ mean0 + (X * w[:, None]).T @ t / self.noise_var)
        self.cov_ = (cov + cov.T) / 2
        self.n_evaluations_ = len(t)

    def fit(self, values: Mapping[str, np.ndarray], y: np.ndarray, rungs: np.ndarray | None = None,
            weights: np.ndarray | None = None) -> SourcePrior:  # fmt: skip
        """Learn from the evaluations ``y`` of the cells ``values`` describes (returns ``self``); non-finite
        evaluations are refused.

        ``rungs``: each evaluation's fidelity (any labels): values are ranked among those of the same rung only
        (a 2-epoch accuracy is never compared with a 20-epoch one; a cell evaluated at several rungs counts at
        each); ``weights``: each evaluation's weight in (0, 1] (its noise variance is divided by it: a cheap
        fidelity's evaluations say less about the target)."""
        y = np.asarray(y, dtype=np.float64).ravel()
        if not np.isfinite(y).all():
            raise PredictorInputError("evaluations must be finite")
        Z = self.features(values)
        if len(Z) != len(y):
            raise PredictorInputError(f"{len(Z)} cells' source values for {len(y)} evaluations")
        groups = np.zeros(len(y), dtype=np.int64) if rungs is None else np.asarray(rungs).ravel()
        w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        if len(groups) != len(y) or len(w) != len(y) or not ((w > 0) & (w <= 1)).all():
            raise PredictorInputError("rungs and weights need one value per evaluation, weights in (0, 1]")
        t = np.zeros(len(y))
        for g in np.unique(groups):
            at = groups == g
            if at.sum() > 1:
                t[at] = normal_scores(y[at])
        self._posterior(Z, t, w)
        return self

    def sample(self, values: Mapping[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """One Thompson draw of every cell's normal score: the coefficients drawn from their posterior
        (``beta ~ N(coef, cov)``) and applied to each cell's sources, without the observation noise, so the
        draws' spread is the model's uncertainty and shrinks as evaluations agree."""
        Z = self.features(values)
        X = np.hstack([np.ones((len(Z), 1)), Z])
        L = np.linalg.cholesky(self.cov_ + 1e-12 * np.eye(len(self.coef_)))
        return X @ (self.coef_ + L @ rng.standard_normal(len(self.coef_)))

    @property
    def weights(self) -> dict[str, float]:
        """Each source's posterior weight (its default before any evaluation)."""
        return {s.name: float(b) for s, b in zip(self.sources, self.coef_[1:], strict=True)}

    @property
    def group_weights(self) -> dict[str, float]:
        """Each group's share of the weights' absolute sum."""
        w = np.abs(self.coef_[1:])
        total = float(w.sum()) or 1.0
        out: dict[str, float] = {}
        for s, v in zip(self.sources, w, strict=True):
            out[s.group] = out.get(s.group, 0.0) + float(v) / total
        return out

    def predict(self, values: Mapping[str, np.ndarray], noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of each cell's normal score (``noise``: the std adds the observation noise, a new
        measurement's; else it is the mean's own uncertainty, what :meth:`sample` draws from)."""
        Z = self.features(values)
        X = np.hstack([np.ones((len(Z), 1)), Z])
        mean = X @ self.coef_
        var = np.einsum("ij,jk,ik->i", X, self.cov_, X) + (self.noise_var if noise else 0.0)
        return mean, np.sqrt(var)

    def percentile(self, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted percentile (0-100) of each cell's target among the space, and its std: the normal score read
        through ``Phi`` (exact under the model with no evaluation, when the target's normal score is a standard
        normal over the space)."""
        mean, std = self.predict(values)
        lo, mid, hi = ndtr(mean - std), ndtr(mean / np.sqrt(1.0 + std**2)), ndtr(mean + std)
        return 100.0 * mid, 100.0 * (hi - lo) / 2.0


class PoolPosterior:
    """A :class:`SourcePrior` over a fixed pool of candidate cells whose source values are computed once: what a
    search draws new cells from (:class:`archgen.search.multifidelity.PoolModel`).

    Args:
        pool: The candidate cells (distinct; any hashable architectures).
        values: Each source's values on ``pool`` (source name -> array, in pool order).
        sources: The sources (as :class:`SourcePrior` takes them).
        **model: :class:`SourcePrior`'s ``rho0`` and ``prior_sd``.
    """

    def __init__(self, pool: Sequence[object], values: Mapping[str, np.ndarray], sources: Sequence[Source],
                 **model: float) -> None:  # fmt: skip
        self._pool = list(pool)
        if len(set(self._pool)) != len(self._pool):
            raise PredictorInputError("the pool repeats a cell")
        self.sources, self.model = list(sources), dict(model)
        self.values = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
        self._index = {a: k for k, a in enumerate(self._pool)}
        SourcePrior(self.sources, **self.model).features(self.values)  # checks the names and lengths

    @property
    def pool(self) -> list[object]:
        return self._pool

    def fitted(self, archs: Sequence[object], y: Sequence[float], rungs: Sequence[int] | None = None,
               weights: Sequence[float] | None = None) -> SourcePrior:  # fmt: skip
        """A fresh prior fitted on the evaluations ``y`` of the pool cells ``archs`` (``rungs``, ``weights``: as
        :meth:`SourcePrior.fit` takes them)."""
        missing = [a for a in archs if a not in self._index]
        if missing:
            raise PredictorInputError(f"{len(missing)} evaluated cells are not in the pool")
        rows = [self._index[a] for a in archs]
        prior = SourcePrior(self.sources, **self.model)
        if rows:
            prior.fit({k: v[rows] for k, v in self.values.items()}, np.asarray(y, dtype=np.float64),
                      None if rungs is None else np.asarray(rungs), None if weights is None else np.asarray(weights))  # fmt: skip
        return prior

    def posterior(self, archs: Sequence[object], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of every pool cell's normal score after the evaluations ``y`` of ``archs``."""
        return self.fitted(archs, y).predict(self.values)

    def draw(self, archs: Sequence[object], y: Sequence[float], rng: np.random.Generator,
             rungs: Sequence[int] | None = None, weights: Sequence[float] | None = None) -> np.ndarray:  # fmt: skip
        """One Thompson draw of every pool cell's normal score after the evaluations (:meth:`SourcePrior.sample`)."""
        return self.fitted(archs, y, rungs, weights).sample(self.values, rng)


class ReversedPool(PoolPosterior):
    """A misleading prior for robustness checks: ``model``'s sources with every value negated (references too), so
    its vote ranks the pool backwards (``archgen bench replay``'s ``-reversed`` methods)."""

    def __init__(self, model: PoolPosterior) -> None:
        sources = [Source(s.name, s.group, -s.reference, s.uses_labels) for s in model.sources]
        super().__init__(model.pool, {k: -v for k, v in model.values.items()}, sources, **model.model)


__all__ = ["GROUPS", "PoolPosterior", "ReversedPool", "Source", "SourcePrior", "normal_scores"]
