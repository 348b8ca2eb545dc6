"""A weight-sharing supernet's estimates as a predictor, and as a feature the stacked ensemble can weigh.

:class:`SupernetPredictor` (``"supernet"``) scores each architecture by the held-out accuracy of its path through a
trained NB201 supernet (Guo et al., "Single Path One-Shot NAS with Uniform Sampling", ECCV 2020: inherited
weights, batch-norm statistics recalibrated per path) and maps that estimate, with the architecture encoding, to
the target by Bayesian ridge regression (Tipping, JMLR 2001), as NAS-Bench-Suite-Zero does with zero-cost scores:
the supernet ranks, the few labels put its estimates on the target's scale. The posterior predictive std is
scaled to cover 68.3% of the 5-fold out-of-fold residuals.

The supernet is label-free: it is a stored one (``supernet``: a store id) or trained on the task's training
images when first needed (``epochs``, ``minutes``, ``C``, ``N``, ``resolution``, ``train_images``), once per
workspace and setting, so the stack's folds and the final fit share one supernet and no fold's labels reach it.
Estimates are cached per architecture for the same reason.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.artifacts import ArtifactState
from archgen.errors import PredictorInputError
from archgen.evaluators.supernet import SupernetEvaluator
from archgen.predictors.base import Capabilities, FitMonitor, Predictor, PredictorState
from archgen.predictors.calibration import CalibratedRidge
from archgen.predictors.features import Standardizer, encoding_features, require_data
from archgen.predictors.hyperparams import Param
from archgen.supernets.oneshot import OneShotSupernet
from archgen.supernets.store import task_supernet
from archgen.tasks.images import task_images
from archgen.training.trainer import task_images as training_images


class SupernetPredictor(Predictor):
    """Bayesian ridge on a supernet's held-out accuracy estimate (and the encoding).

    Args:
        task: Task whose images the supernet trains and scores on (``cifar10``, ``cifar10-valid``, a user task).
        supernet: Store id of a trained supernet of the task (default: train one, see the module docstring).
        epochs, minutes: Schedule length and wall-time budget of a supernet trained here.
        C, N, resolution: Its width, cells per stage and image side.
        train_images: Train it on a stratified subset of this many images (default: all of the task's).
        calib_batches, eval_images: Recalibration batches and held-out images per scored path.
        encoding: Also use the architecture encoding as features.
        seed: Seed of the supernet.
        random_state: Seed of the calibration folds.
    """

    name = "supernet"
    capabilities = Capabilities(has_uncertainty=True, needs_images=True, spaces=("nb201",), min_train=10)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "supernet": Param("str", optional=True),
        "batch_size": Param("int", 2, 1024, cost=True),
        "epochs": Param("int", 1, 2000, cost=True),
        "minutes": Param("float", 0.01, 24 * 60, optional=True, cost=True),
        "C": Param("int", 1, 32, cost=True),
        "N": Param("int", 1, 5, cost=True),
        "resolution": Param("int", 8, 32, cost=True),
        "train_images": Param("int", 100, 50_000, optional=True, cost=True),
        "calib_batches": Param("int", 1, 16, cost=True),
        "eval_images": Param("int", 10, 10_000, cost=True),
        "encoding": Param("bool"),
        "seed": Param("int", 0, 2**31 - 1),
    }
    paper = "Guo et al., Single Path One-Shot NAS with Uniform Sampling, ECCV 2020; Tipping, JMLR 2001"

    def __init__(
        self,
        task: str = "cifar10",
        supernet: str | None = None,
        epochs: int = 50,
        minutes: float | None = None,
        C: int = 8,
        N: int = 1,
        resolution: int = 16,
        train_images: int | None = None,
        batch_size: int = 128,
        calib_batches: int = 4,
        eval_images: int = 1000,
        encoding: bool = True,
        seed: int = 0,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.supernet = supernet
        self.epochs = epochs
        self.minutes = minutes
        self.C = C
        self.N = N
        self.resolution = resolution
        self.train_images = train_images
        self.batch_size = batch_size
        self.calib_batches = calib_batches
        self.eval_images = eval_images
        self.encoding = encoding
        self.seed = seed
        self.random_state = random_state

    # -- the supernet and its estimates ----------------------------------------------
    def _settings(self) -> tuple:
        return (self.task, self.supernet, self.epochs, self.minutes, self.C, self.N, self.resolution,
                self.train_images, self.batch_size, self.calib_batches, self.eval_images, self.seed)  # fmt: skip

    def _scorer(self, monitor: FitMonitor | None = None) -> _Scorer:
        ws = require_data(self.data, "the supernet predictor (it trains on and scores with the task's images)")
        return ws.memo(("supernet-predictor", self._settings()), lambda: self._build(ws, monitor))  # type: ignore[no-any-return]

    def _own_supernet(self) -> Any:
        """The (untrained) supernet of this predictor's settings, when no stored one is named."""
        return OneShotSupernet(C=self.C, N=self.N, resolution=self.resolution, epochs=self.epochs,
                               batch_size=self.batch_size, calib_batches=self.calib_batches,
                               eval_images=self.eval_images, seed=self.seed)  # fmt: skip

    def _scorer_of(self, ws: Any, sn: Any, source: str) -> _Scorer:
        """``sn`` scoring on the task's images: recalibrated on its training images, measured on the held-out ones."""
        ti = task_images(ws, self.task)
        return _Scorer(SupernetEvaluator(sn, ti.train, ti.heldout, source=source))

    def _build(self, ws: Any, monitor: FitMonitor | None) -> _Scorer:
        if self.supernet is not None:
            sn, rec = task_supernet(ws, self.task, self.supernet)
            return self._scorer_of(ws, sn, rec.id)
        train, _ = training_images(ws, self.task, self.train_images)
        sn = self._own_supernet()
        report = None if monitor is None else (lambda f, m: monitor.progress(0.9 * f, f"supernet: {m}"))
        sn.fit(train, time_budget=None if self.minutes is None else 60.0 * self.minutes, on_progress=report)
        return self._scorer_of(ws, sn, "trained-in-fit")

    def estimates(self, archs: list[Arch]) -> np.ndarray:
        """The supernet's held-out accuracy (%) of each architecture's path (label-free)."""
        return self._scorer().estimate(archs)

    # -- the regression ----------------------------------------------------------------
    def _raw(self, archs: list[Arch]) -> np.ndarray:
        parts = [self.estimates(archs)[:, None]]
        if self.encoding:
            parts.append(encoding_features(archs))
        return np.concatenate(parts, axis=1)

    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        if self.supernet is None and self.minutes is not None and self.minutes <= 0:
            raise PredictorInputError(f"minutes must be > 0, got {self.minutes}")
        self._scorer(monitor)
        X = self._raw(archs)
        self.std_ = Standardizer().fit(X)
        self.ridge_ = CalibratedRidge().fit(self.std_.transform(X), y, self.random_state)
        monitor.progress(1.0, "fitted")

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        return self.ridge_.predict(self.std_.transform(self._raw(archs)))

    def get_state(self) -> PredictorState:
        """The regression, and (for a supernet trained in ``fit``) the supernet's weights (``supernet/...``)."""
        self._require_fitted()
        ridge_meta, ridge_arrays = self.ridge_.get_state()
        arrays = {**ridge_arrays, **self.std_.get_arrays()}
        meta: dict[str, Any] = dict(ridge_meta)
        if self.supernet is None:
            sub = self._scorer().evaluator.supernet.get_state()
            arrays.update({f"supernet/{k}": v for k, v in sub.arrays.items()})
            meta["supernet"] = sub.meta
        return PredictorState(meta=meta, arrays=arrays)

    def set_state(self, state: PredictorState) -> None:
        self.std_ = Standardizer.from_arrays(state.arrays)
        self.ridge_ = CalibratedRidge.from_state(state.meta, state.arrays)
        self._state = state  # the supernet's weights, restored when the workspace is bound
        self.fitted_ = True

    def bind(self, data):  # type: ignore[no-untyped-def]
        """Bind the workspace; a restored predictor's supernet is registered there (no training)."""
        super().bind(data)
        state = getattr(self, "_state", None)
        if data is not None and state is not None and self.supernet is None and "supernet" in state.meta:
            data.memo(("supernet-predictor", self._settings()), lambda: self._restore_scorer(data, state))
        return self

    def _restore_scorer(self, ws: Any, state: PredictorState) -> _Scorer:
        sn = self._own_supernet()
        p = "supernet/"
        sn.set_state(ArtifactState(meta=state.meta["supernet"],
                                   arrays={k[len(p):]: v for k, v in state.arrays.items() if k.startswith(p)}))  # fmt: skip
        return self._scorer_of(ws, sn, "restored")


class _Scorer:
    """One supernet's evaluator and its estimates, shared by the predictors of one setting (thread-safe)."""

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator
        self._lock = threading.Lock()

    def estimate(self, archs: list[Arch]) -> np.ndarray:
        if not archs:
            return np.zeros(0)
        with self._lock:
            return np.array([r.value for r in self.evaluator.evaluate(archs)], dtype=np.float64)


__all__ = ["SupernetPredictor"]
