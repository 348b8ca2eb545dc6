"""Every backend runs a real job to the end: local worker processes, threads, Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from archgen.artifacts import ArtifactStore
from archgen.jobs import SUCCEEDED, JobManager, JobStore
from archgen.services.predictors import TrainPredictorParams
from archgen.settings import Settings
from tests.helpers import wait_until


@pytest.mark.parametrize("backend", ["local", "thread", "ray"])
def test_backend_runs_a_training_job(backend: str, tmp_path: Path, data_dir: Path, cache_dir: Path) -> None:
    settings = Settings(
        data_dir=data_dir, cache_dir=cache_dir, home=tmp_path, worker_backend=backend, workers=1, shutdown_grace_s=10
    )
    store = JobStore(settings.db_url)
    params = TrainPredictorParams(
        space="nb201", task="cifar10", kind="lgbm", n_train=40, params={"n_estimators": 20}, eval_max=500
    ).model_dump(mode="json")
    job, _ = store.create("train_predictor", params, "alice")
    manager = JobManager(settings, poll_s=0.1)
    manager.start()
    try:
        wait_until(lambda: store.get(job.id).done, 180, 0.1, f"job on {backend}")
    finally:
        manager.stop()
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    assert ArtifactStore(settings.model_dir).record(done.result["model_id"]).heldout["n"] == 500
