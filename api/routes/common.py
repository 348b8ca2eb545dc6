"""What several routes share: parsing a list of architectures, job responses."""

from __future__ import annotations

from collections.abc import Sequence

from archgen.api.errors import ApiError, ArchitectureListError
from fastapi.responses import JSONResponse

from archgen.arch import Arch
from archgen.errors import InvalidArchitectureError
from archgen.jobs import JobRecord
from archgen.spaces import SearchSpace


def parse_architectures(space: SearchSpace, items: Sequence[str | int], limit: int) -> list[Arch]:
    """Architectures of ``space`` from their string forms or indices.

    Raises:
        ApiError: 413 when there are more than ``limit``.
        ArchitectureListError: 422 naming the first malformed one's position and what is wrong.
    """
    if len(items) > limit:
        raise ApiError(
            413,
            "too_many_architectures",
            f"{len(items)} architectures in one request; the limit is {limit}",
            limit=limit,
        )
    out = []
    for k, item in enumerate(items):
        try:
            out.append(space.coerce(item))
        except InvalidArchitectureError as e:
            raise ArchitectureListError(k, e) from None
    return out


def job_json(job: JobRecord) -> dict:
    """The API's view of a job (no lease internals)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "params": job.params,
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
    }


def accepted(job: JobRecord) -> JSONResponse:
    """202 with the job and a ``Location`` header to poll."""
    return JSONResponse(job_json(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})
