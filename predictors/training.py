"""Train a predictor on a benchmark table, measure it on held-out cells, store it.

Used by ``archgen predictors train`` and by the HTTP service's training jobs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from archgen.predictors.base import Predictor, get_predictor, predictor_class
from archgen.predictors.metrics import coverage, kendall_tau, spearman, top_k_precision
from archgen.predictors.store import ModelRecord, ModelStore

from archgen.arch import Arch
from archgen.errors import PredictorInputError

#: Held-out cells scored for predictors that compute proxies on images (slow on a CPU).
IMAGE_EVAL_MAX = 200


def predictor_kwargs(name: str, task: str, seed: int, zc: str | None = None, **extra: Any) -> dict[str, Any]:
    """Constructor arguments for ``name``: its task, seed and zero-cost source where it takes them.

    ``zc`` (``"none"``, ``"table"``, ``"computed"``) is passed as ``zc`` to
    predictors that use zero-cost features and as ``source`` to the zero-cost
    predictors (for ``"table"`` and ``"computed"``).
    """
    params = predictor_class(name)().get_params()
    kwargs: dict[str, Any] = {}
    if "task" in params:
        kwargs["task"] = task
    if "random_state" in params:
        kwargs["random_state"] = seed
    if zc is not None and "zc" in params:
        kwargs["zc"] = zc
    if zc in ("table", "computed") and "source" in params:  # the zero-cost predictors' own name for it
        kwargs["source"] = zc
    kwargs.update(extra)
    return kwargs


@dataclass(frozen=True)
class TrainingSplit:
    """Rows of a benchmark table split into training and held-out architectures.

    Attributes:
        archs: Every architecture of the table (in row order).
        y: The target of each, shape ``(len(archs),)``.
        train, test: Row numbers of the training and held-out architectures (sorted).
        target: ``(task, metric)`` of ``y``.
    """

    archs: list[Arch]
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    target: tuple[str, str]


def training_split(
    space: str,
    task: str,
    n_train: int,
    seed: int = 0,
    *,
    target: tuple[str, str] | None = None,
    eval_max: int | None = None,
) -> TrainingSplit:
    """``n_train`` random rows (drawn with ``seed``) for training, the rest (at most ``eval_max``) held out.

    Raises:
        PredictorInputError: ``n_train`` leaves no held-out rows.
    """
    from archgen.predictors.benchmark import default_target, table_archs

    target = tuple(target) if target else default_target(space, task)  # type: ignore[assignment]
    archs, y = table_archs(space, *target)
    if not 0 < n_train < len(archs):
        raise PredictorInputError(
            f"n_train must be between 1 and {len(archs) - 1} for {space}/{target[0]}, got {n_train}"
        )
    perm = np.random.default_rng(seed).permutation(len(archs))
    test = perm[n_train:] if eval_max is None else perm[n_train:][:eval_max]
    return TrainingSplit(archs, y, np.sort(perm[:n_train]), np.sort(test), target)  # type: ignore[arg-type]


def heldout_metrics(pred: Predictor, split: TrainingSplit, fit_s: float) -> dict[str, Any]:
    """Kendall tau, Spearman, top-5% precision (and coverage with uncertainty) on the held-out rows."""
    y = split.y[split.test]
    mean, std = pred.predict_with_uncertainty([split.archs[i] for i in split.test])
    heldout: dict[str, Any] = {
        "n": len(split.test),
        "kendall_tau": kendall_tau(y, mean),
        "spearman": spearman(y, mean),
        "top5_precision": top_k_precision(y, mean, 0.05),
        "fit_s": fit_s,
    }
    if pred.capabilities.has_uncertainty:
        heldout["coverage_1sigma"] = coverage(y, mean, std)
        heldout["coverage_2sigma"] = coverage(y, mean, std, 2.0)
    return heldout


def model_record(
    pred: Predictor, split: TrainingSplit, kind: str, space: str, task: str, seed: int, heldout: dict[str, Any]
) -> ModelRecord:
    """The store record of ``pred`` trained on ``split`` (``id`` left empty)."""
    from archgen.spaces import get_space

    sp = get_space(space)
    return ModelRecord(
        id="",
        kind=kind,
        space=space,
        task=task,
        target=list(split.target),
        params=pred.get_params(),
        seed=seed,
        train_archs=[sp.format(split.archs[i]) for i in split.train],
        heldout=heldout,
    )


def heldout_cap(pred: Predictor, eval_max: int | None) -> int | None:
    """``eval_max``, or :data:`IMAGE_EVAL_MAX` when unset for a predictor that computes proxies on images."""
    if eval_max is None and pred.capabilities.needs_images:
        return IMAGE_EVAL_MAX
    return eval_max


def make_predictor(kind: str, task: str, seed: int, params: dict[str, Any] | None = None) -> Predictor:
    """A new ``kind`` predictor with the task, seed and ``params`` it takes."""
    return get_predictor(kind, **predictor_kwargs(kind, task, seed, **(params or {})))


def train_model(
    space: str,
    task: str,
    kind: str,
    n_train: int,
    seed: int = 0,
    *,
    target: tuple[str, str] | None = None,
    params: dict[str, Any] | None = None,
    store: ModelStore | None = None,
    model_id: str | None = None,
    eval_max: int | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Predictor, ModelRecord]:
    """Fit ``kind`` on ``n_train`` random rows of the table and store it with held-out metrics.

    Args:
        space, task: Benchmark table and task.
        kind: Registered predictor name.
        n_train: Training rows (drawn with ``seed``).
        target: ``(task, metric)`` to predict (default
            :func:`~archgen.predictors.benchmark.default_target`).
        params: Constructor arguments overriding the defaults.
        store: Where to save (default :meth:`ModelStore.default`).
        model_id: Store id (default ``{kind}-{space}-{task}-n{n}-s{seed}-{hash}``).
        eval_max: Score at most this many held-out rows (default: all, or
            :data:`IMAGE_EVAL_MAX` for predictors that need images).
        log: Progress callback.

    Raises:
        PredictorInputError: ``n_train`` leaves no held-out rows or is below the predictor's minimum.
    """
    store = store or ModelStore.default()
    pred = make_predictor(kind, task, seed, params)
    split = training_split(space, task, n_train, seed, target=target, eval_max=heldout_cap(pred, eval_max))
    say = log or (lambda _m: None)
    say(f"fitting {kind} on {n_train} {space} cells ({split.target[0]} {split.target[1]}), seed {seed}")
    t0 = time.perf_counter()
    pred.fit([split.archs[i] for i in split.train], split.y[split.train])
    fit_s = time.perf_counter() - t0
    say(f"fitted in {fit_s:.1f}s; scoring {len(split.test)} held-out cells")
    record = model_record(pred, split, kind, space, task, seed, heldout_metrics(pred, split, fit_s))
    record.id = model_id or default_model_id(record)
    store.save(pred, record)
    say(f"stored {record.id}: held-out Kendall tau {record.heldout['kendall_tau']:.3f} on {len(split.test)} cells")
    return pred, record


def default_model_id(record: ModelRecord) -> str:
    """``{kind}-{space}-{task}-n{n}-s{seed}-{hash}``: unique per training run."""
    digest = hashlib.sha256(f"{record.train_archs}{record.params}{time.time_ns()}".encode()).hexdigest()[:8]
    return f"{record.kind}-{record.space}-{record.task}-n{record.n_train}-s{record.seed}-{digest}"
