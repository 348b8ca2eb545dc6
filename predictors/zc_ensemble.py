"""Zero-cost proxies as predictors: one proxy, a label-free rank vote, a learned combination.

* :class:`ZeroCostPredictor` (``"zc"``): the score of one proxy (Abdelfattah et
  al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021). Label-free.
* :class:`ZCVotePredictor` (``"zc_vote"``): the mean percentile of several
  proxies, the rank vote of Abdelfattah et al. (2021) and of NAS-Bench-Suite-Zero
  (Krishnakumar et al., NeurIPS 2022 D&B). Label-free. The default proxies
  are one per family, chosen a priori, not on the benchmark: ``synflow``
  (data-independent saliency), ``jacov`` (input-Jacobian correlation),
  ``nwot`` (activation patterns) and ``params`` (size).
* :class:`ZCLearnedPredictor` (``"zc_learned"``): Bayesian ridge regression
  (Tipping, JMLR 2001; MacKay 1992) on zero-cost scores and the architecture
  encoding, as in NAS-Bench-Suite-Zero's "ZC proxies as features" study; its
  posterior predictive std is the uncertainty.

Scores come from archgen's own proxies (``source="computed"``: built
networks, a real CIFAR-10 mini-batch, cached on disk) or from the published
NAS-Bench-Suite-Zero columns of the table (``source="table"``: no compute; the
suite scored one cell per isomorphism class, and the others take their twin's
score, see :func:`~archgen.predictors.features.filled_table_columns`).

Percentiles: with ``source="table"`` each proxy value is placed against the
published values of the whole space, so a cell's vote does not depend on what
else is scored with it. With ``source="computed"`` no population is at hand,
and the percentile is taken within the architectures scored together: compare
only scores from one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy.stats import rankdata

from archgen.arch import Arch
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
)
from archgen.predictors.calibration import CalibratedRidge
from archgen.predictors.features import Standardizer, encoding_features, filled_table_columns, require_data
from archgen.predictors.hyperparams import PROXY_NET, Param
from archgen.predictors.zerocost import PROXIES, ZCSettings, score_archs

if TYPE_CHECKING:
    from archgen.context import Workspace
from archgen.errors import PredictorInputError, UnknownNameError

SOURCES = ("computed", "table")
DEFAULT_VOTE = ("synflow", "jacov", "nwot", "params")
#: Table task holding the published zero-cost columns for each NB201 task name.
_TABLE_TASK = {"cifar10-valid": "cifar10"}


def proxy_scores(
    archs: Sequence[Arch],
    task: str,
    proxies: Sequence[str],
    source: str,
    settings: ZCSettings,
    data: Workspace | None,
) -> dict[str, np.ndarray]:
    """``{proxy: scores of shape (n,)}`` from ``source`` (NaN where the table has none)."""
    for p in proxies:
        if p not in PROXIES:
            raise UnknownNameError("zero-cost proxy", p, PROXIES)
    if source not in SOURCES:
        raise UnknownNameError("zero-cost score source", source, SOURCES)
    ws = require_data(data, f"zero-cost scores from source {source!r}")
    if source == "computed":
        return score_archs(archs, task, proxies, settings, data=ws)
    table = ws.table(archs[0].space)
    rows = np.asarray(table.rows(archs), dtype=np.int64)
    t = _TABLE_TASK.get(task, task)
    _check_table_task(table, t, proxies)
    X = filled_table_columns(ws, table.space, tuple((t, f"zc_{p}") for p in proxies))
    return {p: X[rows, j] for j, p in enumerate(proxies)}


def _check_table_task(table, task: str, proxies: Sequence[str]) -> None:
    if task not in table.tasks():
        raise UnknownNameError(f"task of space {table.space!r}", task, table.tasks())
    have = [m[3:] for m in table.metrics(task) if m.startswith("zc_")]
    missing = [p for p in proxies if p not in have]
    if missing:
        raise PredictorInputError(
            f"the {table.space} table publishes no {', '.join(missing)} scores for {task} "
            f"(it has: {', '.join(have) or 'none'}); use source='computed'"
        )


class _ZCBase(Predictor):
    """What the label-free zero-cost predictors share: no learned state."""

    def _check_params(self) -> None:
        if self.source not in SOURCES:
            raise UnknownNameError("zero-cost score source", self.source, SOURCES)

    # label-free predictors have no learned state
    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        self._check_params()

    def get_state(self) -> PredictorState:
        return PredictorState()

    def set_state(self, state: PredictorState) -> None:
        self.fitted_ = True


class ZeroCostPredictor(_ZCBase):
    """One zero-cost proxy as a (label-free) predictor; higher means better.

    Args:
        task: Task whose images (or published scores) are used.
        proxy: One of :data:`~archgen.predictors.zerocost.PROXIES`.
        source: ``"computed"`` or ``"table"``.
        batch_size, C, N, seed: :class:`~archgen.predictors.zerocost.ZCSettings`.
    """

    name = "zc"
    capabilities = Capabilities(requires_fit=False, needs_images=True, spaces=("nb201",), min_train=0)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "proxy": Param("str", choices=PROXIES),
        "source": Param("str", choices=("computed", "table")),
        **PROXY_NET,
    }
    paper = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021"

    def __init__(
        self,
        task: str = "cifar10",
        proxy: str = "synflow",
        source: str = "computed",
        batch_size: int = 64,
        C: int = 16,
        N: int = 5,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.proxy = proxy
        self.source = source
        self.batch_size = batch_size
        self.C = C
        self.N = N
        self.seed = seed

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        return proxy_scores(archs, self.task, [self.proxy], self.source, ZCSettings.of(self), self.data)[
            self.proxy
        ], None


def _percentiles(values: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """Percentile in [0, 1] of each value, against ``reference`` or among ``values`` (NaN stays NaN)."""
    out = np.full(values.shape, np.nan)
    ok = np.isfinite(values)
    if reference is None:
        if ok.sum():
            out[ok] = (rankdata(values[ok]) - 0.5) / ok.sum()
        return out
    ref = np.sort(reference[np.isfinite(reference)])
    lo = np.searchsorted(ref, values[ok], side="left")
    hi = np.searchsorted(ref, values[ok], side="right")
    out[ok] = (lo + hi) / (2.0 * max(len(ref), 1))
    return out


class ZCVotePredictor(_ZCBase):
    """Label-free rank vote: the mean percentile of several proxies.

    Args:
        task: Task whose images (or published scores) are used.
        proxies: Proxies that vote (all weighted equally).
        source: ``"computed"`` (percentiles within the call) or ``"table"``
            (percentiles against the published scores of the whole space;
            cells the suite did not score take their isomorphic twin's score).
        batch_size, C, N, seed: :class:`~archgen.predictors.zerocost.ZCSettings`.
    """

    name = "zc_vote"
    capabilities = Capabilities(requires_fit=False, needs_images=True, spaces=("nb201",), min_train=0)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "proxies": Param("names", 1, 32, cost=True),
        "source": Param("str", choices=("computed", "table")),
        **PROXY_NET,
    }
    paper = "Krishnakumar et al., NAS-Bench-Suite-Zero, NeurIPS 2022 Datasets and Benchmarks"

    def __init__(
        self,
        task: str = "cifar10",
        proxies: tuple[str, ...] | list[str] = DEFAULT_VOTE,
        source: str = "computed",
        batch_size: int = 64,
        C: int = 16,
        N: int = 5,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.proxies = tuple(proxies)
        self.source = source
        self.batch_size = batch_size
        self.C = C
        self.N = N
        self.seed = seed

    def _check_params(self) -> None:
        super()._check_params()
        if not self.proxies:
            raise PredictorInputError("zc_vote needs at least one proxy")

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_params()
        scores = proxy_scores(archs, self.task, self.proxies, self.source, ZCSettings.of(self), self.data)
        refs: dict[str, np.ndarray | None] = dict.fromkeys(self.proxies)
        if self.source == "table":
            table = require_data(self.data, "source='table'").table(archs[0].space)
            t = _TABLE_TASK.get(self.task, self.task)
            refs = {p: np.asarray(table.column(t, f"zc_{p}"), dtype=np.float64) for p in self.proxies}
        pct = np.stack([_percentiles(scores[p], refs[p]) for p in self.proxies])
        have = np.isfinite(pct).sum(0)
        vote = np.where(have > 0, np.nansum(pct, axis=0) / np.maximum(have, 1), np.nan)
        return vote, None


class ZCLearnedPredictor(Predictor):
    """Bayesian ridge regression on zero-cost scores and the encoding.

    Features: every proxy (signed-log, standardised, with missing-value
    indicators for unpublished table scores) and, optionally, the encoding.
    The model is linear so that it is well determined from a few dozen
    labels. The posterior predictive std is scaled to cover 68.3% of the
    5-fold out-of-fold residuals.

    Args:
        task: Task whose images (or published scores) are used.
        source: ``"computed"`` or ``"table"``.
        proxies: Proxies used as features.
        encoding: Also use the architecture encoding.
        random_state: Seed of the calibration folds.
    """

    name = "zc_learned"
    capabilities = Capabilities(has_uncertainty=True, needs_images=True, spaces=("nb201",), min_train=10)
    hyperparameters: ClassVar[Mapping[str, Param]] = {
        "source": Param("str", choices=("computed", "table")),
        "proxies": Param("names", 1, 32, cost=True),
        "encoding": Param("bool"),
        **PROXY_NET,
    }
    paper = "Krishnakumar et al., NAS-Bench-Suite-Zero, NeurIPS 2022 Datasets and Benchmarks; Tipping, JMLR 2001"

    def __init__(
        self,
        task: str = "cifar10",
        source: str = "table",
        proxies: tuple[str, ...] | list[str] = PROXIES,
        encoding: bool = True,
        batch_size: int = 64,
        C: int = 16,
        N: int = 5,
        seed: int = 0,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.source = source
        self.proxies = tuple(proxies)
        self.encoding = encoding
        self.batch_size = batch_size
        self.C = C
        self.N = N
        self.seed = seed
        self.random_state = random_state

    def _raw(self, archs: list[Arch]) -> np.ndarray:
        scores = proxy_scores(archs, self.task, self.proxies, self.source, ZCSettings.of(self), self.data)
        parts = [np.stack([scores[p] for p in self.proxies], 1)]
        if self.encoding:
            parts.append(encoding_features(archs))
        return np.concatenate(parts, axis=1)

    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        X = self._raw(archs)
        self.std_ = Standardizer().fit(X)
        self.ridge_ = CalibratedRidge().fit(self.std_.transform(X), y, self.random_state)

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        return self.ridge_.predict(self.std_.transform(self._raw(archs)))

    def get_state(self) -> PredictorState:
        self._require_fitted()
        meta, arrays = self.ridge_.get_state()
        return PredictorState(meta=meta, arrays={**arrays, **self.std_.get_arrays()})

    def set_state(self, state: PredictorState) -> None:
        self.std_ = Standardizer.from_arrays(state.arrays)
        self.ridge_ = CalibratedRidge.from_state(state.meta, state.arrays)
        self.fitted_ = True
