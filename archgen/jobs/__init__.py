"""Durable jobs: long work (training, zero-cost scoring, later generation and searches).

A job is queued in the database, claimed by a worker (a local process, a
thread, or a Ray task), reports progress and checkpoints, and is resumed from
its last checkpoint when its worker dies.
"""

from archgen.jobs.base import (
    JobCancelled,
    JobContext,
    JobInterrupted,
    JobKind,
    LeaseLost,
    get_job_kind,
    list_job_kinds,
    register_job,
)
from archgen.jobs.manager import JobManager
from archgen.jobs.store import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    STATUSES,
    SUCCEEDED,
    SYSTEM_OWNER,
    IdempotencyConflictError,
    JobNotFoundError,
    JobQuotaError,
    JobRecord,
    JobStateError,
    JobStore,
)

__all__ = [
    "CANCELLED",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "STATUSES",
    "SUCCEEDED",
    "SYSTEM_OWNER",
    "IdempotencyConflictError",
    "JobCancelled",
    "JobContext",
    "JobInterrupted",
    "JobKind",
    "JobManager",
    "JobNotFoundError",
    "JobQuotaError",
    "JobRecord",
    "JobStateError",
    "JobStore",
    "LeaseLost",
    "get_job_kind",
    "list_job_kinds",
    "register_job",
]
