"""Persistent job records: creation (idempotent), claiming, progress, checkpoints, results.

Every write a worker makes is fenced by the lease token it got when it claimed
the job: once a job has been taken over (its worker was presumed dead and the
job was resumed elsewhere), the old worker's writes match no row and it stops.
That is what keeps a job from being run twice or finished twice.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from archgen.db import get_engine, jobs
from archgen.errors import IdempotencyConflictError, JobNotFoundError, JobQuotaError, JobStateError

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
#: Every status, in the order a job passes through them.
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
#: Statuses a job never leaves.
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
#: Owner of jobs the service starts itself (default-model training).
SYSTEM_OWNER = "system"
#: Priority of users' jobs and of the service's own (higher is claimed first).
USER_PRIORITY, SYSTEM_PRIORITY = 0, -10
#: Most queued jobs one claim looks at (oldest first by priority) when choosing whose turn it is.
QUEUE_SCAN = 5000


@dataclass(frozen=True)
class JobRecord:
    """One row of the job table."""

    id: str
    kind: str
    params: dict[str, Any]
    owner: str
    status: str
    progress: float
    message: str | None
    checkpoint: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    failures: int
    lease_token: str | None
    heartbeat_at: float | None
    cancel_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    idempotency_key: str | None = None
    request_sha256: str = ""
    cancel_requested_at: float | None = None
    priority: int = 0
    claimed_at: float | None = None

    @property
    def done(self) -> bool:
        """Whether the job has reached a terminal status."""
        return self.status in TERMINAL


def request_hash(kind: str, params: dict[str, Any]) -> str:
    """SHA-256 of a job's kind and parameters (canonical JSON)."""
    return hashlib.sha256(json.dumps([kind, params], sort_keys=True, default=str).encode()).hexdigest()


def _row(r: sa.Row) -> JobRecord:
    m = r._mapping
    return JobRecord(**{k: m[k] for k in JobRecord.__dataclass_fields__})


