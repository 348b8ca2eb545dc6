"""Where jobs run: worker processes on this machine, threads of the server, or a Ray cluster.

A backend starts claimed jobs, says how many it is running, reports workers
that ended without recording an outcome, and on shutdown asks running jobs
to checkpoint and stop.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing import forkserver
from typing import NamedTuple

from archgen.jobs.runner import execute, process_main, ray_main
from archgen.settings import Settings


class Ended(NamedTuple):
    """A job whose worker ended abnormally: its id, lease token, why, and whether that is the job's fault (a
    failure counted against it) or the backend's (its fork server died: the job resumes without a failure)."""

    job_id: str
    token: str
    why: str
    fault: bool = True


class JobBackend(ABC):
    """Runs claimed jobs."""

    #: Jobs it runs at once.
    capacity: int

    @abstractmethod
    def submit(self, job_id: str, token: str, module: str | None = None) -> None:
        """Start the claimed job ``job_id`` under lease ``token``."""

    @abstractmethod
    def reap(self) -> list[Ended]:
        """Forget workers that have ended; return those that ended abnormally."""

    @abstractmethod
    def running(self) -> int:
        """Jobs running now."""

    def ready(self) -> bool:
        """Whether a job submitted now starts at once (the dispatcher claims none before: a claim starts the
        job's lease)."""
        return True

    @abstractmethod
    def kill(self, job_id: str) -> bool:
        """Stop the job's worker now, without a checkpoint, and forget it.

        Returns:
            Whether a worker was stopped (``False`` when this backend does not
            run the job, or cannot stop it: a thread runs on until its next
            report, where its lost lease stops it).
        """

    @abstractmethod
    def shutdown(self, grace: float) -> list[tuple[str, str]]:
        """Ask running jobs to checkpoint and stop; wait up to ``grace`` s.

        Returns:
            ``(job id, token)`` of jobs still running when the grace ran out
            (their workers were killed).
        """


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (not a zombie)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: kill(0) said it exists


