"""User tasks: upload a labelled image folder (a zip or tar archive) as a job; list and show tasks."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from archgen.api.errors import ApiError
from archgen.api.routes.common import job_json
from archgen.api.schemas import ErrorResponse
from archgen.api.state import Data, Key, ServiceState, State
from archgen.context import Workspace, owned_bytes
from archgen.datasets import list_tables
from archgen.errors import DataError, TaskExistsError
from archgen.jobs import JobRecord
from archgen.services.jobs import AddTaskParams, upload_name
from archgen.services.supernets import supernet_records
from archgen.tasks.images import BUILTIN_IMAGE_TASKS
from archgen.tasks.resolve import check_new_task_name
from archgen.tasks.store import TEST_FRACTION, check_task_name

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
    data: Data,
    name: Annotated[
        str, Query(min_length=1, max_length=48, description="The task's name (lower-case letters, digits, -, _).")
    ],
    image_size: Annotated[int, Query(ge=8, le=256, description="Side the images are resized to.")] = 32,
    val_fraction: Annotated[
        float, Query(ge=0.05, le=0.5, description="Fraction of each class held out for validation (selection).")
    ] = 0.2,
    test_fraction: Annotated[
        float,
        Query(
            ge=0.0,
            le=0.5,
            description="Fraction of each class held out as the test split (reported, never selected by; 0: none).",
        ),
    ] = TEST_FRACTION,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1, description="Seed of the split.")] = 0,
    filename: Annotated[str | None, Query(max_length=255, description="The archive's name, recorded.")] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Upload an archive of a labelled image folder; a job (202, poll ``Location``) unpacks it (size and file
    limits), validates it (class folders, readable images), decodes the images, records a checksum and a
    stratified train/validation/test split, and registers the task. The task's name then works in ``/v1/zero-cost``,
    ``/v1/supernets``, ``/v1/predict``, ``/v1/generate``, ``/v1/searches`` and ``/v1/trainings``."""
    check_task_name(name)  # 422 naming the rule, before the body is read
    # off the event loop: the first call reads every space's table, the quota walks the key's files
    await run_in_threadpool(check_new_task_name, data, name, list_tables())
    repeat = state.jobs.by_key(key.id, idempotency_key) if idempotency_key else None
    if repeat is None:  # a repeat answers with its first job, whatever has happened since
        await run_in_threadpool(check_quota, state, data, key.id)
        if name in data.tasks:
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
                               filename=filename, image_size=image_size, val_fraction=val_fraction,
                               test_fraction=test_fraction, seed=seed)  # fmt: skip
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
def list_tasks(state: State, key: Key, data: Data) -> dict:
    """The built-in tasks with images, your tasks and the shared ones (added by the service's operator with
    ``archgen tasks add``: ``"shared": true``, usable by every key, deletable by none): classes, counts, split,
    checksums; ``broken`` names tasks whose record cannot be read (delete and upload yours again); ``usage`` is
    what your tasks, supernets, searches and trainings take against your quota."""
    tasks, broken = [], {}
    for name in data.tasks.names():
        try:
            tasks.append(data.tasks.record(name).summary() | {"shared": data.tasks.is_shared(name)})
        except DataError as e:
            broken[name] = str(e)
    return {"builtin": list(BUILTIN_IMAGE_TASKS), "tasks": tasks, "broken": broken,
            "usage": usage(state, data, key.id)}  # fmt: skip


@router.get("/tasks/{name}", responses={404: {"model": ErrorResponse}})
def get_task(name: str, _: Key, data: Data) -> dict:
    """One of your tasks (or a shared one), with your supernets of it (newest first)."""
    rec = data.tasks.record(name)
    return rec.summary() | {"shared": data.tasks.is_shared(name),
                            "supernets": [r.summary() for r in supernet_records(data.owned, name)]}  # fmt: skip


@router.delete(
    "/tasks/{name}",
    responses={403: {"model": ErrorResponse, "description": "A shared task (read-only)."},
               404: {"model": ErrorResponse}, 409: {"model": ErrorResponse, "description": "A job of yours uses it."}},
)  # fmt: skip
def delete_task(name: str, state: State, key: Key, data: Data) -> dict:
    """Delete one of your tasks with its supernets and the files of your searches and trainings on it (their
    records stay; their weights are gone). 409 while a queued or running job of yours names it; 403 for a shared
    task."""
    if not data.tasks.owns(name):
        data.tasks.remove(name)  # 403 for a shared task, 404 listing yours
    busy = [j.id for j in state.jobs.open_of(key.id) if j.params.get("task") == name]
    if busy:
        raise ApiError(409, "conflict", f"task {name!r} is used by job {busy[0]}: cancel it or wait for it first")
    supernets = [r.id for r in supernet_records(data.owned, name)]
    for mid in supernets:
        data.owned.delete(mid)
    data.tasks.remove(name)
    dropped = []
    for job in _own_jobs(state, key.id):
        if job.kind in ("search", "train") and job.params.get("task") == name:
            shutil.rmtree(state.settings.job_dir / job.id, ignore_errors=True)
            dropped.append(job.id)
    return {"deleted": name, "supernets_deleted": supernets, "job_files_deleted": dropped,
            "usage": usage(state, data, key.id)}  # fmt: skip


def _own_jobs(state: ServiceState, owner: str) -> list[JobRecord]:
    """Every job of ``owner`` (not the service's)."""
    out: list[JobRecord] = []
    after = None
    while True:
        page = state.jobs.list(owner=owner, limit=1000, after=after)
        out += [j for j in page if j.owner == owner]
        if len(page) < 1000:
            return out
        after = (page[-1].created_at, page[-1].id)


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def usage(state: ServiceState, data: Workspace, owner: str) -> dict:
    """What the caller's tasks, supernets and jobs' files (searches' runs, trainings' weights) take, beside the
    quota; shared tasks are not the caller's."""
    s = state.settings
    jobs = sum(_bytes(s.job_dir / j.id) for j in _own_jobs(state, owner))
    return {"tasks": len(data.tasks.own_names()), "max_tasks": s.key_max_tasks,
            "bytes": owned_bytes(data) + jobs, "job_bytes": jobs, "max_bytes": s.key_max_stored_bytes}  # fmt: skip


def check_quota(state: ServiceState, data: Workspace, owner: str) -> None:
    """Refuse (413) a new task when the caller is at its quota of tasks or stored bytes."""
    s, now = state.settings, usage(state, data, owner)
    if now["tasks"] >= s.key_max_tasks:
        raise ApiError(413, "quota", f"you have {now['tasks']} tasks, the most a key may have "
                       f"(ARCHGEN_KEY_MAX_TASKS={s.key_max_tasks}): delete one first (DELETE /v1/tasks/NAME)")  # fmt: skip
    if now["bytes"] > s.key_max_stored_bytes:
        raise ApiError(413, "quota", f"your tasks and supernets take {now['bytes']:,} bytes, over your quota of "
                       f"{s.key_max_stored_bytes:,} (ARCHGEN_KEY_MAX_STORED_BYTES): delete a task first")  # fmt: skip