class JobStore:
    """The job table.

    Args:
        url: SQLAlchemy database URL (see :func:`archgen.db.get_engine`).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = get_engine(url)

    # -- creating and reading ----------------------------------------------------
    def create(
        self,
        kind: str,
        params: dict[str, Any],
        owner: str,
        idempotency_key: str | None = None,
        *,
        priority: int | None = None,
        max_open: int | None = None,
        retry_failed: bool = False,
        open_excludes: tuple[str, ...] = (),
    ) -> tuple[JobRecord, bool]:
        """Queue a job; with ``idempotency_key``, return the owner's existing job for that key.

        Args:
            priority: Higher is claimed first (default: :data:`USER_PRIORITY`, or
                :data:`SYSTEM_PRIORITY` for :data:`SYSTEM_OWNER`).
            max_open: Refuse when ``owner`` already has this many queued or running jobs (not counting those
                of ``open_excludes``: kinds bounded by a limit of their own, such as searches).
            retry_failed: With ``idempotency_key``: when the newest job for it
                failed or was cancelled, queue a new one (under ``KEY:retry-N``)
                instead of returning it; a retry still queued or running is
                returned, so repeated calls queue one retry, not one each.

        Returns:
            ``(job, created)``; ``created`` is ``False`` when an existing job was returned.

        Raises:
            IdempotencyConflictError: the key was used for a different request.
            JobQuotaError: ``owner`` is at ``max_open``.
        """
        digest = request_hash(kind, params)
        if idempotency_key is not None and retry_failed:
            idempotency_key = self._retry_key(owner, idempotency_key)
        if idempotency_key is not None:
            existing = self._by_key(owner, idempotency_key)
            if existing is not None:
                return self._same_request(existing, digest, idempotency_key), False
        if max_open is not None:
            n_open = self.count_open(owner, open_excludes)
            if n_open >= max_open:
                raise JobQuotaError(
                    f"this key already has {n_open} queued or running jobs, the most it may have "
                    f"(ARCHGEN_JOB_MAX_OPEN_PER_KEY={max_open}); wait for one to finish or cancel one"
                )
        if priority is None:
            priority = SYSTEM_PRIORITY if owner == SYSTEM_OWNER else USER_PRIORITY
        now = time.time()
        row = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "params": params,
            "owner": owner,
            "idempotency_key": idempotency_key,
            "request_sha256": digest,
            "status": QUEUED,
            "progress": 0.0,
            "attempts": 0,
            "failures": 0,
            "cancel_requested": False,
            "priority": priority,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as c:
                c.execute(jobs.insert().values(**row))
        except sa.exc.IntegrityError:
            # a concurrent request with the same key won the race
            existing = self._by_key(owner, idempotency_key or "")
            if existing is None:
                raise
            return self._same_request(existing, digest, idempotency_key or ""), False
        return self.get(row["id"]), True

    def _retry_key(self, owner: str, key: str) -> str:
        """``key`` itself, or its newest ``KEY:retry-N``; the next one when that job failed or was cancelled."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(jobs.c.idempotency_key, jobs.c.status).where(
                    jobs.c.owner == owner,
                    sa.or_(
                        jobs.c.idempotency_key == key,
                        jobs.c.idempotency_key.startswith(f"{key}:retry-", autoescape=True),
                    ),
                )
            ).all()
        tries = {r[0]: r[1] for r in rows}
        n = max((int(k.rsplit("-", 1)[1]) for k in tries if k != key and k.rsplit("-", 1)[1].isdigit()), default=0)
        newest = key if n == 0 else f"{key}:retry-{n}"
        if tries.get(newest) in (FAILED, CANCELLED):
            return f"{key}:retry-{n + 1}"
        return newest

    def _same_request(self, job: JobRecord, digest: str, key: str) -> JobRecord:
        if job.request_sha256 != digest:
            raise IdempotencyConflictError(
                f"Idempotency-Key {key!r} was already used for a different request (job {job.id}); "
                "use a new key for a new request"
            )
        return job

    def by_key(self, owner: str, key: str) -> JobRecord | None:
        """``owner``'s job queued under Idempotency-Key ``key``, if any."""
        return self._by_key(owner, key)

    def _by_key(self, owner: str, key: str) -> JobRecord | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(jobs).where(jobs.c.owner == owner, jobs.c.idempotency_key == key)).first()
        return _row(r) if r else None

    def get(self, job_id: str, owner: str | None = None) -> JobRecord:
        """The job, if it exists and (when ``owner`` is given) is ``owner``'s or the system's.

        Raises:
            JobNotFoundError: otherwise.
        """
        q = sa.select(jobs).where(jobs.c.id == job_id)
        if owner is not None:
            q = q.where(jobs.c.owner.in_([owner, SYSTEM_OWNER]))
        with self.engine.connect() as c:
            r = c.execute(q).first()
        if r is None:
            raise JobNotFoundError(job_id)
        return _row(r)

    def list(
        self,
        owner: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after: tuple[float, str] | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first (``owner``'s and the system's when ``owner`` is given).

        Args:
            limit: At most this many.
            after: ``(created_at, id)`` of the last job of the previous page: only older jobs (keyset pagination).
        """
        q = sa.select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if owner is not None:
            q = q.where(jobs.c.owner.in_([owner, SYSTEM_OWNER]))
        if status is not None:
            q = q.where(jobs.c.status == status)
        if kind is not None:
            q = q.where(jobs.c.kind == kind)
        if after is not None:
            t, jid = after
            q = q.where(sa.or_(jobs.c.created_at < t, sa.and_(jobs.c.created_at == t, jobs.c.id < jid)))
        with self.engine.connect() as c:
            return [_row(r) for r in c.execute(q)]

    def count_open(self, owner: str, exclude_kinds: tuple[str, ...] = ()) -> int:
        """``owner``'s queued and running jobs (but those of ``exclude_kinds``: kinds with a limit of their own)."""
        with self.engine.connect() as c:
            q = sa.select(sa.func.count()).where(jobs.c.owner == owner, jobs.c.status.in_([QUEUED, RUNNING]))
            if exclude_kinds:
                q = q.where(jobs.c.kind.not_in(exclude_kinds))
            return int(c.execute(q).scalar() or 0)

    def open_of(self, owner: str | None, kind: str | None = None) -> tuple[JobRecord, ...]:
        """``owner``'s (``None``: everyone's) queued and running jobs (of ``kind``; ``None``: of every kind)."""
        q = sa.select(jobs).where(jobs.c.status.in_([QUEUED, RUNNING]))
        if kind is not None:
            q = q.where(jobs.c.kind == kind)
        if owner is not None:
            q = q.where(jobs.c.owner == owner)
        with self.engine.connect() as c:
            return tuple(_row(r) for r in c.execute(q))

    def running_by_owner(self) -> dict[str, int]:
        """Running jobs per owner."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(jobs.c.owner, sa.func.count()).where(jobs.c.status == RUNNING).group_by(jobs.c.owner)
            ).all()
        return {o: int(n) for o, n in rows}

    def counts(self) -> dict[str, int]:
        """Number of jobs in each status."""
        with self.engine.connect() as c:
            got = dict(c.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)).all())
        return {s: int(got.get(s, 0)) for s in STATUSES}

    # -- the worker's side -----------------------------------------------------------
    def claim_next(
        self,
        kinds: tuple[str, ...] | None = None,
        max_running_per_owner: int | None = None,
        system_slots: int | None = None,
    ) -> tuple[JobRecord, str] | None:
        """Atomically take the next queued job; returns it and its new lease token.

        Fair among owners: of the highest priority queued, each owner's oldest
        job is a candidate, and the slot goes to the owner running the fewest
        jobs now, then to the one served least recently (round robin): a key
        that queues many jobs never makes another key's single job wait behind
        all of them. Owners already running ``max_running_per_owner`` jobs
        (users' keys; the service's own jobs are bounded by ``system_slots``
        instead) are skipped.
        """
        for _ in range(5):
            running = self.running_by_owner()
            q = (
                sa.select(jobs.c.id, jobs.c.owner, jobs.c.priority, jobs.c.created_at)
                .where(jobs.c.status == QUEUED)
                .order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.id)
            )
            if kinds is not None:
                q = q.where(jobs.c.kind.in_(kinds))
            full = [
                o
                for o, n in running.items()
                if (o == SYSTEM_OWNER and system_slots is not None and n >= system_slots)
                or (o != SYSTEM_OWNER and max_running_per_owner is not None and n >= max_running_per_owner)
            ]
            if full:
                q = q.where(jobs.c.owner.not_in(full))
            with self.engine.connect() as c:
                job_id = self._fair_pick(c, c.execute(q.limit(QUEUE_SCAN)).all(), running)
            if job_id is None:
                return None
            token = uuid.uuid4().hex
            now = time.time()
            with self.engine.begin() as c:
                n = c.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, jobs.c.status == QUEUED)
                    .values(
                        status=RUNNING,
                        lease_token=token,
                        heartbeat_at=now,
                        claimed_at=now,
                        started_at=sa.func.coalesce(jobs.c.started_at, now),
                        attempts=jobs.c.attempts + 1,
                        updated_at=now,
                    )
                ).rowcount
            if n == 1:
                return self.get(job_id), token
        return None

    @staticmethod
    def _fair_pick(c: sa.Connection, rows: list, running: dict[str, int]) -> str | None:
        """The job :meth:`claim_next` takes among queued ``rows`` (ordered by priority, then age)."""
        if not rows:
            return None
        first: dict[str, Any] = {}
        for r in rows:
            first.setdefault(r.owner, r)
        top = max(r.priority for r in first.values())
        candidates = [r for r in first.values() if r.priority == top]
        if len(candidates) == 1:
            return str(candidates[0].id)
        served = dict(
            c.execute(
                sa.select(jobs.c.owner, sa.func.max(jobs.c.claimed_at))
                .where(jobs.c.owner.in_([r.owner for r in candidates]))
                .group_by(jobs.c.owner)
            ).all()
        )
        pick = min(candidates, key=lambda r: (running.get(r.owner, 0), served.get(r.owner) or 0.0, r.created_at, r.id))
        return str(pick.id)

    def _fenced(self, job_id: str, token: str, **values: Any) -> bool:
        now = time.time()
        with self.engine.begin() as c:
            n = c.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.status == RUNNING)
                .values(updated_at=now, heartbeat_at=now, **values)
            ).rowcount
        return n == 1

    def heartbeat(self, job_id: str, token: str, **values: Any) -> tuple[bool, bool]:
        """Renew the lease (and write ``values``: progress, message, checkpoint).

        Returns:
            ``(lease_held, cancel_requested)``.
        """
        if not self._fenced(job_id, token, **values):
            return False, False
        with self.engine.connect() as c:
            cancel = c.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar()
        return True, bool(cancel)

    def finish(
        self, job_id: str, token: str, status: str, result: dict[str, Any] | None = None, error: str | None = None
    ) -> bool:
        """Record the outcome; ``False`` if the lease was lost (someone else owns the job now)."""
        if status not in TERMINAL:
            raise ValueError(f"finish() needs a terminal status, got {status!r}")
        values: dict[str, Any] = {"status": status, "result": result, "error": error, "finished_at": time.time()}
        values["lease_token"] = None
        if status == SUCCEEDED:
            values["progress"] = 1.0
        return self._fenced(job_id, token, **values)

    def release(self, job_id: str, token: str, message: str, max_failures: int | None = None) -> bool:
        """Give the job back to the queue, keeping its checkpoint.

        Args:
            max_failures: ``None`` for an orderly stop (shutdown). Otherwise the
                worker died: the failure is counted, and the job fails instead
                once it has failed this many times.
        """
        values: dict[str, Any] = {"status": QUEUED, "lease_token": None, "message": message}
        if max_failures is not None:
            with self.engine.connect() as c:
                failures = c.execute(sa.select(jobs.c.failures).where(jobs.c.id == job_id)).scalar() or 0
            values["failures"] = failures + 1
            if failures + 1 >= max_failures:
                values.update(status=FAILED, finished_at=time.time(), error=f"{message} ({failures + 1} times)")
        return self._fenced(job_id, token, **values)

    # -- the server's side ---------------------------------------------------------------
    def request_cancel(self, job_id: str, owner: str | None = None) -> JobRecord:
        """Cancel a queued job now, or ask a running one to stop at its next report.

        Raises:
            JobNotFoundError: no such job (for ``owner``).
            JobStateError: the job has already finished.
        """
        job = self.get(job_id, owner)
        if job.owner == SYSTEM_OWNER and owner is not None and owner != SYSTEM_OWNER:
            raise JobStateError(f"job {job_id} was started by the service itself and cannot be cancelled by a key")
        if job.done:
            raise JobStateError(f"job {job_id} has already {job.status}; nothing to cancel")
        now = time.time()
        with self.engine.begin() as c:
            c.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == QUEUED)
                .values(status=CANCELLED, cancel_requested=True, finished_at=now, updated_at=now, message="cancelled")
            )
            c.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == RUNNING, jobs.c.cancel_requested.is_(False))
                .values(cancel_requested=True, cancel_requested_at=now, updated_at=now)
            )
        return self.get(job_id)

    def overdue(self, cancel_grace_s: float, max_runtime_s: dict[str, float]) -> list[tuple[JobRecord, str]]:
        """Running jobs to stop by force, with why.

        A job whose cancellation was asked for ``cancel_grace_s`` seconds ago
        and that is still running, and a job whose current attempt has run
        longer than ``max_runtime_s[kind]`` (or ``max_runtime_s["*"]``).
        """
        now = time.time()
        with self.engine.connect() as c:
            rows = [_row(r) for r in c.execute(sa.select(jobs).where(jobs.c.status == RUNNING))]
        out = []
        for job in rows:
            limit = max_runtime_s.get(job.kind, max_runtime_s.get("*"))
            asked = job.cancel_requested_at or job.claimed_at or job.created_at
            if job.cancel_requested and now - asked > cancel_grace_s:
                out.append(
                    (
                        job,
                        f"cancelled on request; the job did not stop within {cancel_grace_s:g} s, so its worker was stopped",
                    )
                )
            elif limit is not None and job.claimed_at is not None and now - job.claimed_at > limit:
                out.append(
                    (job, f"ran longer than the maximum of {limit:g} s for a {job.kind} job; its worker was stopped")
                )
        return out

    def requeue_stale(self, lease_s: float, max_failures: int, server_started: float | None = None) -> list[str]:
        """Resume jobs whose worker stopped reporting for ``lease_s`` seconds.

        Each such job goes back to the queue (its checkpoint kept) with one more
        failure; after ``max_failures`` it fails instead, and a job whose
        cancellation was asked for is cancelled. A job claimed before
        ``server_started`` (the dispatcher's start) was running when the
        previous server died: it is requeued without a failure, since a server
        crash is not the job's fault. Returns the ids touched.
        """
        cutoff = time.time() - lease_s
        with self.engine.connect() as c:
            stale = c.execute(
                sa.select(
                    jobs.c.id, jobs.c.lease_token, jobs.c.failures, jobs.c.cancel_requested, jobs.c.claimed_at
                ).where(jobs.c.status == RUNNING, jobs.c.heartbeat_at < cutoff)
            ).all()
        touched = []
        for job_id, token, failures, cancel, claimed_at in stale:
            now = time.time()
            where = (jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.status == RUNNING)
            crashed = server_started is not None and claimed_at is not None and claimed_at < server_started
            if cancel:
                values = {"status": CANCELLED, "finished_at": now, "message": "cancelled (worker stopped)"}
            elif crashed:
                values = {"status": QUEUED, "message": "the server restarted; resuming from the last checkpoint"}
            elif failures + 1 >= max_failures:
                values = {
                    "status": FAILED,
                    "finished_at": now,
                    "error": f"the job's worker stopped without finishing {failures + 1} times",
                }
            else:
                values = {"status": QUEUED, "message": "worker stopped; resuming from the last checkpoint"}
            with self.engine.begin() as c:
                n = c.execute(
                    jobs.update()
                    .where(*where)
                    .values(
                        lease_token=None, failures=jobs.c.failures + (0 if crashed else 1), updated_at=now, **values
                    )
                ).rowcount
            if n:
                touched.append(job_id)
        return touched
