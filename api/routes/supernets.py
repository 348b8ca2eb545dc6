"""Weight-sharing supernets of tasks: train one (a job), list the stored ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse

from archgen.api.errors import ApiError
from archgen.api.routes.common import job_json, validated
from archgen.api.schemas import ErrorResponse
from archgen.api.state import Data, Key, State
from archgen.services.supernets import SupernetParams, check_supernet_request, supernet_records

router = APIRouter(prefix="/v1", tags=["supernets"])


@router.post(
    "/supernets",
    status_code=202,
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
)
def submit_supernet(
    state: State,
    key: Key,
    data: Data,
    body: Annotated[
        dict,
        Body(
            description="SupernetParams: task (cifar10, cifar10-valid or a user task), minutes (wall-time budget), "
            "epochs, batch_size, lr, C, N, resolution, sampling (uniform | fair), calib_batches, eval_images, seed",
            examples=[{"task": "pets", "minutes": 30}],
        ),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Queue the training of a task's supernet (202; poll ``Location``). When it has succeeded, the task's
    predictions, supernet-guided generation and searches use the newest stored supernet of the task."""
    params = validated(SupernetParams, body)
    check_supernet_request(params, data, state.settings.job_memory_bytes)
    # stored in the key's own store: a picked id never takes a service artifact's place, nor another key's
    if params.model_id is not None and params.model_id in data.owned.ids():
        raise ApiError(409, "conflict", f"model_id: you have a stored supernet named {params.model_id!r} already")
    if params.minutes > state.settings.supernet_max_minutes:
        raise ApiError(422, "invalid_input", f"minutes: at most {state.settings.supernet_max_minutes:g} "
                       "(ARCHGEN_SUPERNET_MAX_MINUTES)")  # fmt: skip
    job = state.submit_job("train_supernet", params.model_dump(mode="json"), key.id, idempotency_key)
    return JSONResponse(job_json(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("/supernets")
def list_supernets(key: Key, data: Data, task: str | None = None) -> dict:
    """Your stored supernets (of ``task``), newest first: id, task, parameters, training seconds and steps; under
    ``broken``, those whose record cannot be used (delete the task's supernets and train again)."""
    good, bad = data.owned.scan(verify_files=True)  # a key's supernets: a few megabytes each; one scan
    return {"supernets": [r.summary() for r in supernet_records(data.owned, task, good)], "broken": bad}
