"""The trained-model registry, and training new predictors as jobs."""

from __future__ import annotations

from typing import Annotated, Any

from archgen.api.errors import ApiError
from archgen.api.routes.common import accepted
from archgen.api.schemas import ErrorResponse, Job, ModelDetail, ModelList, TrainRequest
from archgen.api.state import Key, State
from archgen.predictors.base import list_predictors, predictor_class
from archgen.predictors.benchmark import default_target
from archgen.predictors.store import ModelRecord
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from archgen.errors import UnknownNameError, UnsupportedSpaceError

router = APIRouter(prefix="/v1", tags=["predictors"])


def _summary(rec: ModelRecord, default: bool) -> dict[str, Any]:
    """``rec.summary()`` and whether it is a default (the response model keeps the documented fields)."""
    return rec.summary() | {"default": default}


@router.get("/predictors", response_model=ModelList)
def list_models(state: State, _: Key) -> dict:
    """Stored predictors with provenance and held-out metrics, newest first."""
    recs = state.models.store.records()
    return {"predictors": [_summary(r, state.models.is_default(r.id)) for r in recs]}


@router.get("/predictors/{model_id}", response_model=ModelDetail, responses={404: {"model": ErrorResponse}})
def get_model(model_id: str, state: State, _: Key) -> dict:
    """One predictor: provenance (training architectures, seed, parameters, versions), held-out metrics."""
    rec = state.models.store.record(model_id)
    return _summary(rec, state.models.is_default(rec.id)) | {"train_archs": rec.train_archs}


@router.post(
    "/predictors",
    status_code=202,
    response_model=Job,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
def train(
    req: TrainRequest,
    state: State,
    key: Key,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Train a predictor as a job (202 + ``Location``); its result names the stored model."""
    table = state.check_task(req.space, req.task)
    if req.kind not in list_predictors():
        raise UnknownNameError("predictor kind", req.kind, list_predictors())
    cls = predictor_class(req.kind)
    if cls.capabilities.spaces and req.space not in cls.capabilities.spaces:
        raise UnsupportedSpaceError(f"predictor {req.kind!r}", req.space, cls.capabilities.spaces)
    target = default_target(req.space, req.task) if req.metric is None else (req.task, req.metric)
    if req.metric is not None and req.metric not in table.metrics(req.task):
        raise UnknownNameError(f"metric of {req.space}/{req.task}", req.metric, table.metrics(req.task))
    rows = table.coverage(*target)
    if not cls.capabilities.min_train <= req.n_train < rows:
        raise ApiError(
            422,
            "invalid_input",
            f"n_train must be between {cls.capabilities.min_train} and {rows - 1} for {req.kind} on "
            f"{req.space}/{target[0]} {target[1]} ({rows} published values), got {req.n_train}",
        )
    try:
        cls(**req.params)
    except TypeError as e:
        raise ApiError(422, "invalid_input", f"invalid params for {req.kind}: {e}") from None
    params = {
        "space": req.space,
        "task": req.task,
        "kind": req.kind,
        "n_train": req.n_train,
        "seed": req.seed,
        "target": list(target),
        "params": req.params,
    }
    job, created = state.jobs.create("train_predictor", params, key.id, idempotency_key)
    if created:
        state.wake_jobs("train_predictor")
    return accepted(job)
