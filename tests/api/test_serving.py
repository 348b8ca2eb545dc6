"""The model service's first-start background work yields to users' jobs."""

from __future__ import annotations

from pathlib import Path

from archgen.api.serving import ModelService
from archgen.context import workspace
from archgen.jobs import SYSTEM_OWNER, JobStore
from tests.api.conftest import service_settings


def test_the_warm_up_waits_while_a_users_job_is_queued_or_running(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    settings = service_settings(tmp_path, data_dir, cache_dir, default_models=())
    jobs = JobStore(settings.db_url)
    models = ModelService(settings, workspace(settings.paths), jobs)
    jobs.create("train_predictor", {"i": 0}, SYSTEM_OWNER)
    assert not models._users_busy()  # the service's own jobs do not hold it back
    user, _ = jobs.create("generate", {"i": 1}, "alice")
    assert models._users_busy()  # queued
    claimed = jobs.claim_next()
    assert claimed is not None and claimed[0].id == user.id and models._users_busy()  # running
    assert jobs.finish(user.id, claimed[1], "succeeded", result={})
    assert not models._users_busy()
