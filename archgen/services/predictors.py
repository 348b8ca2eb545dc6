"""Train a predictor on a benchmark table, measure it on held-out cells, store it.

:func:`train_predictor` is the one training pipeline: ``archgen predictors
train``, ``POST /v1/predictors`` (through the ``train_predictor`` job) and the
service's default models all run it. :class:`TrainPredictorParams` is the
validated description of a training run that the CLI, the HTTP route and the
job share.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from archgen.arch import Arch
from archgen.artifacts import ArtifactRecord, ArtifactStore
from archgen.errors import PredictorInputError, UnknownNameError, UnsupportedSpaceError
from archgen.predictors.arguments import predictor_kwargs
from archgen.predictors.base import (
    NO_MONITOR,
    FitMonitor,
    Predictor,
    fit_part,
    get_predictor,
    list_predictors,
    predictor_class,
)
from archgen.predictors.metrics import evaluate
from archgen.predictors.splits import random_split
from archgen.tasks.resolve import resolve_task

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.datasets.tables import BenchmarkTable

#: Held-out cells scored for predictors that compute proxies on images (slow on a CPU).
IMAGE_EVAL_MAX = 200
#: Share of the training pipeline's progress spent fitting (the rest scores held-out cells).
FIT_SHARE = 0.9


class TrainPredictorParams(BaseModel):
    """A training run: what to fit, on which table rows, and where to store it.

    Attributes:
        space, task: Benchmark table and task.
        kind: Registered predictor name.
        n_train: Training rows (drawn with ``seed``); bounded by the table in :func:`training_split`.
        seed: Seed of the draw and of the predictor.
        params: Constructor arguments overriding the defaults.
        metric: The task's column to predict (default: the table's
            :meth:`~archgen.datasets.tables.BenchmarkTable.default_target`); :attr:`target` is ``(task, metric)``.
        eval_max: Score at most this many held-out rows (default: all, or
            :data:`IMAGE_EVAL_MAX` for predictors that need images).
        model_id: Store id (default :func:`model_id` with a fresh suffix).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field("nb201", min_length=1, max_length=64)
    task: str = Field("cifar10", min_length=1, max_length=64)
    kind: str = Field("stack", min_length=1, max_length=64)
    n_train: int = Field(469, ge=1, le=1_000_000)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    metric: str | None = Field(
        None, min_length=1, max_length=64, description="Target metric of the task (default: the space's main one)."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor arguments of the predictor.")
    eval_max: int | None = Field(None, ge=2, description="Score at most this many held-out cells (default: all).")
    model_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Store id (the CLI's --id; over HTTP the service names the model).",
    )

    @property
    def target(self) -> tuple[str, str] | None:
        """``(task, metric)`` where a metric is named."""
        return (self.task, self.metric) if self.metric is not None else None


def model_id(
    kind: str, space: str, task: str, n_train: int, seed: int, suffix: str | None = None, *, prefix: str = ""
) -> str:
    """The store id of a trained predictor: ``[prefix-]{kind}-{space}-{task}-n{n}-s{seed}[-suffix]``.

    The one id scheme: the CLI passes a random suffix, a job its id, the
    service's defaults the prefix ``default`` and no suffix.
    """
    parts = [prefix] if prefix else []
    parts += [kind, space, task, f"n{n_train}", f"s{seed}"]
    if suffix:
        parts.append(suffix)
    return "-".join(parts)


def table_archs(table: BenchmarkTable, task: str, metric: str) -> tuple[list[Arch], np.ndarray]:
    """Every architecture with a published ``task``/``metric`` value, and those values."""
    y = np.asarray(table.column(task, metric), dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(y))
    sp = table.search_space
    return [sp.from_index(int(i)) for i in rows], y[rows]


def make_predictor(
    kind: str, task: str, seed: int, params: dict[str, Any] | None = None, data: Workspace | None = None
) -> Predictor:
    """A new ``kind`` predictor with the task, seed and ``params`` it takes, bound to ``data``."""
    return get_predictor(kind, data=data, **predictor_kwargs(kind, task, seed, extra=params))


@dataclass(frozen=True)
class TrainingSplit:
    """Rows of a benchmark table split into training and held-out architectures.

    Attributes:
        archs: Every architecture with a published target (in row order).
        y: The target of each, shape ``(len(archs),)``.
        train, test: Positions in ``archs`` of the training and held-out architectures (sorted).
        target: ``(task, metric)`` of ``y``.
    """

    archs: list[Arch]
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    target: tuple[str, str]


def training_split(
    table: BenchmarkTable,
    task: str,
    n_train: int,
    seed: int = 0,
    *,
    target: tuple[str, str] | None = None,
    eval_max: int | None = None,
    min_train: int = 1,
) -> TrainingSplit:
    """``n_train`` random rows (drawn with ``seed``) for training, the rest (at most ``eval_max``) held out.

    Raises:
        PredictorInputError: ``n_train`` is below ``min_train`` or leaves fewer than 2 held-out rows
            (the one place this bound is checked).
    """
    tgt = tuple(target) if target else table.default_target(task)
    if len(tgt) != 2:
        raise PredictorInputError(f"target must be [task, metric], got {list(tgt)}")
    archs, y = table_archs(table, tgt[0], tgt[1])
    if not min_train <= n_train <= len(archs) - 2:
        raise PredictorInputError(
            f"n_train must be at least {min_train} and at most {len(archs) - 2} for {table.space}/{tgt[0]} {tgt[1]} "
            f"({len(archs)} published values), got {n_train}"
        )
    train, test = random_split(len(archs), n_train, seed)
    if eval_max is not None:
        test = np.sort(np.random.default_rng(seed).permutation(test)[:eval_max])
    return TrainingSplit(archs, y, train, test, (tgt[0], tgt[1]))


def heldout_metrics(pred: Predictor, split: TrainingSplit, fit_s: float) -> dict[str, Any]:
    """:func:`~archgen.predictors.metrics.evaluate` on the held-out rows, with their count and the fit time."""
    y = split.y[split.test]
    mean, std = pred.predict_with_uncertainty([split.archs[i] for i in split.test])
    scores = evaluate(y, mean, std if pred.capabilities.has_uncertainty else None)
    return {"n": len(split.test), **scores, "fit_s": fit_s}


def validate_params(spec: TrainPredictorParams, data: Workspace) -> TrainingSplit:
    """Check a training run against the registry and the table before any work (raises naming the problem).

    Returns:
        The split the run will use.

    Raises:
        UnknownNameError: unknown space, task, kind or metric (lists the valid ones).
        UnsupportedSpaceError: the predictor does not support the space.
        PredictorInputError: ``n_train`` out of bounds, bad or unknown ``params``.
    """
    if spec.kind not in list_predictors():
        raise UnknownNameError("predictor", spec.kind, list_predictors())
    cls = predictor_class(spec.kind)
    if cls.capabilities.spaces and spec.space not in cls.capabilities.spaces:
        raise UnsupportedSpaceError(f"predictor {spec.kind!r}", spec.space, cls.capabilities.spaces)
    table = resolve_task(data, spec.space, spec.task).require_published()  # a predictor learns published values
    if spec.target is not None:
        table.column(*spec.target)  # raises naming the task or metric
    kwargs = predictor_kwargs(spec.kind, spec.task, spec.seed, extra=spec.params)  # types and cost bounds
    try:  # the constructor's own checks (a stack member's name, a proxy's name...)
        get_predictor(spec.kind, **kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, PredictorInputError | UnknownNameError):
            raise
        raise PredictorInputError(f"params: {e}") from None
    eval_max = spec.eval_max
    if eval_max is None and cls.capabilities.needs_images:
        eval_max = IMAGE_EVAL_MAX
    return training_split(
        table,
        spec.task,
        spec.n_train,
        spec.seed,
        target=spec.target,
        eval_max=eval_max,
        min_train=cls.capabilities.min_train,
    )


def train_predictor(
    spec: TrainPredictorParams,
    data: Workspace,
    store: ArtifactStore,
    *,
    monitor: FitMonitor | None = None,
) -> tuple[Predictor, ArtifactRecord]:
    """Fit, score on held-out rows and store one predictor: the one training pipeline.

    Args:
        spec: What to train (validated).
        data: Workspace with the benchmark table.
        store: Where the model is saved (under ``spec.model_id``, or a fresh
            :func:`model_id`).
        monitor: Progress (fit: 0..0.9, scoring: 0.9..1), checkpoints of finished
            parts (the whole fitted model is one part, so a run resumed after its
            fit only scores) and cancellation.

    Returns:
        The fitted predictor and its stored record. If ``spec.model_id`` is
        stored already (an earlier run that died after saving), that model is
        loaded and returned without fitting.

    Raises:
        As :func:`validate_params`; ``ArtifactError`` when the id exists but cannot be loaded.
    """
    mon = monitor or NO_MONITOR
    mid = spec.model_id or model_id(spec.kind, spec.space, spec.task, spec.n_train, spec.seed, secrets.token_hex(4))
    if mid in store.ids():
        pred, rec = store.load(mid, spec.space, data=data, artifact_type="predictor")
        mon.progress(1.0, f"{mid} was stored by an earlier run")
        return pred, rec
    split = validate_params(spec, data)
    table = data.table(spec.space)
    pred = make_predictor(spec.kind, spec.task, spec.seed, spec.params, data)
    tgt = "/".join(split.target)
    mon.progress(0.0, f"fitting {spec.kind} on {len(split.train)} {spec.space} cells ({tgt}), seed {spec.seed}")
    t0 = time.perf_counter()
    train_archs = [split.archs[i] for i in split.train]
    fit_part(mon, "model", pred, train_archs, split.y[split.train], 0.0, FIT_SHARE)
    fit_s = time.perf_counter() - t0
    mon.progress(FIT_SHARE, f"fitted in {fit_s:.1f} s; scoring {len(split.test)} held-out cells")
    sp = table.search_space
    record = ArtifactRecord(
        id=mid,
        kind=spec.kind,
        space=spec.space,
        task=spec.task,
        target=list(split.target),
        params=pred.get_params(),
        seed=spec.seed,
        train_archs=[sp.format(a) for a in train_archs],
        heldout=heldout_metrics(pred, split, fit_s),
        data_sources=dict(table.sources),
    )
    store.save(pred, record)
    tau = record.heldout["kendall_tau"]
    mon.progress(1.0, f"stored {mid}: held-out Kendall tau {tau:.3f} on {len(split.test)} cells")
    return pred, record
