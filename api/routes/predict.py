"""Predicted accuracy, with uncertainty, from a stored or default predictor."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from archgen.api.errors import ApiError
from archgen.api.schemas import ErrorResponse, PredictRequest, PredictResponse
from archgen.api.serving import served_info, target_info
from archgen.api.state import Data, Key, ServiceState, State
from archgen.context import Workspace
from archgen.services.inference import ServedModel, parse_batch, predict
from archgen.services.supernets import supernet_predictions
from archgen.services.task_prior import task_prior

router = APIRouter(prefix="/v1", tags=["predict"])


def _model(state: ServiceState, req: PredictRequest) -> tuple[ServedModel, str]:
    if req.predictor is not None:
        served = state.models.get(req.predictor)
        rec = served.record
        if (rec.space, rec.task) != (req.space, req.task):
            raise ApiError(
                422,
                "predictor_mismatch",
                f"predictor {rec.id!r} was trained for {rec.space}/{rec.task}, not {req.space}/{req.task}",
            )
        return served, "final"
    d = state.models.default_for(req.space, req.task)
    serving = d.serving
    if serving is None:
        if d.status == "failed":
            raise ApiError(503, "predictor_unavailable", f"default predictor for {req.space}/{req.task}: {d.error}")
        what = f"training (job {d.job_id})" if d.status == "training" else d.status
        raise ApiError(
            503,
            "predictor_not_ready",
            f"the default predictor for {req.space}/{req.task} is {what}; GET /v1/ready shows progress",
            {"Retry-After": "10"},
        )
    return serving


@router.post(
    "/predict",
    response_model=PredictResponse,
    response_model_exclude_unset=True,  # the body as the service builds it (no defaults added)
    responses={
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
async def predict_route(req: PredictRequest, state: State, _: Key, data: Data) -> PredictResponse:
    """Predicted accuracy (mean, and std when ``uncertainty``) of each architecture.

    Architectures are the space's string form or row index; each answer also
    gives the canonical form (one representative of its isomorphism class).
    ``target`` names what ``mean`` and ``std`` predict (for NB201 CIFAR-10 the
    cifar10-valid 200-epoch validation accuracy, in %); ``predictor.stage`` is
    ``quick`` while a first start serves its quick LightGBM.
    """
    resolved = await run_in_threadpool(state.resolve, req.space, req.task, data)
    if resolved.user:  # seconds of supernet forward passes: on the service's own small pool, not the shared one
        return await asyncio.wrap_future(state.supernet_pool.submit(_predict_user_task, req, state, data))
    return await run_in_threadpool(_predict_table_task, req, state, data)


def _predict_table_task(req: PredictRequest, state: ServiceState, data: Workspace) -> PredictResponse:
    """A benchmark task: the default (or named) predictor."""
    t0 = time.perf_counter()
    state.check_task(req.space, req.task, data)
    batch = parse_batch(state.space(req.space), req.architectures, state.settings.max_archs)
    served, stage = _model(state, req)
    result = predict(served, batch, uncertainty=req.uncertainty, memo=state.canonical)
    preds = [
        {"architecture": p.architecture, "canonical": p.canonical, "mean": p.mean, "std": p.std}
        for p in result.predictions
    ]
    state.metrics.predictions.labels(req.space, req.task).inc(len(preds))
    state.metrics.predict_seconds.observe(time.perf_counter() - t0)
    return PredictResponse.model_validate(
        {
            "target": target_info(state.data, served.record),
            "predictor": served_info(served, stage),
            "predictions": preds,
        }
    )


def _predict_user_task(req: PredictRequest, state: ServiceState, data: Workspace) -> PredictResponse:
    """A user task (no table): its label-free prior (:func:`archgen.services.task_prior.task_prior`: other tasks'
    published accuracies, zero-cost proxies on its images, its newest supernet when it has one) by default; with
    ``predictor`` ``"supernet"`` or a supernet's id, that supernet's held-out accuracy of each path."""
    if req.space != "nb201":
        raise ApiError(
            422,
            "unsupported_space",
            f"user task {req.task!r} is predicted in nb201 (its prior's and supernet's space), not {req.space!r}",
        )
    limit = state.settings.supernet_inline_archs
    if len(req.architectures) > limit:
        raise ApiError(413, "too_many_architectures",
                       f"at most {limit} architectures per prediction of a user task (zero-cost proxies or supernet "
                       "passes: about 5-8 a second on the CPU; ARCHGEN_SUPERNET_INLINE_ARCHS); split the request",
                       limit=limit)  # fmt: skip
    batch = parse_batch(state.space(req.space), req.architectures, limit)
    if req.predictor is None:
        prior = task_prior(data, req.task)
        pct, spread = prior.model.percentile(prior.values(batch.archs))
        means, stds = [float(v) for v in pct], [float(v) for v in spread] if req.uncertainty else None
        target = {"space": req.space, "task": req.task, "column": f"{req.task}/prior_percentile", "dataset": req.task,
                  "metric": "prior_percentile", "unit": "percentile",
                  "description": "predicted percentile (0-100) of the architecture's trained accuracy among the "
                                 "space's cells on this task, from sources that read none of its labels: "
                                 + ", ".join(prior.model.names) + " (a ranking, not an accuracy; the transfer "
                                 "sources are other tasks' published labels)"}  # fmt: skip
        predictor = {"id": f"prior:{req.task}", "kind": "source-prior", "stage": "final",
                     "trained_on": {"space": req.space, "task": req.task, "target": "prior_percentile",
                                    "architectures": 0},
                     "heldout_kendall_tau": None}  # fmt: skip
    else:
        model_id = None if req.predictor == "supernet" else req.predictor
        res = supernet_predictions(data, req.task, batch.archs, model_id=model_id, uncertainty=req.uncertainty)
        means, stds, rec = res.mean, res.std, res.record
        target = {"space": req.space, "task": req.task, "column": f"{req.task}/supernet_acc", "dataset": req.task,
                  "metric": "supernet_acc", "unit": "%",
                  "description": f"held-out accuracy of the architecture's path through the task's supernet "
                                 f"(inherited weights, batch norm recalibrated) on {res.heldout_images} validation "
                                 "images: ranks architectures, below a trained network's accuracy"}  # fmt: skip
        predictor = {"id": rec.id, "kind": rec.kind, "stage": "final",
                     "trained_on": {"space": rec.space, "task": rec.task, "target": "/".join(rec.target),
                                    "architectures": 0},
                     "heldout_kendall_tau": None}  # fmt: skip
    canon = batch.canonical(state.canonical)
    spreads: list[float | None] = list(stds) if stds is not None else [None] * len(means)
    preds = [{"architecture": g, "canonical": c, "mean": m, "std": s}
             for g, c, m, s in zip(batch.given, canon, means, spreads, strict=True)]  # fmt: skip
    state.metrics.predictions.labels(req.space, req.task).inc(len(preds))
    return PredictResponse.model_validate({"target": target, "predictor": predictor, "predictions": preds})
