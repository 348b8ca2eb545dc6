"""Stacked ensemble of learned predictors, weighted on out-of-fold predictions.

Stacking (Wolpert, "Stacked Generalization", Neural Networks 1992) with
cross-fitting: the training set is split into ``folds`` parts; each member is
fitted on all parts but one and predicts the part left out, so every training
cell has an out-of-fold (OOF) prediction from every member. The convex weights
are chosen on these OOF predictions over the whole training set (a grid over
the simplex, maximising Kendall tau, ties broken by squared error) and shrunk
toward equal weights,

.. math::
    w = \\frac{n}{n + n_0}\\,\\hat w + \\frac{n_0}{n + n_0}\\,\\frac{1}{M},

so that no member decision rests on fewer cells than the training set holds
and few cells cannot pick one member alone. The predictive distribution is the
weighted mixture of the members' Gaussians,

.. math::
    \\mu = \\sum_m w_m \\mu_m, \\qquad
    \\sigma^2 = \\sum_m w_m \\big(\\sigma_m^2 + (\\mu_m - \\mu)^2\\big),

with ``sigma`` scaled to cover 68.3% of the OOF residuals. Members are then
refitted on all cells. Each member fit is a checkpointed part of the fit. This is
the service's default predictor.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.errors import PredictorInputError
from archgen.predictors.arguments import predictor_kwargs
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
    fit_part,
    get_predictor,
)
from archgen.predictors.calibration import level_scales, scaled_std
from archgen.predictors.hyperparams import ZC_SOURCE, Param
from archgen.predictors.metrics import coverage_scale, kendall_tau


def _simplex(k: int, step: float) -> list[np.ndarray]:
    n = round(1 / step)
    return [np.array(c) / n for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]


def mixture(means: np.ndarray, stds: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the ``w``-weighted mixture; ``means``/``stds`` are ``[members, n]``."""
    mu = w @ means
    var = w @ (stds**2 + (means - mu) ** 2)
    return mu, np.sqrt(np.maximum(var, 0.0))


class StackedEnsemblePredictor(Predictor):
    """Convex stack of learned predictors.

    Args:
        task: Task for the members' label-free features.
        zc: Zero-cost feature source passed to every member.
        members: Registered names of the member predictors.
        folds: Cross-fitting folds (at least 2; fewer when the training set is small).
        prior_cells: Pseudo-count ``n_0`` of the equal weights the fitted weights shrink toward.
        weight_step: Grid step of the weight simplex.
        supernet: Store id of a trained supernet of the task, for a ``supernet`` member (its estimates are then a
            feature of the stack; without it the member trains its own supernet with its default settings).
        random_state: Seed (members get derived seeds).
    """

    name = "stack"
    capabilities = Capabilities(has_uncertainty=True, min_train=20)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "zc": ZC_SOURCE,
        "members": Param("names", 1, 6, cost=True),
        "folds": Param("int", 2, 10, cost=True),
        "prior_cells": Param("float", 0, 1e6),
        "weight_step": Param("float", 0.01, 1.0),
        "supernet": Param("str", optional=True),
    }
    paper = "Wolpert, Stacked Generalization, Neural Networks 5(2), 1992"

    def __init__(
        self,
        task: str | None = None,
        zc: str = "table",
        members: tuple[str, ...] | list[str] = ("lgbm", "gnn"),
        folds: int = 3,
        prior_cells: int = 100,
        weight_step: float = 0.1,
        supernet: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.supernet = supernet
        self.zc = zc
        self.members = tuple(members)
        self.folds = folds
        self.prior_cells = prior_cells
        self.weight_step = weight_step
        self.random_state = random_state

    def _member(self, k: int, name: str) -> Predictor:
        kwargs = predictor_kwargs(name, self.task or "", self.random_state * 101 + k, self.zc)
        if name == "supernet" and self.supernet is not None:
            kwargs["supernet"] = self.supernet
        return get_predictor(name, data=self.data, **kwargs)

    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        if self.folds < 2 or self.prior_cells < 0:
            raise PredictorInputError(
                f"stack needs folds >= 2 and prior_cells >= 0, got {self.folds}, {self.prior_cells}"
            )
        rng = np.random.default_rng(self.random_state)
        n, n_members = len(archs), len(self.members)
        k_folds = max(2, min(self.folds, n // 10))
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[rng.permutation(n)] = np.arange(n) % k_folds
        M, S = np.zeros((n_members, n)), np.zeros((n_members, n))
        span = 1.0 / ((k_folds + 1) * n_members)
        step = 0
        for f in range(k_folds):  # out-of-fold predictions, each member fit a checkpointed part
            train, held = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
            tr_archs, ho_archs = [archs[i] for i in train], [archs[i] for i in held]
            for k, name in enumerate(self.members):
                member = fit_part(
                    monitor,
                    f"fold{f}-{k}-{name}",
                    self._member(k, name),
                    tr_archs,
                    y[train],
                    step * span,
                    (step + 1) * span,
                )
                M[k, held], S[k, held] = member.predict_with_uncertainty(ho_archs, validated=True)
                step += 1
        best, best_key = None, (-np.inf, -np.inf)
        for w in _simplex(n_members, self.weight_step):
            mu = w @ M
            tau = kendall_tau(y, mu) if np.ptp(mu) > 0 else -1.0
            key = (round(tau, 4), -float(np.mean((mu - y) ** 2)))
            if key > best_key:
                best, best_key = w, key
        lam = n / (n + self.prior_cells)
        self.weights_ = lam * np.asarray(best) + (1 - lam) / n_members
        mu, sd = mixture(M, S, self.weights_)
        self.scale_ = coverage_scale(y, mu, np.maximum(sd, 1e-6))
        self.scales_ = level_scales(mu, y, np.maximum(sd, 1e-6))
        self.heldout_tau_ = kendall_tau(y, mu) if np.ptp(mu) > 0 else float("nan")  # out-of-fold, all n cells
        self.used_ = [k for k in range(n_members) if self.weights_[k] > 0]
        self.members_ = []
        for k in self.used_:
            name = self.members[k]
            self.members_.append(
                fit_part(monitor, f"final-{k}-{name}", self._member(k, name), archs, y, step * span, (step + 1) * span)
            )
            step += 1

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
        return mu, scaled_std(self.scales_, mu, sd)

    def get_state(self) -> PredictorState:
        self._require_fitted()
        state = PredictorState(
            meta={
                "weights": self.weights_.tolist(),
                "used": self.used_,
                "scale": self.scale_,
                "scales": self.scales_.tolist(),
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
        self.scales_ = np.asarray(state.meta.get("scales", [0.0, 0.0, self.scale_, self.scale_]), dtype=np.float64)
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
