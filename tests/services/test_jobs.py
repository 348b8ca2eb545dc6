"""The built-in job kinds: typed params, training that resumes after its last finished part, zero-cost scoring."""

from __future__ import annotations

import threading

import pytest

from archgen.artifacts import ArtifactStore
from archgen.jobs import CANCELLED, FAILED, SUCCEEDED, JobContext, JobStore
from archgen.jobs.base import JobParamsError, get_job_kind
from archgen.services.jobs import train_predictor
from archgen.services.predictors import TrainPredictorParams, model_id
from archgen.services.requests import ZeroCostRequest
from archgen.settings import Settings
from tests.jobs.conftest import run_to_end


class Died(Exception):
    """Stands for kill -9 in the middle of a job."""


def test_kinds_declare_their_params_models() -> None:
    assert get_job_kind("train_predictor").params is TrainPredictorParams
    assert get_job_kind("zero_cost").params is ZeroCostRequest
    with pytest.raises(JobParamsError, match="n_train"):
        get_job_kind("train_predictor").validate({"space": "nb201", "task": "cifar10", "n_train": "many"})
    with pytest.raises(JobParamsError, match="bogus"):
        get_job_kind("train_predictor").validate({"space": "nb201", "task": "cifar10", "bogus": 1})


def test_a_stack_job_killed_mid_fit_resumes_after_its_last_finished_member(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archgen.predictors.lgbm import LightGBMPredictor

    store = JobStore(settings.db_url)
    params = TrainPredictorParams(
        space="nb201",
        task="cifar10",
        kind="stack",
        n_train=60,
        seed=1,
        params={"members": ["lgbm", "zc_learned"]},
        eval_max=300,
    )
    job, _ = store.create("train_predictor", params.model_dump(mode="json"), "alice")
    _, token = store.claim_next()

    fits: list[str] = []
    real_fit = LightGBMPredictor._fit

    def counting_fit(self, archs, y, monitor):
        fits.append("lgbm")
        return real_fit(self, archs, y, monitor)

    monkeypatch.setattr(LightGBMPredictor, "_fit", counting_fit)

    # first run: dies right after the first finished member is checkpointed
    ctx = JobContext(store, store.get(job.id), token, settings, threading.Event())
    original = ctx.checkpoint

    def checkpoint_then_die(state, progress=None, message=None):
        original(state, progress, message)
        if state.get("parts"):
            raise Died

    ctx.checkpoint = checkpoint_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        train_predictor(params, ctx)
    assert store.get(job.id).checkpoint["parts"] == ["model/fold0-0-lgbm"]
    assert fits == ["lgbm"]
    mid = model_id("stack", "nb201", "cifar10", 60, 1, job.id[:8])
    assert mid not in ArtifactStore(settings.model_dir).ids()

    # the worker is presumed dead; the resumed run fits only what was not finished
    store.requeue_stale(lease_s=0, max_failures=3)
    fits.clear()
    run_to_end(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    assert done.result["resumed"] and done.attempts == 2
    assert ArtifactStore(settings.model_dir).ids() == [mid]
    # fold 0's lgbm was restored from its checkpoint; folds 1 and 2 and the final refit were fitted
    assert fits == ["lgbm", "lgbm", "lgbm"]
    assert not (settings.job_dir / job.id / "parts").exists()


def test_a_zero_cost_job_scores_and_checkpoints(settings: Settings) -> None:
    store = JobStore(settings.db_url)
    params = ZeroCostRequest(
        space="nb201",
        task="cifar10",
        architectures=[123],
        proxies=["params", "synflow"],
        batch_size=8,
        width=4,
        seed=4242,  # settings no other test uses: the cell is computed here, not found in the session cache
    )
    job, _ = store.create("zero_cost", params.model_dump(mode="json"), "alice")
    run_to_end(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    res = done.result
    assert res["results"][0]["architecture"] == 123 and set(res["results"][0]["scores"]) == {"params", "synflow"}
    assert res["cells"] == 1 and done.checkpoint == {"cells_scored": 1}


def test_a_search_job_killed_mid_search_resumes_to_the_uninterrupted_result(settings: Settings) -> None:
    from archgen.context import workspace
    from archgen.services.jobs import SEARCH_HISTORY, search
    from archgen.services.search import SearchParams, execute_search

    params = SearchParams(task="cifar10", metric="test_acc", strategy="re", budget=24, batch_size=4, seed=3)
    whole = execute_search(params, workspace(settings.paths))
    store = JobStore(settings.db_url)
    job, _ = store.create("search", params.model_dump(mode="json"), "alice")
    _, token = store.claim_next()
    ctx = JobContext(store, store.get(job.id), token, settings, threading.Event())
    original = ctx.checkpoint

    def checkpoint_then_die(state, progress=None, message=None):
        original(state, progress, message)
        if state["evaluations"] >= 8:
            raise Died

    ctx.checkpoint = checkpoint_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        search(params, ctx)
    assert store.get(job.id).checkpoint == {"evaluations": 8}
    assert (settings.job_dir / job.id / SEARCH_HISTORY).is_file()
    store.requeue_stale(lease_s=0, max_failures=3)
    run_to_end(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    assert done.result["resumed"] and done.result["evaluations"] == 24
    assert done.result["best_so_far"] == whole.best_so_far().tolist()
    from archgen.search import SearchHistory

    resumed = SearchHistory.load(settings.job_dir / job.id / SEARCH_HISTORY)
    assert [e.architecture for e in resumed.evaluations] == [e.architecture for e in whole.evaluations]


def test_a_supernet_job_killed_mid_training_resumes_to_the_uninterrupted_supernet(settings: Settings) -> None:
    import numpy as np

    from archgen.context import workspace
    from archgen.services.jobs import train_supernet
    from archgen.services.supernets import SUPERNET_CHECKPOINT, SupernetParams

    params = SupernetParams(task="cifar10-valid", minutes=10, epochs=1, batch_size=64, C=4, N=1, resolution=8,
                            calib_batches=1, eval_images=50, seed=3)  # fmt: skip
    store = JobStore(settings.db_url)
    job, _ = store.create("train_supernet", params.model_dump(mode="json"), "alice")
    _, token = store.claim_next()
    ctx = JobContext(store, store.get(job.id), token, settings, threading.Event())
    calls = []

    def progress_then_die(fraction, message=None):
        calls.append(fraction)
        if fraction > 0.3:
            raise Died

    ctx.progress = progress_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        train_supernet(params, ctx)
    assert (settings.job_dir / job.id / SUPERNET_CHECKPOINT).is_file()
    store.requeue_stale(lease_s=0, max_failures=3)
    run_to_end(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    assert done.result["resumed"] and done.result["supernet"]["heldout"]["finished"]
    data = workspace(settings.paths).for_owner("alice")  # the supernet is alice's: in her own store
    resumed, _ = data.owned.load(done.result["supernet_id"], artifact_type="supernet")
    # the same run without the kill, in another store
    from archgen.services.supernets import train_supernet as train

    whole = train(params, data, ArtifactStore(settings.home / "other-models"), settings.home / "other-work",
                  model_id="whole")  # fmt: skip
    again, _ = ArtifactStore(settings.home / "other-models").load(whole.id, artifact_type="supernet")
    for k, v in again.net_.state_dict().items():
        np.testing.assert_allclose(resumed.net_.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_an_add_task_job_registers_once_and_a_repeat_finds_its_task(ws, settings: Settings, tmp_path) -> None:
    import hashlib

    from archgen.services.jobs import AddTaskParams, upload_name
    from tests.tasks.folders import image_folder, zip_folder

    raw = zip_folder(image_folder(ws, tmp_path / "pets", per_class=6))
    digest = hashlib.sha256(raw).hexdigest()
    upload = settings.paths.upload_dir / upload_name(digest, "alice", "pets")
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(raw)
    params = AddTaskParams(name="pets", upload=upload.name, upload_sha256=digest, filename="p.zip")
    store = JobStore(settings.db_url)
    job, _ = store.create("add_task", params.model_dump(mode="json"), "alice")
    run_to_end(settings, job.id)
    done = store.get(job.id)
    assert done.status == SUCCEEDED, done.error
    assert done.result["task"]["images"] == 18 and not upload.exists()
    assert not any((settings.job_dir / job.id).glob("unpacked*"))
    # a second attempt of the same job (its worker died after registering) returns the task, registers nothing new
    job2, _ = store.create("add_task", params.model_dump(mode="json"), "alice")
    run_to_end(settings, job2.id)
    assert store.get(job2.id).result["task"]["arrays_sha256"] == done.result["task"]["arrays_sha256"]
    job3, _ = store.create("add_task", params.model_dump(mode="json"), "bob")  # bob has no such task, nor its upload
    run_to_end(settings, job3.id)
    assert store.get(job3.id).status == "failed" and "upload it again" in store.get(job3.id).error


def test_an_add_task_job_removes_its_upload_however_it_ends(ws, settings: Settings, tmp_path) -> None:
    """Refused, failed or cancelled while queued: the upload is removed; at start-up, uploads no open job reads
    (and partial ones) are swept; an upload is a file name, never a path."""
    import pydantic

    from archgen.services.jobs import AddTaskParams, release_inputs, sweep_uploads, upload_name

    up = settings.paths.upload_dir
    up.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_url)

    def submit(name: str, data: bytes) -> tuple[str, object]:
        p = up / upload_name("ab" * 32, "alice", name)
        p.write_bytes(data)
        params = AddTaskParams(name=name, upload=p.name, upload_sha256="ab" * 32)
        return store.create("add_task", params.model_dump(mode="json"), "alice")[0].id, p

    refused, path = submit("junk", b"not an archive")
    run_to_end(settings, refused)
    assert store.get(refused).status == FAILED and "not a zip or tar" in store.get(refused).error
    assert not path.exists()
    queued, path = submit("later", b"bytes")
    job = store.request_cancel(queued, "alice")
    release_inputs(settings.paths, job.kind, job.params)
    assert job.status == CANCELLED and not path.exists()
    _, kept = submit("waiting", b"bytes")
    (up / ".0123.part").write_bytes(b"half")
    (up / upload_name("cd" * 32, "bob", "gone")).write_bytes(b"its job was deleted")
    assert sorted(sweep_uploads(settings.paths, store)) == sorted([".0123.part", upload_name("cd" * 32, "bob", "gone")])
    assert kept.exists()
    with pytest.raises(pydantic.ValidationError):
        AddTaskParams(name="x", upload=str(tmp_path / "elsewhere.zip"), upload_sha256="ab" * 32)


def test_a_cancelled_generator_training_stops_within_the_grace_without_a_kill(settings: Settings) -> None:
    """The generator reports from inside its epochs (every few seconds), so a cancel request is acted on there:
    the job ends cancelled by itself, not killed after the grace."""
    from archgen.jobs import JobManager
    from tests.helpers import wait_until

    settings = settings.model_copy(update={"worker_backend": "local", "workers": 1, "job_lease_s": 30})
    store = JobStore(settings.db_url)
    job, _ = store.create("train_generator", {"space": "nb201", "epochs": 2000, "seed": 5}, "alice")
    manager = JobManager(settings, poll_s=0.05)
    manager.start()
    try:
        wait_until(lambda: "training epoch" in (store.get(job.id).message or ""), 180, 0.1, "the training to report")
        store.request_cancel(job.id, "alice")
        wait_until(lambda: store.get(job.id).done, 60, 0.1, "the job to stop")
    finally:
        manager.stop()
    done = store.get(job.id)
    assert done.status == "cancelled", done.error
    assert "did not stop" not in (done.error or "")  # not killed by the manager
    assert done.finished_at - done.cancel_requested_at < settings.job_cancel_grace_s
