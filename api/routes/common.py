"""What several routes share: job responses."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from archgen.jobs import JobRecord


def job_summary(job: JobRecord) -> dict:
    """A job in a listing: status and progress, without params or result."""
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
    }


def job_json(job: JobRecord) -> dict:
    """The API's view of one job: its summary, params and result (no lease internals)."""
    return job_summary(job) | {"params": job.params, "result": job.result}


def accepted(job: JobRecord) -> JSONResponse:
    """202 with the job and a ``Location`` header to poll."""
    return JSONResponse(job_json(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})
