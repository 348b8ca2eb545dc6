"""The built-in job kinds: training a predictor, computing zero-cost scores.

Each resumes from its checkpoint: a training job that had fitted its
predictor reloads it instead of fitting again; a zero-cost job finds the
cells it had scored in the score cache and computes only the others.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from archgen.jobs.base import JobContext, register_job


def train_model_id(params: dict[str, Any], job_id: str) -> str:
    """The store id a training job writes: given, or derived from the job (the same on every attempt)."""
    if params.get("model_id"):
        return str(params["model_id"])
    return f"{params['kind']}-{params['space']}-{params['task']}-n{params['n_train']}-s{params.get('seed', 0)}-{job_id[:8]}"


@register_job("train_predictor", "Fit a predictor on a benchmark table, score it on held-out cells, store it")
def train_predictor(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Params: ``space``, ``task``, ``kind``, ``n_train``, ``seed``, ``params`` (constructor
    arguments), ``target`` (``[task, metric]``), ``eval_max``, ``model_id``.

    Checkpoints: ``{"stage": "fitted"}`` once the fitted predictor is staged in
    the job's work directory; a resumed job loads it instead of fitting again.
    """
    from archgen.predictors.store import ModelStore
    from archgen.predictors.training import (
        heldout_cap,
        heldout_metrics,
        make_predictor,
        model_record,
        training_split,
    )

    space, task, kind = params["space"], params["task"], params["kind"]
    n_train, seed = int(params["n_train"]), int(params.get("seed", 0))
    store = ModelStore(ctx.settings.model_dir)
    model_id = train_model_id(params, ctx.job_id)
    if model_id in store.ids():  # stored by an earlier attempt that died before recording success
        return {"model_id": model_id, "model": store.record(model_id).summary(), "resumed": True}
    pred = make_predictor(kind, task, seed, params.get("params"))
    target = tuple(params["target"]) if params.get("target") else None
    eval_max = heldout_cap(pred, params.get("eval_max"))
    split = training_split(space, task, n_train, seed, target=target, eval_max=eval_max)  # type: ignore[arg-type]
    staging = ModelStore(ctx.workdir / "staged")
    resumed = ctx.state.get("stage") == "fitted" and model_id in staging.ids()
    if resumed:
        pred, staged = staging.load(model_id, space)
        fit_s = float(staged.heldout.get("fit_s", 0.0))
        ctx.progress(
            0.8, f"resumed from checkpoint: loaded the fitted {kind}; scoring {len(split.test)} held-out cells"
        )
    else:
        ctx.progress(
            0.01, f"fitting {kind} on {n_train} {space} cells ({split.target[0]} {split.target[1]}), seed {seed}"
        )
        t0 = time.perf_counter()
        pred.fit([split.archs[i] for i in split.train], split.y[split.train])
        fit_s = time.perf_counter() - t0
        record = model_record(pred, split, kind, space, task, seed, {"fit_s": fit_s})
        record.id = model_id
        if model_id in staging.ids():
            staging.delete(model_id)
        staging.save(pred, record)
        ctx.checkpoint({"stage": "fitted"}, 0.8, f"fitted in {fit_s:.1f} s; scoring {len(split.test)} held-out cells")
    record = model_record(pred, split, kind, space, task, seed, heldout_metrics(pred, split, fit_s))
    record.id = model_id
    ctx.check()
    store.save(pred, record)
    shutil.rmtree(staging.root, ignore_errors=True)
    tau = record.heldout["kendall_tau"]
    ctx.progress(1.0, f"stored {model_id}: held-out Kendall tau {tau:.3f} on {record.heldout['n']} cells")
    return {"model_id": model_id, "model": record.summary(), "resumed": resumed}


@register_job("zero_cost", "Compute zero-cost proxies of architectures on a task's images")
def zero_cost(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Params: ``space``, ``task``, ``architectures`` (string forms), ``proxies``,
    ``batch_size``, ``width``, ``seed``.

    Every computed cell goes to the score cache before progress is reported, so
    a resumed job computes only the cells that were not finished.
    """
    from archgen.predictors.zerocost import ZCSettings, score_archs
    from archgen.spaces import get_space

    space = get_space(params["space"])
    archs = [space.parse(a) for a in params["architectures"]]
    zc = ZCSettings(batch_size=int(params["batch_size"]), C=int(params["width"]), seed=int(params["seed"]))
    cells = len({space.format(space.canonical(a)) for a in archs})
    computed = 0

    def on_cell(done: int, todo: int) -> None:
        nonlocal computed
        computed = done
        finished = cells - todo + done
        ctx.checkpoint({"cells_scored": finished}, finished / cells, f"{finished}/{cells} cells scored")

    scores = score_archs(
        archs,
        params["task"],
        params["proxies"],
        zc,
        data_dir=ctx.settings.data_dir,
        cache_dir=ctx.settings.cache_dir,
        on_cell=on_cell,
    )
    given = params.get("given", params["architectures"])
    result = zero_cost_result(space, archs, given, params["task"], scores, zc)
    return result | {"cells": cells, "cells_computed_by_this_run": computed}


def zero_cost_result(space, archs, given, task, scores, zc) -> dict[str, Any]:
    """The body the service answers a zero-cost request with (inline or as a job's result)."""
    from archgen.serialize import to_jsonable

    proxies = list(scores)
    return {
        "space": space.name,
        "task": task,
        "settings": {"batch_size": zc.batch_size, "width": zc.C, "cells_per_stage": zc.N, "seed": zc.seed},
        "results": [
            {
                "architecture": g,
                "canonical": space.format(space.canonical(a)),
                "scores": {p: to_jsonable(scores[p][k]) for p in proxies},
            }
            for k, (a, g) in enumerate(zip(archs, given, strict=True))
        ],
    }
