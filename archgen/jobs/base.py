"""Job kinds and the context a job's code runs in.

A job kind is a function ``run(params, ctx) -> result`` registered under a
name with a pydantic model of its parameters: submitters (routes, the CLI,
the service) validate with that same model, so bad parameters are refused
before a job exists, and ``run`` receives the validated model. ``result`` is a
JSON object. Any module can register a kind; the worker imports the module
that registered it before running the job. The function reports
progress through ``ctx.progress`` and saves what it needs to resume through
``ctx.checkpoint``; when a job is resumed after a crash or a shutdown,
``ctx.state`` holds its last checkpoint. Both calls are also where the job
stops when it is cancelled or the server shuts down, so long work should
report at least every few seconds.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from archgen.errors import JobParamsError
from archgen.jobs.store import JobRecord, JobStore
from archgen.registry import Registry
from archgen.settings import Settings


class JobCancelled(Exception):
    """Raised inside a job whose cancellation was requested."""


class JobInterrupted(Exception):
    """Raised inside a job when its worker shuts down; the job resumes later."""


class LeaseLost(Exception):
    """Raised inside a job that another worker has taken over; it must stop without writing."""


JobFunction = Callable[[Any, "JobContext"], dict[str, Any]]

#: Entry-point group through which installed packages register job kinds.
ENTRY_POINT_GROUP = "archgen.jobs"


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job.

    Attributes:
        name: Registry name (the ``kind`` of job records).
        run: ``run(params, ctx) -> result`` (``params`` an instance of :attr:`params`).
        description: One line, for listings.
        params: Pydantic model of the parameters.
        module: Module that registered it (imported by workers before running).
        max_runtime_s: Longest one attempt may run (``None``: the service's
            ``job_max_runtime_s``; the smaller of the two applies).
        keeps_files: Whether a failed or cancelled job's work directory is kept (a search's partial history is
            served); otherwise it is removed when the job fails or is cancelled (checkpoints can be gigabytes). A
            callable keeps it, called with the directory to drop what the kept result does not serve.
    """

    name: str
    run: JobFunction
    description: str
    params: type[BaseModel]
    module: str
    max_runtime_s: float | None = None
    keeps_files: bool | Callable[[Path], None] = False

    def validate(self, params: BaseModel | dict[str, Any]) -> BaseModel:
        """``params`` as this kind's model.

        Raises:
            JobParamsError: naming each field that is wrong.
        """
        if isinstance(params, self.params):
            return params
        try:
            return self.params.model_validate(params.model_dump() if isinstance(params, BaseModel) else params)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in err['loc']) or 'params'}: {err['msg']}" for err in e.errors()
            )
            raise JobParamsError(f"invalid parameters for job kind {self.name!r}: {problems}") from None


#: Job kinds by name; :mod:`archgen.composition` registers the built-in ones and those of installed
#: packages (entry-point group :data:`ENTRY_POINT_GROUP`); the job machinery imports none of them.
_KINDS: Registry[JobKind] = Registry("job kind")


def register_job(
    name: str,
    description: str,
    params: type[BaseModel],
    *,
    max_runtime_s: float | None = None,
    module: str | None = None,
    keeps_files: bool | Callable[[Path], None] = False,
) -> Callable[[JobFunction], JobFunction]:
    """Decorator registering ``run(params, ctx) -> result`` as job kind ``name`` with params model ``params``.

    ``module`` is what a worker process imports to have the kind registered (default: the function's
    module, for kinds that register themselves on import, as plugins and tests do).
    """

    def deco(fn: JobFunction) -> JobFunction:
        _KINDS.add(name, JobKind(name, fn, description, params, module or fn.__module__, max_runtime_s, keeps_files))
        return fn

    return deco


def job_kind_registry() -> Registry[JobKind]:
    """The registry of job kinds (tests use its ``temporarily`` to add one and remove it after)."""
    return _KINDS


def import_kind_module(module: str | None) -> None:
    """Import the module that registered a kind (in a worker process, before running its job)."""
    if module:
        importlib.import_module(module)


def get_job_kind(name: str) -> JobKind:
    """The kind registered as ``name`` (:class:`UnknownNameError` lists the valid ones)."""
    return _KINDS.get(name)


def list_job_kinds() -> list[str]:
    """Registered job kinds."""
    return _KINDS.names()


class JobContext:
    """What a running job sees: its parameters, last checkpoint and reporting calls.

    Args:
        store: The job table.
        job: The job's record as claimed.
        token: The lease token of this run.
        settings: Settings of the service (paths for work files, models, caches).
        interrupt: Set when the worker shuts down.
        report_interval: Least seconds between two progress writes.
    """

    def __init__(
        self,
        store: JobStore,
        job: JobRecord,
        token: str,
        settings: Settings,
        interrupt: threading.Event,
        report_interval: float = 0.5,
    ) -> None:
        self.store = store
        self.job = job
        self.token = token
        self.settings = settings
        self.interrupt = interrupt
        self.report_interval = report_interval
        self.state: dict[str, Any] = dict(job.checkpoint or {})
        self.cancel_requested = False
        self.lease_lost = False
        self._last_report = 0.0
        self._progress = job.progress

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def resumed(self) -> bool:
        """Whether this run continues from a checkpoint of an earlier run."""
        return bool(self.job.checkpoint)

    @property
    def workdir(self) -> Path:
        """A directory for the job's files, kept across resumptions."""
        path = self.settings.job_dir / self.job.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _write(self, **values: Any) -> None:
        held, cancel = self.store.heartbeat(self.job.id, self.token, **values)
        if not held:
            self.lease_lost = True
            raise LeaseLost(f"job {self.job.id}: the lease was taken over")
        self.cancel_requested = self.cancel_requested or cancel
        self._last_report = time.monotonic()

    def check(self) -> None:
        """Raise if the job should stop (cancelled, shutting down, lease lost)."""
        if self.lease_lost:
            raise LeaseLost(f"job {self.job.id}: the lease was taken over")
        if self.interrupt.is_set():
            raise JobInterrupted(f"job {self.job.id}: worker shutting down")
        if self.cancel_requested:
            raise JobCancelled(f"job {self.job.id}: cancelled")

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress in ``[0, 1]`` (written at most every ``report_interval`` seconds)."""
        self._progress = min(max(float(fraction), 0.0), 1.0)
        if message is not None or time.monotonic() - self._last_report >= self.report_interval:
            values: dict[str, Any] = {"progress": self._progress}
            if message is not None:
                values["message"] = message
            self._write(**values)
        self.check()

    def checkpoint(self, state: dict[str, Any], progress: float | None = None, message: str | None = None) -> None:
        """Save ``state`` (a JSON object); a resumed run finds it in :attr:`state`."""
        self.state = dict(state)
        values: dict[str, Any] = {"checkpoint": self.state}
        if progress is not None:
            self._progress = min(max(float(progress), 0.0), 1.0)
            values["progress"] = self._progress
        if message is not None:
            values["message"] = message
        self._write(**values)
        self.check()

    def heartbeat(self) -> None:
        """Renew the lease without reporting anything new (the worker calls this periodically).

        Never raises for a lost lease: it marks it, and the job's next report stops the job.
        """
        try:
            self._write()
        except LeaseLost:
            pass
