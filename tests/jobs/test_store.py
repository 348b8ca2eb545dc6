"""The job table: idempotent creation, atomic claims, fenced writes, stale-lease resumption, cancellation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from archgen.jobs import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    IdempotencyConflictError,
    JobNotFoundError,
    JobStateError,
    JobStore,
)


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")


def test_idempotent_create(store: JobStore) -> None:
    a, created = store.create("k", {"x": 1}, "alice", "key-1")
    b, again = store.create("k", {"x": 1}, "alice", "key-1")
    assert created and not again and a.id == b.id
    c, created = store.create("k", {"x": 1}, "bob", "key-1")  # keys are per owner
    assert created and c.id != a.id
    with pytest.raises(IdempotencyConflictError, match="key-1"):
        store.create("k", {"x": 2}, "alice", "key-1")


def test_retry_failed_queues_one_retry_per_failure(store: JobStore) -> None:
    """The service's own jobs (default models, a space's generator) are tried again after a failure, once."""
    first, created = store.create("k", {}, "system", "default:x_1%", retry_failed=True)
    assert created
    again, created = store.create("k", {}, "system", "default:x_1%", retry_failed=True)
    assert not created and again.id == first.id  # queued: returned as it is
    _, token = store.claim_next()
    store.finish(first.id, token, FAILED, error="boom")
    retry, created = store.create("k", {}, "system", "default:x_1%", retry_failed=True)
    assert created and retry.id != first.id and retry.idempotency_key == "default:x_1%:retry-1"
    same, created = store.create("k", {}, "system", "default:x_1%", retry_failed=True)
    assert not created and same.id == retry.id  # one retry, not one per call
    _, token = store.claim_next()
    store.finish(retry.id, token, FAILED, error="boom")
    second, created = store.create("k", {}, "system", "default:x_1%", retry_failed=True)
    assert created and second.idempotency_key == "default:x_1%:retry-2"
    plain, created = store.create("k", {}, "system", "default:x_1%")
    assert not created and plain.id == first.id  # without retry_failed, the key's own job


def test_claim_is_exclusive_and_writes_are_fenced(store: JobStore) -> None:
    job, _ = store.create("k", {}, "alice")
    claimed = store.claim_next()
    assert claimed is not None and claimed[0].id == job.id and claimed[0].status == RUNNING
    assert store.claim_next() is None
    _, token = claimed
    assert store.heartbeat(job.id, token, progress=0.5, checkpoint={"step": 3}) == (True, False)
    assert store.get(job.id).checkpoint == {"step": 3}
    assert store.heartbeat(job.id, "not-the-token", progress=0.9) == (False, False)
    assert not store.finish(job.id, "not-the-token", SUCCEEDED)
    assert store.finish(job.id, token, SUCCEEDED, result={"ok": 1})
    done = store.get(job.id)
    assert done.status == SUCCEEDED and done.progress == 1.0 and done.result == {"ok": 1}


def test_stale_jobs_resume_with_their_checkpoint_then_fail(store: JobStore) -> None:
    job, _ = store.create("k", {}, "alice")
    for attempt in range(1, 4):
        _, token = store.claim_next()
        store.heartbeat(job.id, token, checkpoint={"attempt": attempt})
        assert store.requeue_stale(lease_s=60, max_failures=3) == []  # still fresh
        time.sleep(0.05)
        assert store.requeue_stale(lease_s=0.01, max_failures=3) == [job.id]
        j = store.get(job.id)
        # the old worker can no longer write
        assert store.heartbeat(job.id, token) == (False, False)
        if attempt < 3:
            assert j.status == QUEUED and j.checkpoint == {"attempt": attempt} and j.failures == attempt
        else:
            assert j.status == FAILED and "3 times" in j.error


def test_a_server_crash_is_not_the_jobs_failure(store: JobStore) -> None:
    """A job claimed before the (new) server started was running when the last server died: it resumes as often
    as the server is killed, without counting a failure; its own worker's deaths still count."""
    job, _ = store.create("k", {}, "alice")
    for _ in range(5):  # five server kills
        store.claim_next()
        time.sleep(0.02)
        assert store.requeue_stale(lease_s=0.01, max_failures=3, server_started=time.time()) == [job.id]
        j = store.get(job.id)
        assert j.status == QUEUED and j.failures == 0 and "server restarted" in (j.message or "")
    started = time.time()
    time.sleep(0.02)
    store.claim_next()  # claimed by this server: a stale lease now is the worker's own death
    time.sleep(0.02)
    assert store.requeue_stale(lease_s=0.01, max_failures=3, server_started=started) == [job.id]
    assert store.get(job.id).failures == 1


def test_cancel(store: JobStore) -> None:
    queued, _ = store.create("k", {}, "alice")
    assert store.request_cancel(queued.id, "alice").status == CANCELLED
    with pytest.raises(JobStateError, match="already cancelled"):
        store.request_cancel(queued.id, "alice")
    running, _ = store.create("k", {}, "alice")
    _, token = store.claim_next()
    assert store.request_cancel(running.id, "alice").cancel_requested
    assert store.heartbeat(running.id, token) == (True, True)
    with pytest.raises(JobNotFoundError):
        store.request_cancel(running.id, "mallory")  # not visible to other keys
    assert [j.id for j in store.list("mallory")] == []
    assert store.counts()[CANCELLED] == 1 and store.counts()[RUNNING] == 1


def test_orderly_release_keeps_failures_and_crash_release_counts(store: JobStore) -> None:
    job, _ = store.create("k", {}, "alice")
    _, token = store.claim_next()
    assert store.release(job.id, token, "shutdown")
    assert store.get(job.id).failures == 0 and store.get(job.id).status == QUEUED
    _, token = store.claim_next()
    assert store.release(job.id, token, "worker died", max_failures=1)
    assert store.get(job.id).status == FAILED
