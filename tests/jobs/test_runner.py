"""Running one job: params validated by the kind's model, errors recorded, the kind's module imported."""

from __future__ import annotations

import sys
import threading

from archgen.jobs import JobStore
from archgen.jobs.base import import_kind_module
from archgen.jobs.runner import execute
from archgen.settings import Settings


def test_invalid_params_fail_the_job_naming_the_field(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("train_predictor", {"space": "nb201", "task": "cifar10", "n_train": "x"}, "a")
    _, token = store.claim_next()
    assert execute(job.id, token, settings, threading.Event()) == "failed"
    err = store.get(job.id).error
    assert "n_train" in err and "internal error" not in err


def test_a_failing_job_records_its_error(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create(
        "train_predictor", {"space": "nb201", "task": "cifar10", "kind": "lgbm", "n_train": 999999}, "a"
    )
    _, token = store.claim_next()
    work = settings.job_dir / job.id
    work.mkdir(parents=True)
    (work / "checkpoint.npz").write_bytes(bytes(1000))  # issue 25: failed jobs kept checkpoints (610 MB once)
    assert execute(job.id, token, settings, threading.Event()) == "failed"
    assert "n_train must be at least" in store.get(job.id).error
    assert not work.exists()


def test_a_failed_search_keeps_the_history_it_serves(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("search", {"space": "nb201", "task": "mnist"}, "a")
    _, token = store.claim_next()
    work = settings.job_dir / job.id
    work.mkdir(parents=True)
    (work / "history.json").write_text("{}")
    assert execute(job.id, token, settings, threading.Event()) == "failed"
    assert (work / "history.json").is_file()


def test_the_kinds_module_is_imported_in_a_worker() -> None:
    sys.modules.pop("tests.jobs.conftest", None)
    import_kind_module("tests.jobs.conftest")
    assert "tests.jobs.conftest" in sys.modules
    import_kind_module(None)  # nothing to import