def _end(pid: int | None, wait: float = 5.0) -> None:
    """SIGKILL process ``pid`` (not our child: reaped by init) and wait until it is gone."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _nothing() -> None:
    """A process that ends at once (the fork server's warm-up probe)."""


class ProcessBackend(JobBackend):
    """One worker process per job, ``settings.workers`` at a time.

    A process per job keeps a crashing or memory-hungry job away from the
    server and returns its memory when it ends. Workers are forked from a
    ``forkserver`` started with the backend, which imports ``preload`` (the
    modules that registered the job kinds: torch and the rest of archgen)
    once, while the server starts; a job then starts in milliseconds instead
    of the seconds a fresh interpreter spends on imports. The fork server has
    used no thread pool, so a fork from it is safe. A worker whose server is
    gone notices it (a pipe only the server writes to reads end-of-file). A
    worker takes the server's environment and directory as they are when its
    job starts, as a freshly spawned process would.
    """

    def __init__(self, settings: Settings, preload: Sequence[str] = ()) -> None:
        self.settings = settings
        self.capacity = settings.workers
        self._mp = multiprocessing.get_context("forkserver")
        self._mp.set_forkserver_preload([__name__, *preload])
        forkserver.ensure_running()  # starts importing now, beside the server's own start
        self._warm = threading.Event()
        threading.Thread(target=self._warm_up, name="archgen-forkserver-warm-up", daemon=True).start()
        # a worker sees end-of-file on the read end once this process, the only holder of the write end, is gone
        self._server_r, self._server_w = self._mp.Pipe(duplex=False)
        self._procs: dict[str, tuple[multiprocessing.process.BaseProcess, str]] = {}

    def _warm_up(self) -> None:
        """Wait for the fork server's imports: it forks a first process only once they are done."""
        try:
            p = self._mp.Process(target=_nothing, name="archgen-forkserver-probe")
            p.start()
            p.join()
        finally:
            self._warm.set()

    def ready(self) -> bool:
        return self._warm.is_set()

    def submit(self, job_id: str, token: str, module: str | None = None) -> None:
        proc = self._mp.Process(
            target=process_main,
            args=(
                job_id,
                token,
                self.settings.model_dump_json(),
                module,
                dict(os.environ),
                os.getcwd(),
                self._server_r,
            ),
            name=f"archgen-job-{job_id[:8]}",
        )
        proc.start()
        self._procs[job_id] = (proc, token)

    def reap(self) -> list[Ended]:
        ended = []
        for job_id, (proc, token) in list(self._procs.items()):
            if proc.exitcode is not None:
                proc.join()
                del self._procs[job_id]
                if proc.exitcode != 0 and _alive(proc.pid):
                    # the fork server is gone (its workers' exit codes read as 255), not this worker: stop the
                    # worker now (it must not outlive the claim) and give the job back without a failure
                    _end(proc.pid)
                    ended.append(Ended(job_id, token, "the job server's fork server died; its worker was stopped",
                                       fault=False))  # fmt: skip
                elif proc.exitcode != 0:
                    ended.append(Ended(job_id, token, f"worker process exited with status {proc.exitcode}"))
        if ended and not all(e.fault for e in ended):
            self._restart_server()
        return ended

    def _restart_server(self) -> None:
        """Start a new fork server (``ensure_running`` relaunches a dead one) and warm it before any claim."""
        self._warm.clear()
        forkserver.ensure_running()
        threading.Thread(target=self._warm_up, name="archgen-forkserver-warm-up", daemon=True).start()

    def running(self) -> int:
        return sum(p.exitcode is None for p, _ in self._procs.values())

    def kill(self, job_id: str) -> bool:
        entry = self._procs.pop(job_id, None)
        if entry is None:
            return False
        proc = entry[0]
        if proc.exitcode is None:
            proc.kill()
        proc.join(10)
        return True

    def shutdown(self, grace: float) -> list[tuple[str, str]]:
        for proc, _ in self._procs.values():
            if proc.exitcode is None and proc.pid is not None:
                proc.terminate()  # SIGTERM: the worker's next report checkpoints and stops
        deadline = time.monotonic() + grace
        for proc, _ in self._procs.values():
            proc.join(max(deadline - time.monotonic(), 0.0))
        left = []
        for job_id, (proc, token) in self._procs.items():
            if proc.exitcode is None:
                proc.kill()
                proc.join()
                left.append((job_id, token))
        self._procs.clear()
        return left


class ThreadBackend(JobBackend):
    """Jobs in threads of the server process (for tests and small deployments)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.capacity = settings.workers
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="archgen-job")
        self._interrupt = threading.Event()
        self._futures: dict[str, tuple[Future[str], str]] = {}

    def submit(self, job_id: str, token: str, module: str | None = None) -> None:
        fut = self._pool.submit(execute, job_id, token, self.settings, self._interrupt)
        self._futures[job_id] = (fut, token)

    def reap(self) -> list[Ended]:
        ended = []
        for job_id, (fut, token) in list(self._futures.items()):
            if fut.done():
                del self._futures[job_id]
                if fut.exception() is not None:
                    ended.append(Ended(job_id, token, f"worker thread raised {fut.exception()!r}"))
        return ended

    def running(self) -> int:
        return sum(not f.done() for f, _ in self._futures.values())

    def kill(self, job_id: str) -> bool:
        # a thread cannot be stopped from outside: forget it; its next report finds the lease gone and stops
        self._futures.pop(job_id, None)
        return False

    def shutdown(self, grace: float) -> list[tuple[str, str]]:
        self._interrupt.set()
        deadline = time.monotonic() + grace
        for fut, _ in self._futures.values():
            try:
                fut.result(max(deadline - time.monotonic(), 0.0))
            except Exception:
                pass
        left = [(j, t) for j, (f, t) in self._futures.items() if not f.done()]
        self._pool.shutdown(wait=False, cancel_futures=True)
        return left


class RayBackend(JobBackend):
    """Jobs as Ray tasks on the cluster at ``settings.ray_address`` (a local Ray when ``None``).

    The workers write progress and results to the database themselves, so the
    cluster must reach it: use a PostgreSQL URL for a cluster of several
    machines (a SQLite file only works when every worker shares the disk).
    """

    def __init__(self, settings: Settings) -> None:
        import ray  # lazy: ray takes seconds to import and only the ray backend needs it

        self._ray = ray
        self.settings = settings
        if not ray.is_initialized():
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # local clusters only listen on loopback
            ray.init(
                address=settings.ray_address,
                include_dashboard=False,
                ignore_reinit_error=True,
                log_to_driver=True,
                num_cpus=None if settings.ray_address else settings.workers,
            )
            self._started = True
        else:
            self._started = False
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = max(1, cpus if settings.ray_address else settings.workers)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(ray_main)
        self._refs: dict[object, tuple[str, str]] = {}

    def submit(self, job_id: str, token: str, module: str | None = None) -> None:
        ref = self._remote.remote(job_id, token, self.settings.model_dump_json(), module)
        self._refs[ref] = (job_id, token)

    def reap(self) -> list[Ended]:
        if not self._refs:
            return []
        ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        ended = []
        for ref in ready:
            job_id, token = self._refs.pop(ref)
            try:
                self._ray.get(ref)
            except Exception as e:
                ended.append(Ended(job_id, token, f"Ray task failed: {type(e).__name__}"))
        return ended

    def running(self) -> int:
        return len(self._refs)

    def kill(self, job_id: str) -> bool:
        for ref, (jid, _) in list(self._refs.items()):
            if jid == job_id:
                self._ray.cancel(ref, force=True)  # kills the worker process
                del self._refs[ref]
                return True
        return False

    def shutdown(self, grace: float) -> list[tuple[str, str]]:
        for ref in self._refs:
            self._ray.cancel(ref)  # KeyboardInterrupt in the task: it checkpoints and releases the job
        left = []
        if self._refs:
            _, pending = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=grace)
            left = [self._refs[ref] for ref in pending]
        self._refs.clear()
        if self._started:
            self._ray.shutdown()
        return left


def make_backend(settings: Settings, preload: Sequence[str] = ()) -> JobBackend:
    """The backend ``settings.worker_backend`` names (``preload``: modules a local worker process needs, imported
    once before any job)."""
    if settings.worker_backend == "local":
        return ProcessBackend(settings, preload)
    return {"thread": ThreadBackend, "ray": RayBackend}[settings.worker_backend](settings)
