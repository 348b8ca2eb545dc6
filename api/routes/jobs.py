"""Jobs: status, progress, result; cancellation."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from archgen.api.errors import ApiError
from archgen.api.routes.common import job_json, job_summary
from archgen.api.schemas import ErrorResponse, Job, JobList
from archgen.api.state import Key, State
from archgen.services.jobs import release_inputs

router = APIRouter(prefix="/v1", tags=["jobs"])


def _encode_cursor(created_at: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{job_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        t, jid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(t), jid
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ApiError(422, "invalid_input", "cursor is not one returned as next_cursor by GET /v1/jobs") from None


@router.get("/jobs", response_model=JobList, responses={422: {"model": ErrorResponse}})
def list_jobs(
    state: State,
    key: Key,
    status: Annotated[Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=256, description="next_cursor of the previous page")] = None,
) -> dict:
    """Your jobs and the service's own, newest first, as summaries (no params or result: see GET /v1/jobs/{id}).

    Pages: pass the response's ``next_cursor`` as ``cursor`` for the next page (``null`` on the last).
    """
    after = _decode_cursor(cursor) if cursor else None
    page = state.jobs.list(key.id, status, kind, limit + 1, after)
    more = len(page) > limit
    page = page[:limit]
    next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
    return {"jobs": [job_summary(j) for j in page], "next_cursor": next_cursor}


@router.get("/jobs/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}})
def get_job(job_id: str, state: State, key: Key) -> dict:
    """Status, progress in [0, 1], and the result or error."""
    return job_json(state.jobs.get(job_id, key.id))


@router.delete(
    "/jobs/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}
)
def cancel_job(job_id: str, state: State, key: Key) -> dict:
    """Cancel: a queued job at once, a running one at its next progress report (409 if it has finished)."""
    job = state.jobs.request_cancel(job_id, key.id)
    if job.done:  # cancelled while queued: it never runs, so nothing else removes what it would have read
        release_inputs(state.settings.paths, job.kind, job.params)
    return job_json(job)
