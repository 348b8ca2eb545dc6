"""The built-in job kinds run, checkpoint, and resume (through the manager and a thread backend)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from archgen.predictors.store import ModelStore

from archgen.jobs import SUCCEEDED, JobContext, JobManager, JobStore, register_job
from archgen.jobs.kinds import train_model_id, train_predictor
from archgen.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path, cache_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, cache_dir=cache_dir, home=tmp_path, worker_backend="thread", job_lease_s=5)


def _run(settings: Settings, job_id: str, timeout: float = 120) -> None:
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    try:
        deadline = time.monotonic() + timeout
        while not manager.store.get(job_id).done:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        manager.stop()


def test_training_job_resumes_from_the_fitted_checkpoint(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    store = JobStore(settings.db_url)
    params = {
        "space": "nb201",
        "task": "cifar10",
        "kind": "lgbm",
        "n_train": 40,
        "seed": 1,
        "params": {"n_estimators": 30},
    }
    job, _ = store.create("train_predictor", params, "alice")
    _, token = store.claim_next()
    stop = threading.Event()

    # first run: dies right after the "fitted" checkpoint (as with kill -9)
    class Died(Exception):
        pass

    ctx = JobContext(store, store.get(job.id), token, settings, stop)
    original = ctx.checkpoint

    def checkpoint_then_die(state, progress=None, message=None):
        original(state, progress, message)
        raise Died

    ctx.checkpoint = checkpoint_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        train_predictor(dict(params), ctx)
    assert store.get(job.id).checkpoint == {"stage": "fitted"}
    assert train_model_id(params, job.id) not in ModelStore(settings.model_dir).ids()

    # the worker is presumed dead; the resumed run must not fit again
    store.requeue_stale(lease_s=0, max_failures=3)
    from archgen.predictors.lgbm import LightGBMPredictor

    def no_fit(*_a, **_k):
        raise AssertionError("fitted again instead of resuming")

    monkeypatch.setattr(LightGBMPredictor, "fit", no_fit)
    _run(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    assert done.result["resumed"] and done.attempts == 2
    assert ModelStore(settings.model_dir).ids() == [train_model_id(params, job.id)]


@register_job("test_counter", "counts to n, checkpointing each step (test only)")
def _counter(params: dict, ctx: JobContext) -> dict:
    start = ctx.state.get("i", 0)
    for i in range(start, params["n"]):
        time.sleep(params.get("sleep", 0.0))
        ctx.checkpoint({"i": i + 1}, (i + 1) / params["n"])
    return {"started_at": start, "count": params["n"]}


def test_shutdown_interrupts_and_the_next_manager_resumes(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("test_counter", {"n": 200, "sleep": 0.01}, "alice")
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    while store.get(job.id).progress < 0.1:
        time.sleep(0.02)
    manager.stop()
    j = store.get(job.id)
    assert j.status == "queued" and 0 < j.checkpoint["i"] < 200 and j.failures == 0
    _run(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED and done.result["started_at"] >= j.checkpoint["i"] and done.attempts == 2


def test_cancel_a_running_job(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("test_counter", {"n": 10_000, "sleep": 0.001}, "alice")
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    try:
        while store.get(job.id).status != "running":
            time.sleep(0.02)
        store.request_cancel(job.id, "alice")
        deadline = time.monotonic() + 30
        while not store.get(job.id).done:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        manager.stop()
    assert store.get(job.id).status == "cancelled"


def test_a_failing_job_records_its_error(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create(
        "train_predictor", {"space": "nb201", "task": "cifar10", "kind": "lgbm", "n_train": 999999}, "a"
    )
    _run(settings, job.id)
    j = store.get(job.id)
    assert j.status == "failed" and "n_train must be between" in j.error
