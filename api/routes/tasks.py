"""User tasks: upload a labelled image folder (a zip or tar archive) as a job; list and show tasks."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from archgen.api.errors import ApiError
from archgen.api.routes.common import job_json
from archgen.api.schemas import ErrorResponse
from archgen.api.state import Key, State
from archgen.errors import TaskExistsError
from archgen.services.jobs import AddTaskParams, upload_name
from archgen.services.supernets import supernet_records
from archgen.tasks.images import BUILTIN_IMAGE_TASKS
from archgen.tasks.store import check_task_name

router = APIRouter(prefix="/v1", tags=["tasks"])


@router.post(
    "/tasks",
    status_code=202,
    responses={
        409: {"model": ErrorResponse, "description": "A task of that name exists."},
        413: {"model": ErrorResponse, "description": "The archive is over task_max_upload_bytes."},
        422: {"model": ErrorResponse},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A zip or tar (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) of the folder: <class>/*.jpg|jpeg|png, "
            "at least two classes of at least five images each (a wrapping folder is fine).",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        "application/zip": {"schema": {"type": "string", "format": "binary"}},
                        "application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)  # fmt: skip
async def upload_task(
    request: Request,
    state: State,
    key: Key,
    name: Annotated[
        str, Query(min_length=1, max_length=48, description="The task's name (lower-case letters, digits, -, _).")
    ],
    image_size: Annotated[int, Query(ge=8, le=256, description="Side the images are resized to.")] = 32,
    val_fraction: Annotated[float, Query(ge=0.05, le=0.5, description="Fraction of each class held out.")] = 0.2,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1, description="Seed of the split.")] = 0,
    filename: Annotated[str | None, Query(max_length=255, description="The archive's name, recorded.")] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Upload an archive of a labelled image folder; a job (202, poll ``Location``) unpacks it (size and file
    limits), validates it (class folders, readable images), decodes the images, records a checksum and a
    stratified train/validation split, and registers the task. The task's name then works in ``/v1/zero-cost``,
    ``/v1/supernets``, ``/v1/predict``, ``/v1/generate``, ``/v1/searches`` and ``/v1/trainings``."""
    check_task_name(name)  # 422 naming the rule, before the body is read
    repeat = state.jobs.by_key(key.id, idempotency_key) if idempotency_key else None
    if repeat is None:
        if name in state.data.tasks:
            raise TaskExistsError(f"task {name!r} exists already")
        adding = [j.id for j in state.jobs.open_of(key.id, "add_task") if j.params.get("name") == name]
        if adding:
            raise TaskExistsError(f"task {name!r} is being added by job {adding[0]} (GET /v1/jobs/{adding[0]})")
    uploads = state.settings.paths.upload_dir
    uploads.mkdir(parents=True, exist_ok=True)
    partial = uploads / f".{uuid.uuid4().hex}.part"  # named for its content once complete
    h = hashlib.sha256()
    size = 0
    final: Path | None = None
    try:
        with partial.open("wb") as f:
            async for chunk in request.stream():
                h.update(chunk)
                size += len(chunk)
                f.write(chunk)
        if size == 0:
            raise ApiError(422, "invalid_input", "the request body is empty: send the archive's bytes")
        digest = h.hexdigest()
        params = AddTaskParams(name=name, upload=upload_name(digest, key.id, name), upload_sha256=digest,
                               filename=filename, image_size=image_size, val_fraction=val_fraction, seed=seed)  # fmt: skip
        if repeat is None:
            final = uploads / params.upload
            partial.replace(final)
        # a repeat under the same Idempotency-Key answers with the first job (409 if it was another request)
        job = state.submit_job("add_task", params.model_dump(mode="json"), key.id, idempotency_key)
    except BaseException:
        partial.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)
        raise
    partial.unlink(missing_ok=True)
    return JSONResponse(job_json(job) | {"bytes": size}, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("/tasks")
def list_tasks(state: State, _: Key) -> dict:
    """The built-in tasks with images and every registered user task (classes, counts, split, checksums)."""
    return {
        "builtin": list(BUILTIN_IMAGE_TASKS),
        "tasks": [r.summary() for r in state.data.tasks.records()],
    }


@router.get("/tasks/{name}", responses={404: {"model": ErrorResponse}})
def get_task(name: str, state: State, _: Key) -> dict:
    """One user task, with its stored supernets (newest first)."""
    rec = state.data.tasks.record(name)
    return rec.summary() | {"supernets": [r.summary() for r in supernet_records(state.data.models, name)]}
