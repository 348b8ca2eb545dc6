"""Predicted accuracy, with uncertainty, from a stored or default predictor."""

from __future__ import annotations

import math
import time

from archgen.api.errors import ApiError
from archgen.api.routes.common import parse_architectures
from archgen.api.schemas import ErrorResponse, PredictRequest, PredictResponse
from archgen.api.serving import ServedModel, table_rows
from archgen.api.state import Key, ServiceState, State
from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/v1", tags=["predict"])


def _model(state: ServiceState, req: PredictRequest) -> ServedModel:
    if req.predictor is not None:
        served = state.models.get(req.predictor)
        rec = served.record
        if (rec.space, rec.task) != (req.space, req.task):
            raise ApiError(
                422,
                "predictor_mismatch",
                f"predictor {rec.id!r} was trained for {rec.space}/{rec.task}, not {req.space}/{req.task}",
            )
        return served
    d = state.models.default_for(req.space, req.task)
    if d.model is None:
        if d.status == "failed":
            raise ApiError(503, "predictor_unavailable", f"default predictor for {req.space}/{req.task}: {d.error}")
        what = f"training (job {d.job_id})" if d.status == "training" else d.status
        raise ApiError(
            503,
            "predictor_not_ready",
            f"the default predictor for {req.space}/{req.task} is {what}; GET /v1/ready shows progress",
            {"Retry-After": "10"},
        )
    return d.model


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={
        404: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
def predict(req: PredictRequest, state: State, _: Key) -> JSONResponse:
    """Predicted accuracy (mean, and std when ``uncertainty``) of each architecture.

    Architectures are the space's string form or row index; each answer also
    gives the canonical form (one representative of its isomorphism class).
    """
    t0 = time.perf_counter()
    state.check_task(req.space, req.task)
    space = state.space(req.space)
    archs = parse_architectures(space, req.architectures, state.settings.max_archs)
    served = _model(state, req)
    rows = table_rows(req.space, archs)
    mean, std = served.predict(archs, rows)
    canon = state.canonical(space, archs, rows)
    preds = [
        {
            "architecture": given,
            "canonical": c,
            "mean": float(m),
            "std": (float(s) if math.isfinite(s) else None) if req.uncertainty else None,
        }
        for given, c, m, s in zip(req.architectures, canon, mean.tolist(), std.tolist(), strict=True)
    ]
    state.metrics.predictions.labels(req.space, req.task).inc(len(archs))
    state.metrics.predict_seconds.observe(time.perf_counter() - t0)
    return JSONResponse({"predictor": served.info(), "predictions": preds})
