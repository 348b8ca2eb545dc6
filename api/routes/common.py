"""What several routes share: job responses, jobs of one kind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ValidationError

from archgen.api.errors import ApiError
from archgen.errors import ArtifactError
from archgen.jobs import JobRecord
from archgen.training.model import MODEL_CARD, MODEL_ONNX, MODEL_WEIGHTS, export_onnx, load_model
from archgen.training.trainer import PROVENANCE, WEIGHTS

if TYPE_CHECKING:
    from archgen.api.state import ServiceState

M = TypeVar("M", bound=BaseModel)


def job_of_kind(state: ServiceState, job_id: str, owner: str, kind: str, noun: str) -> JobRecord:
    """``owner``'s job ``job_id`` where it is of ``kind`` (a resource such as a search is one kind of job);
    404 otherwise, naming the job's kind and where to find it."""
    job = state.jobs.get(job_id, owner)
    if job.kind != kind:
        raise ApiError(
            404, "not_found", f"job {job_id} is not a {noun} (it is a {job.kind!r} job: GET /v1/jobs/{job_id})"
        )
    return job


def validated(model: type[M], body: dict) -> M:
    """``body`` as the job kind's params model; a 422 naming the first bad field (``epochs: ...``)."""
    try:
        return model.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        raise ApiError(422, "invalid_input", f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}") from None


#: Progress below which a job's ETA is not estimated (too little to extrapolate from).
ETA_MIN_PROGRESS = 0.02


def eta_s(job: JobRecord, now: float | None = None) -> float | None:
    """Seconds left to a running job, extrapolated linearly from its progress since it started (``None`` before
    :data:`ETA_MIN_PROGRESS` or when not running)."""
    if job.status != "running" or job.started_at is None or job.progress < ETA_MIN_PROGRESS:
        return None
    elapsed = max(0.0, (time.time() if now is None else now) - job.started_at)
    return round(elapsed * (1 - min(job.progress, 1.0)) / job.progress, 1)


def job_summary(job: JobRecord) -> dict:
    """A job in a listing: status and progress (with an ETA), without params or result."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error": job.error,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
        "eta_s": eta_s(job),
    }


def job_json(job: JobRecord) -> dict:
    """The API's view of one job: its summary, params and result (no lease internals)."""
    return job_summary(job) | {"params": job.params, "result": job.result}


def accepted(job: JobRecord) -> JSONResponse:
    """202 with the job and a ``Location`` header to poll."""
    return JSONResponse(job_json(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


#: What a trained run's download can be (``?what=``): file name and media type.
RUN_FILES = {
    "model": (MODEL_WEIGHTS, "application/octet-stream"),
    "card": (MODEL_CARD, "application/json"),
    "onnx": (MODEL_ONNX, "application/octet-stream"),
    "weights": (WEIGHTS, "application/octet-stream"),
    "provenance": (PROVENANCE, "application/json"),
}


def run_file(run: Path, what: str, name: str) -> FileResponse:
    """One file of a finished training's directory ``run`` (:data:`RUN_FILES`; ``onnx`` is exported on the first
    request and kept); ``name`` prefixes the download's file name. 422 for an unknown ``what``, 409 for a run
    without it."""
    if what not in RUN_FILES:
        raise ApiError(422, "invalid_input", f"what must be one of {', '.join(RUN_FILES)}, got {what!r}")
    file, media = RUN_FILES[what]
    path = run / file
    if what == "onnx" and not path.is_file() and (run / MODEL_WEIGHTS).is_file():
        try:
            export_onnx(load_model(run), path)
        except ArtifactError as e:
            raise ApiError(409, "not_ready", f"the model cannot be exported: {e}") from None
    if not path.is_file():
        raise ApiError(409, "not_ready", f"this training has no {what} file ({file})"
                       + (": it was trained before archgen saved models; train it again" if what in ("model", "card", "onnx") else ""))  # fmt: skip
    return FileResponse(path, media_type=media, filename=f"{name}-{path.name}")
