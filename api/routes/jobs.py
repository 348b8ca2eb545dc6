"""Jobs: status, progress, result; cancellation."""

from __future__ import annotations

from typing import Annotated, Literal

from archgen.api.routes.common import job_json
from archgen.api.schemas import ErrorResponse, Job, JobList
from archgen.api.state import Key, State
from fastapi import APIRouter, Query

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs", response_model=JobList)
def list_jobs(
    state: State,
    key: Key,
    status: Annotated[Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """Your jobs and the service's own, newest first."""
    return {"jobs": [job_json(j) for j in state.jobs.list(key.id, status, kind, limit)]}


@router.get("/jobs/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}})
def get_job(job_id: str, state: State, key: Key) -> dict:
    """Status, progress in [0, 1], and the result or error."""
    return job_json(state.jobs.get(job_id, key.id))


@router.delete(
    "/jobs/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}
)
def cancel_job(job_id: str, state: State, key: Key) -> dict:
    """Cancel: a queued job at once, a running one at its next progress report (409 if it has finished)."""
    return job_json(state.jobs.request_cancel(job_id, key.id))
