"""Scheduling: priorities, per-key limits, slots kept free of the service's own jobs,
cancellation that stops a job which never reports, and a maximum run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from archgen.jobs import SYSTEM_OWNER, JobManager, JobQuotaError, JobStore
from archgen.jobs.base import JobKind, job_kind_registry
from archgen.settings import Settings
from tests.helpers import wait_until
from tests.jobs import stubborn


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")


def test_users_jobs_are_claimed_before_the_services_own(store: JobStore) -> None:
    system, _ = store.create("k", {"i": 0}, SYSTEM_OWNER)
    user, _ = store.create("k", {"i": 1}, "alice")
    assert store.claim_next()[0].id == user.id
    assert store.claim_next()[0].id == system.id


def test_the_service_leaves_a_slot_free_and_a_key_runs_its_limit(store: JobStore) -> None:
    s1, _ = store.create("k", {"i": 1}, SYSTEM_OWNER)
    s2, _ = store.create("k", {"i": 2}, SYSTEM_OWNER)
    a1, _ = store.create("k", {"i": 3}, "alice")
    a2, _ = store.create("k", {"i": 4}, "alice")
    b1, _ = store.create("k", {"i": 5}, "bob")
    take = {"max_running_per_owner": 1, "system_slots": 1}
    got = [store.claim_next(**take)[0].id for _ in range(3)]
    assert got == [a1.id, b1.id, s1.id]  # alice's second waits for her first; the service takes one slot
    assert store.claim_next(**take) is None  # s2 and a2 wait
    assert {j.id for j in store.list(status="queued")} == {s2.id, a2.id}


def test_keys_take_turns_so_a_single_job_never_waits_behind_anothers_batch(store: JobStore) -> None:
    """Two keys queue four jobs each, then a third key one: the third key's job is the third taken, not the ninth;
    then the turns go round (fewest running first, then least recently served)."""
    a = [store.create("k", {"a": i}, "alice")[0].id for i in range(4)]
    b = [store.create("k", {"b": i}, "bob")[0].id for i in range(4)]
    (c,) = [store.create("k", {"c": 0}, "carol")[0].id]
    got = [store.claim_next()[0].id for _ in range(5)]
    assert got == [a[0], b[0], c, a[1], b[1]]
    token = store.get(c).lease_token
    assert token is not None and store.finish(c, token, "succeeded", result={})
    assert store.claim_next()[0].id == a[2]  # alice and bob each run 2; alice was served less recently


def test_a_key_over_its_open_jobs_is_refused_and_an_idempotent_retry_is_not(store: JobStore) -> None:
    store.create("k", {"i": 0}, "alice", "key-0", max_open=2)
    store.create("k", {"i": 1}, "alice", max_open=2)
    with pytest.raises(JobQuotaError, match="2 queued or running"):
        store.create("k", {"i": 2}, "alice", max_open=2)
    _, created = store.create("k", {"i": 0}, "alice", "key-0", max_open=2)
    assert not created
    store.create("k", {"i": 2}, "bob", max_open=2)  # other keys are not affected
    for i in range(3):  # searches have a limit of their own and do not count against this one
        store.create("search", {"s": i}, "carol")
    store.create("k", {"i": 0}, "carol", max_open=2, open_excludes=("search",))


def _settings(tmp_path: Path, data_dir: Path, cache_dir: Path, **kw: object) -> Settings:
    return Settings(data_dir=data_dir, cache_dir=cache_dir, home=tmp_path, job_lease_s=30, **kw)


def test_a_job_that_ignores_cancel_is_killed_after_the_grace_and_the_next_one_starts(
    tmp_path: Path, data_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHGEN_TEST_KINDS", "1")  # worker processes register the test kinds on import
    settings = _settings(tmp_path, data_dir, cache_dir, worker_backend="local", workers=1, job_cancel_grace_s=1.0)
    store = JobStore(settings.db_url)
    with stubborn.registered():
        marker = tmp_path / "reported"
        long, _ = store.create("test_stubborn", {"seconds": 600, "marker": str(marker)}, "alice")
        short, _ = store.create("test_quick", {}, "bob")
        manager = JobManager(settings, poll_s=0.05)
        manager.start()
        try:
            # past its one report (whose cancel check would otherwise stop it cooperatively under load)
            wait_until(marker.exists, 120, 0.05, "the stubborn job to start")
            store.request_cancel(long.id, "alice")
            wait_until(lambda: store.get(long.id).done, 30, 0.05, "the stubborn job to be stopped")
            wait_until(lambda: store.get(short.id).done, 120, 0.05, "the queued job to run")
        finally:
            manager.stop()
    stopped = store.get(long.id)
    assert stopped.status == "cancelled" and "did not stop within 1 s" in stopped.error
    assert stopped.finished_at - stopped.cancel_requested_at < 15
    assert store.get(short.id).status == "succeeded"


def test_a_job_past_its_kinds_maximum_run_time_fails_and_frees_its_slot(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    settings = _settings(tmp_path, data_dir, cache_dir, worker_backend="thread", workers=1)
    store = JobStore(settings.db_url)
    capped = JobKind("test_capped", stubborn.stubborn, "runs too long", stubborn.Params, __name__, max_runtime_s=0.5)
    with (
        job_kind_registry().temporarily("test_capped", capped),
        job_kind_registry().temporarily("test_quick", stubborn.KINDS["test_quick"]),
    ):
        long, _ = store.create("test_capped", {"seconds": 3}, "alice")
        short, _ = store.create("test_quick", {}, "bob")
        manager = JobManager(settings, poll_s=0.05)
        manager.start()
        try:
            wait_until(lambda: store.get(short.id).done, 30, 0.05, "the queued job to run")
        finally:
            manager.stop()
    failed = store.get(long.id)
    assert failed.status == "failed" and "maximum of 0.5 s for a test_capped job" in failed.error
    assert store.get(short.id).status == "succeeded"


def test_the_fork_server_s_death_is_not_the_job_s_failure_and_its_worker_goes_with_it(
    tmp_path: Path, data_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork server killed under a running job: its worker is stopped at once (it must not run beside the
    job's next attempt), the job goes back to the queue without a failure, a new fork server starts it again."""
    import os
    import signal
    from multiprocessing import forkserver

    from archgen.jobs.backends import _alive

    monkeypatch.setenv("ARCHGEN_TEST_KINDS", "1")
    settings = _settings(tmp_path, data_dir, cache_dir, worker_backend="local", workers=1, job_cancel_grace_s=1.0)
    store = JobStore(settings.db_url)
    with stubborn.registered():
        marker = tmp_path / "reported"
        long, _ = store.create("test_stubborn", {"seconds": 600, "marker": str(marker)}, "alice")
        manager = JobManager(settings, poll_s=0.05)
        manager.start()
        try:
            wait_until(marker.exists, 120, 0.05, "the job to start")
            first = int(marker.read_text())
            marker.unlink()
            os.kill(forkserver._forkserver._forkserver_pid, signal.SIGKILL)  # type: ignore[attr-defined]
            wait_until(lambda: not _alive(first), 10, 0.05, "the first worker to be stopped")
            wait_until(marker.exists, 120, 0.05, "the job to start again on a new fork server")
            assert int(marker.read_text() or 0) != first
            job = store.get(long.id)
            assert job.status == "running" and job.failures == 0, job
            store.request_cancel(long.id, "alice")
            wait_until(lambda: store.get(long.id).done, 30, 0.05, "the job to be cancelled")
        finally:
            manager.stop()
