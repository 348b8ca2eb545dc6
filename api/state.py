"""What the app loads once (lifespan) and hands to routes through dependencies."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from archgen.api.keys import ApiKey, KeyStore
from archgen.api.metrics import ServiceMetrics
from archgen.api.security import Authenticator
from archgen.api.serving import ModelService
from archgen.context import Workspace
from archgen.datasets import list_tables
from archgen.datasets.tables import BenchmarkTable
from archgen.errors import UnknownNameError
from archgen.jobs import JobManager, JobRecord, JobStore
from archgen.jobs.store import SYSTEM_OWNER
from archgen.services.inference import CanonicalMemo
from archgen.settings import Settings
from archgen.spaces import SearchSpace
from archgen.tasks.resolve import ResolvedTask, resolve_task

#: Threads that compute user-task (supernet) predictions at once.
SUPERNET_PREDICT_THREADS = 2


@dataclass
class ServiceState:
    """The service's long-lived objects (one per app).

    Attributes:
        data: The workspace built from the settings' paths: every table and
            space the app serves comes from it, never from a process default.
    """

    settings: Settings
    data: Workspace
    jobs: JobStore
    keys: KeyStore
    auth: Authenticator
    metrics: ServiceMetrics
    models: ModelService
    manager: JobManager | None = None
    canonical: CanonicalMemo = field(default_factory=CanonicalMemo)
    #: Where user-task predictions (supernet forward passes, seconds each) run: a pool of their own, so that many
    #: of them queue here instead of taking every thread of the pool every other request is served from.
    supernet_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(SUPERNET_PREDICT_THREADS, thread_name_prefix="archgen-supernet")
    )
    loaded: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def table(self, space: str) -> BenchmarkTable:
        """The benchmark table of ``space`` (loaded once; 404 lists the spaces with tables)."""
        if space not in list_tables():
            raise UnknownNameError("space", space, list_tables())
        table = self.data.table(space)
        self.loaded.add(space)
        return table

    def space(self, name: str) -> SearchSpace:
        """A search space that has a benchmark table, with its rows."""
        self.table(name)
        return self.data.space(name)

    def check_task(self, space: str, task: str, data: Workspace | None = None) -> BenchmarkTable:
        """The table, after checking ``task`` is one of its tasks (404 lists them; a user task's operations
        ask :func:`archgen.tasks.resolve.resolve_task` themselves). ``data``: the caller's view."""
        self.table(space)  # 404 for an unknown space first
        return resolve_task(data or self.data, space, task).require_published()

    def resolve(self, space: str, task: str, data: Workspace) -> ResolvedTask:
        """What ``task`` of ``space`` has in the view ``data`` (404 for unknown names, listing the table's tasks
        and the caller's own)."""
        self.table(space)
        return resolve_task(data, space, task)

    def submit_job(
        self,
        kind: str,
        params: dict[str, Any],
        owner: str,
        idempotency_key: str | None = None,
        *,
        retry_failed: bool = False,
        limit_open: bool = True,
    ) -> JobRecord:
        """Queue a job and let the dispatcher know.

        A user's job counts against ``job_max_open_per_key`` (429 over it); the
        service's own (``SYSTEM_OWNER``) does not, nor one submitted with
        ``limit_open=False`` (a kind with limits of its own: searches).
        ``retry_failed``: see :meth:`JobStore.create` (the service's jobs retry on the next need).
        """
        max_open = None if owner == SYSTEM_OWNER or not limit_open else self.settings.job_max_open_per_key
        job, created = self.jobs.create(
            kind, params, owner, idempotency_key, max_open=max_open, retry_failed=retry_failed,
            open_excludes=("search",),  # searches count against search_max_open_per_key instead
        )  # fmt: skip
        if created:
            self.wake_jobs(kind)
        return job

    def wake_jobs(self, kind: str) -> None:
        """A job was queued: count it and let the dispatcher look now."""
        self.metrics.jobs_submitted.labels(kind).inc()
        if self.manager is not None:
            self.manager.wake()


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(get_state)]


def require_key(state: State, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    """The caller's API key (401 without a valid one, 429 over its rate limit)."""
    return state.auth.authenticate(authorization)


Key = Annotated[ApiKey, Depends(require_key)]


def key_workspace(state: State, key: Key) -> Workspace:
    """The caller's view of the service's workspace: the tables and caches, the caller's own tasks and
    supernets, and no other key's (:meth:`Workspace.for_owner`)."""
    return state.data.for_owner(key.id)


Data = Annotated[Workspace, Depends(key_workspace)]
