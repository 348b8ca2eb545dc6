"""The dispatcher: interrupts on shutdown, resumes on the next start, cancels running jobs."""

from __future__ import annotations

from archgen.jobs import SUCCEEDED, JobManager, JobStore
from archgen.jobs.backends import ThreadBackend
from archgen.settings import Settings
from tests.helpers import wait_until
from tests.jobs.conftest import run_to_end


def test_shutdown_interrupts_and_the_next_manager_resumes(settings: Settings, counter_kind) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("test_counter", {"n": 200, "sleep": 0.01}, "alice")
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    try:
        wait_until(lambda: store.get(job.id).progress >= 0.1, 60, what="progress")
    finally:
        manager.stop()
    j = store.get(job.id)
    assert j.status == "queued" and 0 < j.checkpoint["i"] < 200 and j.failures == 0
    run_to_end(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED and done.result["started_at"] >= j.checkpoint["i"] and done.attempts == 2


def test_cancel_a_running_job(settings: Settings, counter_kind) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("test_counter", {"n": 10_000, "sleep": 0.001}, "alice")
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    try:
        wait_until(lambda: store.get(job.id).status == "running", 60, what="running")
        store.request_cancel(job.id, "alice")
        wait_until(lambda: store.get(job.id).done, 30, what="cancelled")
    finally:
        manager.stop()
    assert store.get(job.id).status == "cancelled"


def test_no_job_is_claimed_before_the_backend_is_ready(settings: Settings, counter_kind) -> None:
    """A claim starts a job's lease: while local workers' fork server is still importing, jobs stay queued."""

    class Warming(ThreadBackend):
        warm = False

        def ready(self) -> bool:
            return self.warm

    store = JobStore(settings.db_url)
    job, _ = store.create("test_counter", {"n": 3}, "alice")
    backend = Warming(settings)
    manager = JobManager(settings, backend=backend, poll_s=0.05)
    manager.start()
    try:
        manager.tick()
        assert store.get(job.id).status == "queued" and store.get(job.id).attempts == 0
        backend.warm = True
        wait_until(lambda: store.get(job.id).status == SUCCEEDED, 60, what="the job, once the backend is ready")
    finally:
        manager.stop()
