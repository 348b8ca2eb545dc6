"""The trained-model registry, and training new predictors as jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from archgen.api.errors import ApiError
from archgen.api.routes.common import accepted
from archgen.api.schemas import ErrorResponse, Job, ModelDetail, ModelList
from archgen.api.state import Data, Key, State
from archgen.artifacts import ArtifactRecord
from archgen.errors import UnknownNameError
from archgen.services.predictors import TrainPredictorParams, validate_params

router = APIRouter(prefix="/v1", tags=["predictors"])


def _summary(rec: ArtifactRecord, default: bool) -> dict[str, Any]:
    """``rec.summary()`` and whether it is a default (the response model keeps the documented fields)."""
    return rec.summary() | {"default": default}


@router.get("/predictors", response_model=ModelList)
def list_models(state: State, _: Key) -> dict:
    """Stored predictors with provenance and held-out metrics, newest first; unusable ones under ``broken``.
    (The store's generators are the service's own; supernets are listed by ``GET /v1/supernets``.)"""
    recs, bad = state.models.store.scan()
    broken = [{"id": i, "error": e} for i, e in bad.items()]
    preds = [r for r in recs if r.artifact_type == "predictor"]
    return {"predictors": [_summary(r, state.models.is_default(r.id)) for r in preds], "broken": broken}


@router.get("/predictors/{model_id}", response_model=ModelDetail, responses={404: {"model": ErrorResponse}})
def get_model(model_id: str, state: State, _: Key) -> dict:
    """One predictor: provenance (training architectures, seed, parameters, versions), held-out metrics."""
    rec = state.models.store.record(model_id)
    if rec.artifact_type != "predictor":
        raise UnknownNameError("predictor", model_id, [r.id for r in state.models.store.records()
                                                       if r.artifact_type == "predictor"])  # fmt: skip
    return _summary(rec, state.models.is_default(rec.id)) | {"train_archs": rec.train_archs}


@router.post(
    "/predictors",
    status_code=202,
    response_model=Job,
    responses={
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
    },
)
def train(
    req: TrainPredictorParams,
    state: State,
    key: Key,
    data: Data,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Train a predictor as a job (202 + ``Location``); its result names the stored model.

    The request is checked (kind, space, task, metric, ``n_train`` bounds,
    parameters) before a job exists: what is wrong is a 404 or 422.
    """
    state.check_task(req.space, req.task, data)
    if req.model_id is not None:
        raise ApiError(422, "invalid_input", "model_id: the service names the models it stores; leave it out")
    validate_params(req, data)  # kind, metric, n_train bounds, parameters: a 404 or 422 before any job
    job = state.submit_job("train_predictor", req.model_dump(mode="json", exclude_none=True), key.id, idempotency_key)
    return accepted(job)
