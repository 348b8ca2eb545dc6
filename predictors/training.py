"""Train a predictor on a benchmark table, measure it on held-out cells, store it.

Used by ``archgen predictors train`` and by the HTTP service's training jobs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from archgen.predictors.base import Predictor, get_predictor, predictor_class
from archgen.predictors.metrics import coverage, kendall_tau, spearman, top_k_precision
from archgen.predictors.store import ModelRecord, ModelStore

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
    from archgen.predictors.benchmark import default_target, table_archs

    from archgen.spaces import get_space

    store = store or ModelStore.default()
    target = tuple(target) if target else default_target(space, task)  # type: ignore[assignment]
    archs, y = table_archs(space, *target)
    if not 0 < n_train < len(archs):
        raise PredictorInputError(
            f"n_train must be between 1 and {len(archs) - 1} for {space}/{target[0]}, got {n_train}"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(archs))
    train, test = np.sort(perm[:n_train]), perm[n_train:]
    pred = get_predictor(kind, **predictor_kwargs(kind, task, seed, **(params or {})))
    if eval_max is None and pred.capabilities.needs_images:
        eval_max = IMAGE_EVAL_MAX
    if eval_max is not None:
        test = test[:eval_max]
    test = np.sort(test)
    say = log or (lambda _m: None)
    say(f"fitting {kind} on {n_train} {space} cells ({target[0]} {target[1]}), seed {seed}")
    t0 = time.perf_counter()
    pred.fit([archs[i] for i in train], y[train])
    fit_s = time.perf_counter() - t0
    say(f"fitted in {fit_s:.1f}s; scoring {len(test)} held-out cells")
    mean, std = pred.predict_with_uncertainty([archs[i] for i in test])
    heldout: dict[str, Any] = {
        "n": len(test),
        "kendall_tau": kendall_tau(y[test], mean),
        "spearman": spearman(y[test], mean),
        "top5_precision": top_k_precision(y[test], mean, 0.05),
        "fit_s": fit_s,
    }
    if pred.capabilities.has_uncertainty:
        heldout["coverage_1sigma"] = coverage(y[test], mean, std)
        heldout["coverage_2sigma"] = coverage(y[test], mean, std, 2.0)
    sp = get_space(space)
    record = ModelRecord(
        id="",
        kind=kind,
        space=space,
        task=task,
        target=list(target),
        params=pred.get_params(),
        seed=seed,
        train_archs=[sp.format(archs[i]) for i in train],
        heldout=heldout,
    )
    if model_id is None:
        digest = hashlib.sha256(f"{record.train_archs}{record.params}{time.time_ns()}".encode()).hexdigest()[:8]
        model_id = f"{kind}-{space}-{task}-n{n_train}-s{seed}-{digest}"
    record.id = model_id
    store.save(pred, record)
    say(f"stored {model_id}: held-out Kendall tau {heldout['kendall_tau']:.3f} on {len(test)} cells")
    return pred, record
