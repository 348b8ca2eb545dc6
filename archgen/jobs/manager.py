"""The dispatcher: claims queued jobs for the backend and resumes jobs whose worker died.

It runs in a thread of its own, never on the server's event loop.
"""

from __future__ import annotations

import logging
import threading
import time

from archgen.errors import UnknownNameError
from archgen.jobs.backends import JobBackend, make_backend
from archgen.jobs.base import get_job_kind, list_job_kinds
from archgen.jobs.runner import remove_workdir
from archgen.jobs.store import CANCELLED, FAILED, JobStore
from archgen.settings import Settings

log = logging.getLogger("archgen.jobs")


class JobManager:
    """Keeps the backend busy with queued jobs.

    Args:
        settings: Database URL, backend, lease and shutdown settings.
        store: The job table (default: at ``settings.db_url``).
        backend: Where jobs run (default: ``make_backend(settings)``).
        poll_s: Seconds between two looks at the queue (a submit wakes it at once).
    """

    def __init__(
        self,
        settings: Settings,
        store: JobStore | None = None,
        backend: JobBackend | None = None,
        poll_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.store = store or JobStore(settings.db_url)
        self.backend = backend
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started: float | None = None

    def start(self) -> None:
        """Start the backend and the dispatch thread."""
        if self.backend is None:  # local workers have every kind's module imported before any job
            self.backend = make_backend(
                self.settings, preload=sorted({get_job_kind(k).module for k in list_job_kinds()})
            )
        self.started = time.time()  # jobs claimed before this were running when the last server died
        self._thread = threading.Thread(target=self._loop, name="archgen-job-dispatch", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (call after queueing a job)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("job dispatch failed; retrying")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def tick(self) -> None:
        """One round: reap ended workers, resume stale jobs, start queued ones."""
        assert self.backend is not None
        for job_id, token, why, fault in self.backend.reap():
            # a failure is counted only where the job's own worker failed (not its server's fork server)
            limit = self.settings.job_max_failures if fault else None
            if self.store.release(job_id, token, f"{why}; resuming from the last checkpoint", limit):
                log.warning("job %s: %s", job_id, why, extra={"job_id": job_id})
                self._clean_if_ended(job_id)
        for job_id in self.store.requeue_stale(
            self.settings.job_lease_s, self.settings.job_max_failures, server_started=self.started
        ):
            log.warning("job %s: its worker stopped reporting; resuming it", job_id, extra={"job_id": job_id})
            self._clean_if_ended(job_id)
        self.stop_overdue()
        capacity = self.backend.capacity
        while not self._stop.is_set() and self.backend.ready() and self.backend.running() < capacity:
            claimed = self.store.claim_next(
                max_running_per_owner=self.settings.job_max_running_per_key,
                system_slots=max(capacity - 1, 1),
            )
            if claimed is None:
                break
            job, token = claimed
            log.info("dispatching job %s (%s)", job.id, job.kind, extra={"job_id": job.id, "job_kind": job.kind})
            try:
                module: str | None = get_job_kind(job.kind).module
            except UnknownNameError:
                module = None  # the worker fails the job, naming the unknown kind
            self.backend.submit(job.id, token, module)

    def runtime_limits(self) -> dict[str, float]:
        """Longest attempt per job kind (``"*"`` for kinds not registered here)."""
        limits = {"*": self.settings.job_max_runtime_s}
        for name in list_job_kinds():
            own = get_job_kind(name).max_runtime_s
            if own is not None:
                limits[name] = min(own, self.settings.job_max_runtime_s)
        return limits

    def _clean_if_ended(self, job_id: str) -> None:
        """A job its worker's deaths (or a cancel) ended: its work directory as a failed run's (its kind's rule)."""
        job = self.store.get(job_id)
        if job.status in (FAILED, CANCELLED):
            remove_workdir(self.settings, job.id, job.kind)

    def stop_overdue(self) -> None:
        """Stop by force the jobs that ignored a cancel request past its grace, or ran past their maximum."""
        assert self.backend is not None
        for job, why in self.store.overdue(self.settings.job_cancel_grace_s, self.runtime_limits()):
            killed = self.backend.kill(job.id)
            status = CANCELLED if job.cancel_requested else FAILED
            if job.lease_token and self.store.finish(job.id, job.lease_token, status, error=why):
                remove_workdir(self.settings, job.id, job.kind)
                log.warning(
                    "job %s: %s (worker %s)", job.id, why, "killed" if killed else "abandoned", extra={"job_id": job.id}
                )

    def stop(self) -> None:
        """Stop dispatching; ask running jobs to checkpoint; requeue those that could not."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self.backend is None:
            return
        for job_id, token in self.backend.shutdown(self.settings.shutdown_grace_s):
            self.store.release(job_id, token, "server shut down; resumes from its last checkpoint")
            log.warning("job %s did not stop in time; requeued", job_id, extra={"job_id": job_id})
