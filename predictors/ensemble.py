"""Stacked ensemble of learned predictors, weighted on held-out data.

Stacking (Wolpert, "Stacked Generalization", Neural Networks 1992): members
are fitted on a random 80% of the training set, their predictions on the
other 20% choose convex weights (a grid over the simplex, maximising Kendall
tau, ties broken by squared error), then every member is refitted on all of
it. The predictive distribution is the weighted mixture of the members'
Gaussians,

.. math::
    \\mu = \\sum_m w_m \\mu_m, \\qquad
    \\sigma^2 = \\sum_m w_m \\big(\\sigma_m^2 + (\\mu_m - \\mu)^2\\big),

with ``sigma`` scaled to cover 68.3% of the held-out residuals (shrunk toward 1,
the members' own calibration, when the holdout is small). This is the
service's default predictor.
"""

from __future__ import annotations

import itertools

import numpy as np

from archgen.arch import Arch
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
    fit_part,
    get_predictor,
    register_predictor,
)
from archgen.predictors.metrics import coverage_scale, kendall_tau
from archgen.predictors.splits import random_split

#: Pseudo-count of the prior scale 1 when calibrating the mixture's std on the holdout.
PRIOR_CELLS = 20


def _simplex(k: int, step: float) -> list[np.ndarray]:
    n = round(1 / step)
    return [np.array(c) / n for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]


def mixture(means: np.ndarray, stds: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the ``w``-weighted mixture; ``means``/``stds`` are ``[members, n]``."""
    mu = w @ means
    var = w @ (stds**2 + (means - mu) ** 2)
    return mu, np.sqrt(np.maximum(var, 0.0))


@register_predictor
class StackedEnsemblePredictor(Predictor):
    """Convex stack of learned predictors.

    Args:
        task: Task for the members' label-free features.
        zc: Zero-cost feature source passed to every member.
        members: Registered names of the member predictors.
        holdout: Fraction of the training set used to choose the weights.
        weight_step: Grid step of the weight simplex.
        random_state: Seed (members get derived seeds).
    """

    name = "stack"
    capabilities = Capabilities(has_uncertainty=True, min_train=20)
    paper = "Wolpert, Stacked Generalization, Neural Networks 5(2), 1992"

    def __init__(
        self,
        task: str | None = None,
        zc: str = "table",
        members: tuple[str, ...] | list[str] = ("lgbm", "gnn"),
        holdout: float = 0.2,
        weight_step: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.zc = zc
        self.members = tuple(members)
        self.holdout = holdout
        self.weight_step = weight_step
        self.random_state = random_state

    def _member(self, k: int, name: str) -> Predictor:
        from archgen.predictors.training import predictor_kwargs

        kwargs = predictor_kwargs(name, self.task or "", self.random_state * 101 + k, self.zc)
        return get_predictor(name, data=self.data, **kwargs)

    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        rng = np.random.default_rng(self.random_state)
        n = len(archs)
        n_hold = max(5, round(self.holdout * n))
        hold, train = random_split(n, n_hold, rng)
        tr_archs, ho_archs = [archs[i] for i in train], [archs[i] for i in hold]
        means, stds = [], []
        # two stages (weights, then refit), each member a checkpointed part
        span = 0.5 / len(self.members)
        for k, name in enumerate(self.members):
            member = fit_part(monitor, f"weights-{k}-{name}", self._member(k, name), tr_archs, y[train], k * span, (k + 1) * span)
            m, s = member.predict_with_uncertainty(ho_archs, validated=True)
            means.append(m)
            stds.append(s)
        M, S = np.stack(means), np.stack(stds)
        best, best_key = None, (-np.inf, -np.inf)
        for w in _simplex(len(self.members), self.weight_step):
            mu = w @ M
            tau = kendall_tau(y[hold], mu) if np.ptp(mu) > 0 else -1.0
            key = (round(tau, 4), -float(np.mean((mu - y[hold]) ** 2)))
            if key > best_key:
                best, best_key = w, key
        self.weights_ = np.asarray(best)
        mu, sd = mixture(M, S, self.weights_)
        # The members are calibrated themselves (scale 1 is the prior); a 68% quantile
        # from a small holdout is noisy, so weigh it by its size against PRIOR_CELLS.
        fitted = coverage_scale(y[hold], mu, np.maximum(sd, 1e-6))
        self.scale_ = (len(hold) * fitted + PRIOR_CELLS) / (len(hold) + PRIOR_CELLS)
        self.heldout_tau_ = float(best_key[0])
        # members with zero weight add nothing to the mixture: do not refit them
        self.used_ = [k for k in range(len(self.members)) if self.weights_[k] > 0]
        span = 0.5 / max(1, len(self.used_))
        self.members_ = [
            fit_part(monitor, f"final-{k}-{self.members[k]}", self._member(k, self.members[k]), archs, y, 0.5 + i * span, 0.5 + (i + 1) * span)
            for i, k in enumerate(self.used_)
        ]

    def bind(self, data):  # type: ignore[no-untyped-def]
        """Bind the workspace, also to fitted members."""
        super().bind(data)
        for m in getattr(self, "members_", []):
            m.bind(data)
        return self

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        outs = [m.predict_with_uncertainty(archs, validated=True) for m in self.members_]
        M, S = np.stack([o[0] for o in outs]), np.stack([o[1] for o in outs])
        mu, sd = mixture(M, S, self.weights_[self.used_])
        return mu, self.scale_ * sd

    def get_state(self) -> PredictorState:
        self._require_fitted()
        state = PredictorState(
            meta={
                "weights": self.weights_.tolist(),
                "used": self.used_,
                "scale": self.scale_,
                "heldout_tau": self.heldout_tau_,
                "members": [],
            }
        )
        for k, m in enumerate(self.members_):
            sub = m.get_state()
            state.meta["members"].append({"name": m.name, "params": m.get_params(), "meta": sub.meta})
            state.arrays.update({f"m{k}/{key}": v for key, v in sub.arrays.items()})
            state.texts.update({f"m{k}/{key}": v for key, v in sub.texts.items()})
        return state

    def set_state(self, state: PredictorState) -> None:
        self.weights_ = np.asarray(state.meta["weights"], dtype=np.float64)
        self.scale_ = float(state.meta["scale"])
        self.heldout_tau_ = float(state.meta["heldout_tau"])
        self.used_ = [int(k) for k in state.meta["used"]]
        self.members_ = []
        for k, info in enumerate(state.meta["members"]):
            m = get_predictor(info["name"], data=self.data, **info["params"])
            p = f"m{k}/"
            m.set_state(
                PredictorState(
                    meta=info["meta"],
                    arrays={key[len(p) :]: v for key, v in state.arrays.items() if key.startswith(p)},
                    texts={key[len(p) :]: v for key, v in state.texts.items() if key.startswith(p)},
                )
            )
            self.members_.append(m)
        self.fitted_ = True
