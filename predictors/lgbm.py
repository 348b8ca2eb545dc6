"""Gradient-boosted trees on flat architecture encodings (GBDT-NAS style).

Luo et al., "Accuracy Prediction with Non-neural Model for Neural Architecture
Search" (GBDT-NAS), arXiv:2007.04785, 2020; LightGBM: Ke et al., NeurIPS 2017.
Zero-cost features as in White et al., "A Deeper Look at Zero-Cost Proxies for
Lightweight NAS" / NAS-Bench-Suite-Zero (NeurIPS 2022 D&B).

Uncertainty: a bagged ensemble (each member sees a random 80% of the training
set); the spread of the members, scaled so that ``mean ± std`` covers 68.3% of
the out-of-bag residuals, is the predictive std.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
)
from archgen.predictors.features import arch_features
from archgen.predictors.hyperparams import ZC_SOURCE, Param
from archgen.predictors.metrics import coverage_scale

#: LightGBM sets OpenMP's thread count process-wide on every fit and predict: two
#: threads using it at once can crash the process (seen as SIGSEGV/SIGFPE when two
#: stacks were fitted in two threads). Every LightGBM call in archgen holds this lock.
LIGHTGBM_LOCK = threading.Lock()


class LightGBMPredictor(Predictor):
    """Bagged LightGBM regressors on encodings (+ optional zero-cost features).

    Args:
        task: Task whose label-free measurements are used as features
            (required unless ``zc="none"``).
        zc: Zero-cost feature source: ``"none"``, ``"table"`` (published
            label-free columns) or ``"computed"`` (archgen's own proxies).
        n_estimators: Boosting rounds per member.
        learning_rate: Shrinkage.
        num_leaves: Leaves per tree.
        min_child_samples: Fewest samples per leaf; ``None`` scales it with
            the training-set size (``max(2, min(20, n // 40))``).
        subsample: Fraction of the training set each member is fitted on.
        colsample: Fraction of features per tree.
        n_bags: Ensemble members (>= 2 for an uncertainty estimate).
        random_state: Seed.
    """

    name = "lgbm"
    capabilities = Capabilities(has_uncertainty=True, min_train=8)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "zc": ZC_SOURCE,
        "n_estimators": Param("int", 1, 5000, cost=True),
        "learning_rate": Param("float", 1e-4, 1.0),
        "num_leaves": Param("int", 2, 1024, cost=True),
        "min_child_samples": Param("int", 1, 10_000, optional=True),
        "subsample": Param("float", 0.05, 1.0),
        "colsample": Param("float", 0.05, 1.0),
        "n_bags": Param("int", 1, 50, cost=True),
    }
    paper = "Luo et al., Accuracy Prediction with Non-neural Model for Neural Architecture Search, arXiv:2007.04785"

    def __init__(
        self,
        task: str | None = None,
        zc: str = "table",
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int | None = None,
        subsample: float = 0.8,
        colsample: float = 0.7,
        n_bags: int = 5,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.zc = zc
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.n_bags = n_bags
        self.random_state = random_state

    def _features(self, archs: list[Arch]) -> np.ndarray:
        return arch_features(archs, self.task, self.zc, self.data)

    def _params(self, n: int, seed: int) -> dict[str, object]:
        mcs = self.min_child_samples if self.min_child_samples is not None else max(2, min(20, n // 40))
        return {
            "objective": "regression",
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": mcs,
            "min_child_weight": 1e-3,
            "colsample_bytree": self.colsample,
            "reg_lambda": 1.0,
            "random_state": seed,
            "n_jobs": 1,
            "verbose": -1,
        }

    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        import lightgbm as lgb  # lazy: LightGBM adds about 1 s; only its fits and predictions need it

        X = self._features(archs)
        n = len(archs)
        rng = np.random.default_rng(self.random_state)
        m = max(2, round(self.subsample * n))
        self.boosters_ = []
        oob_sum, oob_sq, oob_cnt = np.zeros(n), np.zeros(n), np.zeros(n)
        bags = max(1, self.n_bags)
        for b in range(bags):
            idx = np.sort(rng.choice(n, m, replace=False)) if self.n_bags > 1 else np.arange(n)
            model = lgb.LGBMRegressor(**self._params(m, int(rng.integers(2**31 - 1))))

            def every_50_trees(env: lgb.callback.CallbackEnv, b: int = b) -> None:
                # progress inside a bag too: a cancelled job stops here (the exception leaves LightGBM's loop)
                if env.iteration % 50 == 49:
                    monitor.progress((b + (env.iteration + 1) / self.n_estimators) / bags)

            with LIGHTGBM_LOCK:
                model.fit(X[idx], y[idx], callbacks=[every_50_trees])
            self.boosters_.append(model.booster_)
            monitor.progress((b + 1) / max(1, self.n_bags), f"bag {b + 1}/{max(1, self.n_bags)} fitted")
            oob = np.setdiff1d(np.arange(n), idx)
            if oob.size:
                with LIGHTGBM_LOCK:
                    p = model.booster_.predict(X[oob], num_threads=2)
                oob_sum[oob] += p
                oob_sq[oob] += p**2
                oob_cnt[oob] += 1
        self.scale_ = 1.0
        have = oob_cnt >= 1
        if self.n_bags > 1 and have.sum() >= 5:
            # out-of-bag mean, and the full ensemble's spread for those points
            # An out-of-bag mean averages k < B members, so its error carries
            # the members' spread / sqrt(k) where a prediction's carries
            # spread / sqrt(B); remove the difference before calibrating.
            k = oob_cnt[have]
            mean_oob = oob_sum[have] / k
            _, spread = self._ensemble(X[have])
            spread = np.maximum(spread, 1e-3 * np.std(y))
            r2 = (y[have] - mean_oob) ** 2 - spread**2 * (1.0 / k - 1.0 / self.n_bags)
            resid = np.sqrt(np.maximum(r2, 0.0))
            self.scale_ = coverage_scale(resid, np.zeros_like(resid), spread)
        self.y_std_ = float(np.std(y))

    def _ensemble(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with LIGHTGBM_LOCK:
            preds = np.stack([b.predict(X, num_threads=2) for b in self.boosters_])
        return preds.mean(0), preds.std(0)

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        mean, spread = self._ensemble(self._features(archs))
        return mean, self.scale_ * np.maximum(spread, 1e-3 * self.y_std_)

    def get_state(self) -> PredictorState:
        self._require_fitted()
        return PredictorState(
            meta={
                "scale": self.scale_,
                "y_std": self.y_std_,
                "n_boosters": len(self.boosters_),
            },
            texts={f"booster_{i}.txt": b.model_to_string() for i, b in enumerate(self.boosters_)},
        )

    def set_state(self, state: PredictorState) -> None:
        import lightgbm as lgb  # lazy: LightGBM adds about 1 s; only its fits and predictions need it

        self.boosters_ = [
            lgb.Booster(model_str=state.texts[f"booster_{i}.txt"]) for i in range(state.meta["n_boosters"])
        ]
        self.scale_ = float(state.meta["scale"])
        self.y_std_ = float(state.meta["y_std"])
        self.fitted_ = True
