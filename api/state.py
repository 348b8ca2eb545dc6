"""What the app loads once (lifespan) and hands to routes through dependencies."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from archgen.api.keys import ApiKey, KeyStore
from archgen.api.metrics import ServiceMetrics
from archgen.api.security import Authenticator
from archgen.api.serving import ModelService
from archgen.datasets import list_tables, load_table
from archgen.datasets.tables import BenchmarkTable
from fastapi import Depends, Header, Request

from archgen.arch import Arch
from archgen.errors import UnknownNameError
from archgen.jobs import JobManager, JobStore
from archgen.settings import Settings
from archgen.spaces import SearchSpace, get_space


@dataclass
class ServiceState:
    """The service's long-lived objects (one per app)."""

    settings: Settings
    jobs: JobStore
    keys: KeyStore
    auth: Authenticator
    metrics: ServiceMetrics
    models: ModelService
    manager: JobManager | None = None
    tables: dict[str, BenchmarkTable] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _canonical: dict[str, list[str | None]] = field(default_factory=dict)

    def canonical(self, space: SearchSpace, archs: Sequence[Arch], rows: np.ndarray) -> list[str]:
        """String form of each architecture's canonical cell (remembered per table row)."""
        cache = self._canonical.get(space.name)
        if cache is None:
            cache = self._canonical.setdefault(space.name, [None] * self.table(space.name).num_rows)
        out = []
        for arch, row in zip(archs, rows.tolist(), strict=True):
            text = cache[row] if row >= 0 else None
            if text is None:
                text = space.format(space.canonical(arch))
                if row >= 0:
                    cache[row] = text
            out.append(text)
        return out

    def table(self, space: str) -> BenchmarkTable:
        """The benchmark table of ``space`` (loaded once; 404 lists the spaces with tables)."""
        table = self.tables.get(space)
        if table is None:
            if space not in list_tables():
                raise UnknownNameError("space", space, list_tables())
            with self._lock:
                table = self.tables.get(space) or load_table(space, self.settings.data_dir, self.settings.cache_dir)
                self.tables[space] = table
        return table

    def space(self, name: str) -> SearchSpace:
        """A search space that has a benchmark table."""
        self.table(name)
        return get_space(name, data_dir=self.settings.data_dir, cache_dir=self.settings.cache_dir)

    def check_task(self, space: str, task: str) -> BenchmarkTable:
        """The table, after checking ``task`` is one of its tasks (404 lists them)."""
        table = self.table(space)
        if task not in table.tasks():
            raise UnknownNameError(f"task of space {space!r}", task, table.tasks())
        return table

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
