"""Job fixtures: thread-backend settings, a test-only counting job kind (registered for the test, then removed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from archgen.jobs import JobContext, JobManager, JobStore
from archgen.jobs.base import JobKind, job_kind_registry
from archgen.settings import Settings
from tests.helpers import wait_until


class CounterParams(BaseModel):
    n: int
    sleep: float = 0.0


def counter(params: CounterParams, ctx: JobContext) -> dict:
    """Counts to n, checkpointing each step."""
    start = ctx.state.get("i", 0)
    for i in range(start, params.n):
        time.sleep(params.sleep)
        ctx.checkpoint({"i": i + 1}, (i + 1) / params.n)
    return {"started_at": start, "count": params.n}


@pytest.fixture
def counter_kind() -> Iterator[JobKind]:
    kind = JobKind("test_counter", counter, "counts to n (test only)", CounterParams, __name__)
    with job_kind_registry().temporarily("test_counter", kind):
        yield kind


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path, cache_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, cache_dir=cache_dir, home=tmp_path, worker_backend="thread", job_lease_s=5)


def run_to_end(settings: Settings, job_id: str, timeout: float = 180) -> None:
    """Run a manager until the job is done (fails the test after ``timeout``)."""
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    try:
        store = manager.store
        wait_until(lambda: store.get(job_id).done, timeout, 0.05, f"job {job_id}")
    finally:
        manager.stop()


__all__ = ["JobStore", "run_to_end"]
