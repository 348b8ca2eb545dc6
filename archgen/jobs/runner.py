"""Running one claimed job to its end, in whatever worker the backend chose.

:func:`execute` is the same for every backend: it renews the job's lease from
a heartbeat thread, calls the job kind's function, and records the outcome
(fenced by the lease token). Worker processes enter through
:func:`process_main`, Ray tasks through :func:`ray_main`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection

from archgen.db import dispose_engines
from archgen.errors import ArchgenError
from archgen.jobs.base import JobCancelled, JobContext, JobInterrupted, LeaseLost, get_job_kind, import_kind_module
from archgen.jobs.store import CANCELLED, FAILED, SUCCEEDED, SYSTEM_OWNER, JobStore
from archgen.logs import configure_logging
from archgen.serialize import to_jsonable
from archgen.settings import Settings

log = logging.getLogger("archgen.jobs")

#: Niceness of a worker process running one of the service's own jobs (the default stacks, the full generator):
#: on a first start they share the cores with users' jobs, which then get the larger share.
SYSTEM_JOB_NICE = 10
#: Exit status of a worker process that stops because its server died.
ORPHANED_EXIT = 3


def execute(
    job_id: str,
    token: str,
    settings: Settings,
    interrupt: threading.Event,
    server_alive: Callable[[], bool] | None = None,
    module: str | None = None,
    threads: int | None = None,
    own_process: bool = False,
) -> str:
    """Run job ``job_id`` under lease ``token``; returns the status it ended in.

    Args:
        server_alive: For worker processes: whether the server that started
            it is still running. When the server dies (even by SIGKILL) the
            worker exits at its next heartbeat, so that the job, resumed by the
            next server, never runs twice.
        module: The module that registered the job's kind, imported once the
            lease is being renewed (imports can take longer than a lease).
        threads: Torch's intra-op threads for this worker process (its share of
            the cores, so that jobs running at once do not oversubscribe them);
            ``None`` leaves them (a thread worker shares its process).
        own_process: The process exists for this job alone (a local worker): a service's job may lower its
            priority (:data:`SYSTEM_JOB_NICE`); a reused Ray worker or a thread must not.
    """
    store = JobStore(settings.db_url)
    job = store.get(job_id)
    ctx = JobContext(store, job, token, settings, interrupt)
    extra = {"job_id": job_id, "job_kind": job.kind}
    stop = threading.Event()

    def beat() -> None:
        every = max(min(settings.job_lease_s / 4, 5.0), 0.1)
        while not stop.wait(every):
            if server_alive is not None and not server_alive():
                log.warning("the server process is gone; worker exits, the job resumes on restart", extra=extra)
                os._exit(ORPHANED_EXIT)
            ctx.heartbeat()

    threading.Thread(target=beat, name=f"heartbeat-{job_id[:8]}", daemon=True).start()
    verb = "resuming" if ctx.resumed else "starting"
    log.info("%s job %s (%s), attempt %d", verb, job_id, job.kind, job.attempts, extra=extra)
    try:
        try:
            if own_process and job.owner == SYSTEM_OWNER:
                os.nice(SYSTEM_JOB_NICE)  # its own process: the service's work yields the cores to users' jobs
            if threads is not None:
                import torch  # lazy: 2 s; imported once the lease is being renewed (a lease can be shorter)

                torch.set_num_threads(threads)
            import_kind_module(module)
            kind = get_job_kind(job.kind)
            result = kind.run(kind.validate(dict(job.params)), ctx)
        except KeyboardInterrupt:  # Ray delivers cancellation this way
            raise JobInterrupted(f"job {job_id}: interrupted") from None
        status = SUCCEEDED if store.finish(job_id, token, SUCCEEDED, result=to_jsonable(result)) else "lost"
    except JobCancelled:
        status = CANCELLED if store.finish(job_id, token, CANCELLED, error="cancelled on request") else "lost"
    except JobInterrupted:
        store.release(job_id, token, "interrupted by shutdown; resumes from its last checkpoint")
        status = "interrupted"
    except LeaseLost:
        status = "lost"
    except ArchgenError as e:
        store.finish(job_id, token, FAILED, error=str(e))
        status = FAILED
    except Exception as e:  # a bug: record it without a traceback in the API, log the traceback
        log.error("job %s failed: %s", job_id, traceback.format_exc(), extra=extra)
        store.finish(job_id, token, FAILED, error=f"internal error ({type(e).__name__}): {e}")
        status = FAILED
    finally:
        stop.set()
    if status in (FAILED, CANCELLED):
        remove_workdir(settings, job_id, job.kind)
    log.info("job %s ended: %s", job_id, status, extra=extra)
    return status


def remove_workdir(settings: Settings, job_id: str, kind: str) -> None:
    """Remove a failed or cancelled job's work directory (checkpoints: up to gigabytes), unless its kind keeps it."""
    try:
        keep = get_job_kind(kind).keeps_files
    except ArchgenError:
        keep = False  # an unknown kind has nothing worth keeping
    if callable(keep):
        keep(settings.job_dir / job_id)  # what the kept result serves, and no more
    elif not keep:
        shutil.rmtree(settings.job_dir / job_id, ignore_errors=True)


def process_main(
    job_id: str,
    token: str,
    settings_json: str,
    module: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    server: Connection | None = None,
) -> None:
    """Entry point of a local worker process (forked by the backend's fork server); ``module`` registered the job's
    kind; ``environ`` and ``cwd``: the server's when it started the job (the fork server's are those of its own
    start). ``server``: the read end of a pipe whose write end only the server holds: it reads end-of-file once
    the server is gone (the worker's parent is the fork server, which lives as long as any worker does)."""
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    if cwd is not None:
        os.chdir(cwd)
    settings = Settings.model_validate_json(settings_json)
    configure_logging(settings.log_level, settings.log_json)
    interrupt = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: interrupt.set())
    # Ctrl-C reaches the whole process group: the server handles it and asks us with SIGTERM
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    alive = None if server is None else (lambda: not server.poll())
    try:
        execute(job_id, token, settings, interrupt, server_alive=alive, module=module,
                threads=settings.threads_per_job, own_process=True)  # fmt: skip
    finally:
        dispose_engines()


def ray_main(job_id: str, token: str, settings_json: str, module: str | None = None) -> str:
    """Entry point of a job run as a Ray task; ``module`` registered the job's kind."""
    settings = Settings.model_validate_json(settings_json)
    return execute(job_id, token, settings, threading.Event(), module=module, threads=1)  # Ray: num_cpus=1
