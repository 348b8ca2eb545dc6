"""Learning-curve tables of a user's task: build one (a durable job), follow it, download the table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header
from fastapi.responses import FileResponse, JSONResponse

from archgen.api.errors import ApiError
from archgen.api.routes.common import job_json, job_of_kind, validated
from archgen.api.schemas import ErrorResponse, Job
from archgen.api.state import Data, Key, ServiceState, State
from archgen.curves.build import CurveTableParams
from archgen.jobs import JobRecord
from archgen.services.curve_tables import TABLE_FILE, check_curve_table

router = APIRouter(prefix="/v1", tags=["curve tables"])


def _json(job: JobRecord) -> dict:
    return job_json(job) | {"location": f"/v1/curve-tables/{job.id}", "table": f"/v1/curve-tables/{job.id}/table"}


def _job(state: ServiceState, job_id: str, owner: str) -> JobRecord:
    return job_of_kind(state, job_id, owner, "curve_table", "curve table")


@router.post(
    "/curve-tables",
    status_code=202,
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
)
def submit_curve_table(
    state: State,
    key: Key,
    data: Data,
    body: Annotated[
        dict,
        Body(
            description="CurveTableParams: task (a registered task of yours with a test split), cells (uniform "
            "random NB201 candidates, 300), c10_top (CIFAR-10's best published cells added, 5), top (best by "
            "validation given a third seed, 15), seeds (2 or 3), seed, epochs, C, N, batch_size (the final "
            "schedule), workers (trainings at once)",
            examples=[{"task": "pets", "cells": 300, "epochs": 20}],
        ),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Queue the build of a task's learning-curve table (202; poll ``location``). Every candidate is trained on the
    final schedule with seeds 0 and 1 (seed 2 for the best by validation and CIFAR-10's cells), recording each
    epoch's validation and test accuracy and seconds; ``table`` downloads it (the trainings so far while it runs):
    ``archgen bench replay --table FILE`` replays every search method against it in seconds."""
    params = validated(CurveTableParams, body)
    check_curve_table(params, data, state.settings.job_memory_bytes)
    if params.epochs > state.settings.training_max_epochs:
        raise ApiError(422, "invalid_input", f"epochs: at most {state.settings.training_max_epochs} "
                       "(ARCHGEN_TRAINING_MAX_EPOCHS)")  # fmt: skip
    job = state.submit_job("curve_table", params.model_dump(mode="json"), key.id, idempotency_key)
    return JSONResponse(_json(job), status_code=202, headers={"Location": f"/v1/curve-tables/{job.id}"})


@router.get("/curve-tables/{job_id}", responses={404: {"model": ErrorResponse}})
def get_curve_table(job_id: str, state: State, key: Key) -> dict:
    """Status, progress (trainings done of those planned) and, when it has succeeded, the table's summary."""
    return _json(_job(state, job_id, key.id))


@router.get(
    "/curve-tables/{job_id}/table",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorResponse},
               409: {"model": ErrorResponse}},
)  # fmt: skip
def download_curve_table(job_id: str, state: State, key: Key) -> FileResponse:
    """The table (``.npz`` with a JSON header, no pickle; :mod:`archgen.curves.table`) as it stands: every
    finished training, also while the job runs or after it was cancelled; 409 before the first training ends."""
    job = _job(state, job_id, key.id)
    path = state.settings.job_dir / job.id / TABLE_FILE
    if not path.is_file():
        raise ApiError(409, "not_ready", f"curve table {job_id} has no finished training yet (status {job.status})")
    return FileResponse(path, media_type="application/octet-stream", filename=f"curves-{job.params['task']}.npz")


@router.delete(
    "/curve-tables/{job_id}",
    response_model=Job,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def cancel_curve_table(job_id: str, state: State, key: Key) -> dict:
    """Cancel: a queued build at once, a running one before its next training (the table so far is kept)."""
    _job(state, job_id, key.id)
    return job_json(state.jobs.request_cancel(job_id, key.id))
