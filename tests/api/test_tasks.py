"""A user task over HTTP: upload (a job), listing, then its supernet, predictions, zero-cost scores, guided
generation, a search and a training by the task's name; and the refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archgen.api import create_app
from archgen.api.keys import KeyStore
from archgen.curves.table import CurveTable
from tests.api.conftest import NB201_ARCH, Service, service_settings
from tests.tasks.folders import image_folder, tar_folder, zip_folder

TINY_SUPERNET = {"minutes": 0.05, "epochs": 2, "batch_size": 16, "C": 4, "N": 1, "resolution": 8,
                 "calib_batches": 2, "eval_images": 30}  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, cache_dir: Path) -> Iterator[Service]:
    """A service of its own (no default predictors): these tests train the space's generator, which the shared
    service's generation tests expect to find untrained."""
    settings = service_settings(tmp_path_factory.mktemp("tasks-service"), data_dir, cache_dir, default_models=())
    _, key = KeyStore(settings.db_url).create("tests")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Service(client, settings, key)


@pytest.fixture(scope="module")
def folder(ws, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_folder(ws, tmp_path_factory.mktemp("upload") / "pets", per_class=25)


@pytest.fixture(scope="module")
def pets(service: Service, folder: Path) -> str:
    """The task ``pets`` uploaded as a zip (without a test split, as a task registered before them), with a tiny
    supernet trained."""
    c, h = service.client, service.auth
    r = c.post("/v1/tasks?name=pets&filename=pets.zip&test_fraction=0", content=zip_folder(folder), headers=h)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["task"]["classes"] == ["cat", "dog", "ship"]
    r = c.post("/v1/supernets", json={"task": "pets", **TINY_SUPERNET}, headers=h)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    return "pets"


def test_upload_registers_the_task_and_lists_it(service: Service, pets: str) -> None:
    body = service.client.get("/v1/tasks", headers=service.auth).json()
    assert body["builtin"] == ["cifar10", "cifar10-valid"]
    (t,) = [t for t in body["tasks"] if t["name"] == pets]
    assert t["images"] == 75 and t["train"] == 60 and t["validation"] == 15 and t["test"] == 0
    assert t["source"].startswith("upload:pets.zip:sha256:")
    one = service.client.get(f"/v1/tasks/{pets}", headers=service.auth).json()
    assert one["supernets"] and one["supernets"][0]["task"] == pets
    assert service.client.get("/v1/tasks/nope", headers=service.auth).status_code == 404


def test_refusals_name_the_problem(service: Service, pets: str, folder: Path) -> None:
    c, h = service.client, service.auth
    r = c.post("/v1/tasks?name=Bad%20Name", content=b"x", headers=h)
    assert r.status_code == 422 and "invalid task name" in r.json()["error"]["message"]
    r = c.post(f"/v1/tasks?name={pets}", content=zip_folder(folder), headers=h)
    assert r.status_code == 409 and "exists already" in r.json()["error"]["message"]
    r = c.post("/v1/tasks?name=empty", content=b"", headers=h)
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]
    r = c.post("/v1/tasks?name=notzip", content=b"this is not an archive", headers=h)
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "failed" and "not a zip or tar" in job["error"]
    assert not list((service.settings.paths.home / "uploads").glob("*"))  # a refused upload is not kept
    r = c.post("/v1/supernets", json={"task": "nope"}, headers=h)
    assert r.status_code == 404 and pets in r.json()["error"]["message"]
    r = c.post("/v1/supernets", json={"task": pets}, headers=h)  # 60 images, batch 128
    assert r.status_code == 422 and "lower batch_size" in r.json()["error"]["message"]
    r = c.post("/v1/supernets", json={"task": pets, "minutes": 10_000}, headers=h)
    assert r.status_code == 422
    names = c.get("/v1/tasks", headers=h).json()["tasks"]
    assert "notzip" not in [t["name"] for t in names]


def test_a_task_with_the_default_test_split_shows_validation_and_test_accuracy(service: Service, folder: Path) -> None:
    c, h = service.client, service.auth
    r = c.post("/v1/tasks?name=pets-test", content=zip_folder(folder), headers=h)
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    t = job["result"]["task"]
    assert (t["train"], t["validation"], t["test"]) == (45, 15, 15)  # a fifth of each class for each held-out part
    r = c.post("/v1/trainings", json={"arch": NB201_ARCH, "task": "pets-test", "epochs": 1, "batch_size": 16, "C": 4,
                                      "N": 1, "resolution": 8}, headers=h)  # fmt: skip
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    res = job["result"]
    assert res["val_acc"] == res["heldout_acc"] and 0 <= res["test_acc"] <= 100 and "test_note" not in res
    assert res["heldout_images"] == res["test_images"] == 15
    assert c.delete("/v1/tasks/pets-test", headers=h).status_code in (200, 204)


def test_a_curve_table_of_a_task_is_a_job_whose_table_downloads(service: Service, pets: str, folder: Path,
                                                               tmp_path: Path) -> None:  # fmt: skip
    c, h = service.client, service.auth
    r = c.post("/v1/tasks?name=pets-curves", content=zip_folder(folder), headers=h)
    assert service.wait_job(r.json()["id"])["status"] == "succeeded"
    body = {"task": "pets-curves", "cells": 2, "c10_top": 1, "top": 0, "seeds": 2, "epochs": 2, "C": 4,
            "batch_size": 16}  # fmt: skip
    for bad, status, text in [({"task": "nope"}, 404, "nope"), ({"task": pets}, 422, "no test split"),
                              ({"cells": 1}, 422, "cells"), ({"epochs": 0}, 422, "epochs"),
                              ({"evaluator": "table"}, 422, "evaluator")]:  # fmt: skip
        r = c.post("/v1/curve-tables", json=body | bad, headers=h)
        assert r.status_code == status and text in r.json()["error"]["message"], r.text
    r = c.post("/v1/curve-tables", json=body, headers=h)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == job["location"] == f"/v1/curve-tables/{job['id']}"
    done = service.wait_job(job["id"], timeout=600)
    assert done["status"] == "succeeded" and done["progress"] == 1.0, done["error"]
    res = c.get(job["location"], headers=h).json()["result"]
    assert res["trainings"] == 6 and res["complete"] and res["epochs"] == 2 and res["schedule"]["resolution"] == 32
    t = c.get(job["table"], headers=h)
    assert t.status_code == 200
    (tmp_path / "t.npz").write_bytes(t.content)
    table = CurveTable.load(tmp_path / "t.npz")
    assert table.task == "pets-curves" and table.complete().all() and table.kinds.count("c10-top") == 1
    assert c.get(f"/v1/curve-tables/{job['id'][:-1]}x", headers=h).status_code == 404
    assert c.delete("/v1/tasks/pets-curves", headers=h).status_code in (200, 204)


def test_an_upload_repeated_under_its_idempotency_key_is_the_same_job(service: Service, folder: Path) -> None:
    c, h = service.client, service.auth | {"Idempotency-Key": "pets-once"}
    body = zip_folder(folder)
    r = c.post("/v1/tasks?name=pets-once", content=body, headers=h)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    assert str(service.settings.paths.home) not in r.text + str(job)  # the upload is a file name, not a path
    again = c.post("/v1/tasks?name=pets-once", content=body, headers=h)  # after success: the same job, no 409
    assert again.status_code == 202 and again.json()["id"] == job["id"]
    other = c.post("/v1/tasks?name=pets-once", content=body + b"\0", headers=h)  # another request, the same key
    assert other.status_code == 409 and "different request" in other.json()["error"]["message"]
    assert not list(service.settings.paths.upload_dir.glob("*"))


def test_a_tar_upload_works_too(service: Service, folder: Path) -> None:
    r = service.client.post("/v1/tasks?name=pets-tar", content=tar_folder(folder), headers=service.auth)
    assert service.wait_job(r.json()["id"])["status"] == "succeeded"


def test_the_task_name_works_in_predict_zero_cost_and_training(service: Service, pets: str) -> None:
    c, h = service.client, service.auth
    r = c.post("/v1/predict", json={"task": pets, "architectures": [NB201_ARCH, 17]}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()  # by default its label-free prior, the supernet one of its sources
    assert body["target"]["metric"] == "prior_percentile" and body["predictor"]["kind"] == "source-prior"
    assert "supernet:" in body["target"]["description"] and "table:cifar10/test_acc" in body["target"]["description"]
    assert all(0 < p["mean"] < 100 and p["std"] > 0 for p in body["predictions"])
    r = c.post("/v1/predict", json={"task": pets, "architectures": [NB201_ARCH, 17], "predictor": "supernet"},
               headers=h)  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target"]["metric"] == "supernet_acc" and body["predictor"]["kind"] == "nb201-supernet"
    assert all(0 <= p["mean"] <= 100 and p["std"] > 0 for p in body["predictions"])
    r = c.post(
        "/v1/zero-cost", json={"task": pets, "architectures": [NB201_ARCH], "proxies": ["synflow", "nwot"]}, headers=h
    )
    assert r.status_code == 200 and r.json()["results"][0]["scores"]["nwot"] is not None
    r = c.post("/v1/trainings", json={"arch": NB201_ARCH, "task": pets, "epochs": 1, "batch_size": 16, "C": 4, "N": 1,
                                      "resolution": 8}, headers=h)  # fmt: skip
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded" and job["result"]["heldout_images"] == 15
    res = job["result"]  # the validation accuracy, named; no test split: said, never the validation figure instead
    assert res["heldout_split"] == "validation" and res["val_acc"] == res["heldout_acc"] and res["test_acc"] is None
    assert "no test split" in res["test_note"] and res["test_images"] == 0


def test_generation_and_a_search_guided_by_the_supernet(service: Service, pets: str) -> None:
    c, h = service.client, service.auth
    r = c.post(
        "/v1/generate", json={"task": pets, "n": 4, "guide_by": "supernet", "labelled": 8, "steps": 5}, headers=h
    )
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"], 300)
    assert job["status"] == "succeeded", job
    assert len(job["result"]["items"]) == 4 and all(i["predicted"] is not None for i in job["result"]["items"])
    r = c.post("/v1/generate", json={"task": pets, "n": 2, "guide_by": "prior", "labelled": 8, "steps": 5}, headers=h)
    job = service.wait_job(r.json()["id"], 300)
    assert job["status"] == "succeeded" and job["result"]["target"] == "prior/percentile", job
    r = c.post("/v1/generate", json={"task": pets, "n": 4, "guide_by": "table"}, headers=h)  # the task has none
    assert r.status_code == 422 and "no table" in r.json()["error"]["message"] and "'prior'" in r.text
    r = c.post("/v1/generate", json={"task": pets, "n": 2, "labelled": 8, "steps": 5}, headers=h)  # default: prior
    job = service.wait_job(r.json()["id"], 300)
    assert job["status"] == "succeeded" and job["result"]["target"] == "prior/percentile", job
    r = c.post("/v1/searches", json={"task": pets, "strategy": "bo", "budget": 8, "batch_size": 4}, headers=h)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["searches"][0]["id"], 300)
    assert job["status"] == "succeeded", job
    assert job["result"]["evaluations"] == 8 and 0 <= job["result"]["best"]["value"] <= 100
    r = c.post("/v1/searches", json={"task": pets, "strategy": "bo", "prior": "zero-cost", "budget": 8}, headers=h)
    assert r.status_code == 422 and "prior" in r.json()["error"]["message"]


def test_a_task_without_a_supernet_is_predicted_by_its_prior(service: Service, folder: Path) -> None:
    """Right after the upload, with no supernet: other tasks' published accuracies and zero-cost proxies on its
    images rank its cells (it used to be a 409 until a supernet was trained); the supernet asked for by name
    says how to get one."""
    c, h = service.client, service.auth
    r = c.post("/v1/tasks?name=bare", content=zip_folder(folder), headers=h)
    assert service.wait_job(r.json()["id"])["status"] == "succeeded"
    best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    worst = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    r = c.post("/v1/predict", json={"task": "bare", "architectures": [best, worst]}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["predictor"]["kind"] == "source-prior" and "supernet:" not in body["target"]["description"]
    assert "zc:synflow" in body["target"]["description"]
    top, bottom = body["predictions"]
    assert top["mean"] > 70 > 30 > bottom["mean"] and top["std"] > 0
    r = c.post("/v1/predict", json={"task": "bare", "architectures": [best], "predictor": "supernet"}, headers=h)
    assert r.status_code == 409 and "POST /v1/supernets" in r.json()["error"]["message"]
    r = c.post("/v1/searches", json={"task": "bare", "strategy": "random", "budget": 4}, headers=h)
    assert r.status_code == 409


TINY_TRAINING = {"evaluator": "training", "budget_minutes": 0.1, "schedule": {"C": 4, "N": 1, "resolution": 8,
                 "batch_size": 16}, "fidelities": [{"epochs": 1, "train_images": 30}, {"epochs": 1}]}  # fmt: skip


def test_a_training_search_ends_with_the_best_cell_trained_and_its_weights(
    service: Service, pets: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The README's "User tasks" sequence ends here: a search that pays for real trainings at two fidelities
    (the prior: the tables of other image sets, proxies on the task's images, its supernet), the best cell
    trained on the final schedule, its weights downloaded."""
    from archgen.services import task_prior, training_search

    monkeypatch.setattr(task_prior, "REFERENCE_CELLS", 12)  # the jobs run in this process (thread workers)
    monkeypatch.setattr(training_search, "POOL_SHARE", 0.6)  # the prior's every source scored on a cold cache
    c, h = service.client, service.auth
    body = {"task": pets, **TINY_TRAINING, "budget_minutes": 0.5, "final_epochs": 2}
    r = c.post("/v1/searches", json=body, headers=h)
    assert r.status_code == 202, r.text
    sid = r.json()["searches"][0]["id"]
    job = service.wait_job(sid, 600)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and ("trainings (" in job["message"] or "final schedule" in job["message"]), job
    s = c.get(f"/v1/searches/{sid}", headers=h).json()["search"]
    assert (
        s["budget_unit"] == "seconds" and 25 <= s["spent_seconds"] <= 31 and s["finished"] and s["overhead_seconds"] > 0
    )
    assert s["result"]["prior_scoring"]["seconds"] <= s["result"]["prior_scoring"]["share_seconds"] + 2
    # the default (priorband): its finalists trained again with another seed, a fidelity of its own
    assert [f["label"] for f in s["fidelities"]] == ["1ep/30img", "1ep", "1ep, mean of 2 seeds"]
    assert s["fidelities"][0]["trainings"] >= 5 and s["result"]["final"]["epochs"] == 2
    assert s["best"]["fidelity"] in ("1ep", "1ep, mean of 2 seeds")
    assert set(s["result"]["prior_weights"]) == {"transfer", "zero-cost", "supernet"}
    assert all(i["fidelity"] in (0, 1, 2) for i in s["history"]["items"])
    r = c.get(f"/v1/searches/{sid}/weights", headers=h)
    assert r.status_code == 200 and r.content[:2] == b"PK"  # an .npz (a zip of arrays), no pickle
    prov = c.get(f"/v1/searches/{sid}/weights", params={"what": "provenance"}, headers=h).json()
    assert prov["arch"] == s["best"]["architecture"] and prov["epochs"] == 2 and prov["train_images"] == 60
    for shown in (s["result"]["best"], s["result"]["final"]):  # the validation accuracy, named; no test split: said
        assert shown["selected_by"] == "val_acc" and shown["val_acc"] == shown["value"] and shown["test_acc"] is None
        assert "no test split" in shown["test_note"]
    best = c.get(f"/v1/searches/{sid}/weights", params={"which": "best", "what": "provenance"}, headers=h).json()
    assert best["epochs"] == 1 and best["arch"] == s["best"]["architecture"]
    r = c.get(f"/v1/searches/{sid}/weights", params={"what": "model"}, headers=h)  # the model a user loads
    assert r.status_code == 200, r.text
    (tmp_path / "m.safetensors").write_bytes(r.content)
    from archgen.training.model import load_model

    model = load_model(tmp_path / "m.safetensors")
    assert model.card.architecture == s["best"]["architecture"] and model.card.classes == ["cat", "dog", "ship"]
    assert model.card.epochs == 2 and len(model.card.mean) == 3
    r = c.get(f"/v1/searches/{sid}/weights", params={"what": "onnx"}, headers=h)
    assert r.status_code == 200 and len(r.content) > 1000, r.text
    r = c.get(f"/v1/searches/{sid}/weights", params={"what": "pickle"}, headers=h)
    assert r.status_code == 422 and "model" in r.json()["error"]["message"]


def test_bad_training_searches_are_refused_before_any_job(service: Service, pets: str) -> None:
    c, h = service.client, service.auth
    before = len(c.get("/v1/jobs", params={"kind": "search"}, headers=h).json()["jobs"])
    cases = [
        ({"task": pets, **TINY_TRAINING, "budget_minutes": 0}, 422, "budget_minutes"),
        ({"task": pets, **TINY_TRAINING, "budget_minutes": 400}, 422, "ARCHGEN_SEARCH_MAX_TRAINING_MINUTES"),
        # what a search can spend counts, its final training too (about 25 s here): over the 300 minutes a key holds
        (
            {
                "task": pets,
                **TINY_TRAINING,
                "budget_minutes": 299.9,
                "final_epochs": 200,
                "schedule": {"C": 8, "N": 1, "resolution": 32, "batch_size": 16},
            },
            429,
            "budgets and final trainings",
        ),
        # the attack's body: 1,024 trainings a batch, eight fidelities, 0.01 minutes
        (
            {
                "task": pets,
                **TINY_TRAINING,
                "budget_minutes": 0.01,
                "batch_size": 1024,
                "fidelities": [{"epochs": e} for e in range(1, 9)],
            },
            422,
            "batch_size",
        ),
        (
            {
                "task": pets,
                **TINY_TRAINING,
                "budget_minutes": 0.01,
                "prior": "none",
                "schedule": {"C": 16, "N": 1, "resolution": 32, "batch_size": 16},
                "fidelities": [{"epochs": e} for e in range(20, 28)],
            },
            422,
            "budget too small to train one cell",
        ),
        (
            {
                "task": pets,
                **TINY_TRAINING,
                "schedule": {"C": 4, "N": 1, "resolution": 8, "batch_size": 1},
                "fidelities": [{"epochs": 1, "train_images": 1}],
            },
            422,
            "stratified 1 over",
        ),
        ({"task": pets, **TINY_TRAINING, "budget_minutes": None}, 422, "needs budget_minutes"),
        ({"task": pets, **TINY_TRAINING, "fidelities": [{"epochs": "two"}]}, 422, "fidelities.0.epochs"),
        ({"task": pets, **TINY_TRAINING, "fidelities": [{"epochs": 3}, {"epochs": 1}]}, 422, "cheapest first"),
        ({"task": pets, **TINY_TRAINING, "fidelities": [{"epochs": 500}]}, 422, "ARCHGEN_TRAINING_MAX_EPOCHS"),
        ({"task": pets, **TINY_TRAINING, "budget": 10}, 422, "not budget"),
        ({"task": "cifar100", **TINY_TRAINING}, 404, "task with images"),
        ({"task": pets, **TINY_TRAINING, "space": "nasbench_graph"}, 422, "trains NB201 cells"),
        ({"task": pets, **TINY_TRAINING, "strategy": "bo"}, 404, "prior-sh"),
        ({"task": pets, "budget_minutes": 5}, 422, "go with evaluator 'training'"),
        ({"task": pets, "evaluator": "table", "budget": 4}, 422, "evaluated by its supernet"),
    ]
    for body, status, text in cases:
        r = c.post("/v1/searches", json=body, headers=h)
        assert r.status_code == status and text in r.json()["error"]["message"], (body, r.text)
    assert len(c.get("/v1/jobs", params={"kind": "search"}, headers=h).json()["jobs"]) == before
    r = c.post("/v1/searches", json={"task": "cifar10", "strategy": "random", "budget": 4}, headers=h)
    assert r.status_code == 202, r.text
    r = c.get(f"/v1/searches/{r.json()['searches'][0]['id']}/weights", headers=h)
    assert r.status_code == 422 and "trains no architecture" in r.json()["error"]["message"], r.text


def test_a_training_search_cancelled_mid_training_stops_within_the_grace(service: Service, pets: str) -> None:
    c, h = service.client, service.auth
    body = {"task": pets, **TINY_TRAINING, "budget_minutes": 30, "prior": "none",
            "fidelities": [{"epochs": 200}]}  # fmt: skip
    r = c.post("/v1/searches", json=body, headers=h)
    assert r.status_code == 202, r.text
    sid = r.json()["searches"][0]["id"]
    deadline = time.monotonic() + 120
    while c.get(f"/v1/searches/{sid}", headers=h).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)  # inside the first batch of trainings
    t0 = time.monotonic()
    assert c.delete(f"/v1/searches/{sid}", headers=h).status_code == 200
    job = service.wait_job(sid, 120)
    assert job["status"] == "cancelled" and time.monotonic() - t0 < service.settings.job_cancel_grace_s, job
    r = c.get(f"/v1/searches/{sid}/weights", headers=h)
    assert r.status_code == 409


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, cache_dir: Path) -> Iterator[Service]:
    settings = service_settings(tmp_path_factory.mktemp("limits"), data_dir, cache_dir, default_models=(),
                                task_max_upload_bytes=4096, task_max_unpacked_bytes=50_000)  # fmt: skip
    _, key = KeyStore(settings.db_url).create("tests")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Service(client, settings, key)


def test_upload_limits(small_limits: Service, folder: Path) -> None:
    c, h = small_limits.client, small_limits.auth
    r = c.post("/v1/tasks?name=big", content=b"\0" * 5000, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert not list((small_limits.settings.paths.home / "uploads").glob("*"))  # the partial upload is gone
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:  # 100 kB of zeros compress to a few hundred bytes
        z.writestr("a/1.png", b"\0" * 100_000)
        z.writestr("b/1.png", b"\0" * 10)
    r = c.post("/v1/tasks?name=bomb", content=buf.getvalue(), headers=h)
    assert r.status_code == 202, r.text
    job = small_limits.wait_job(r.json()["id"])
    assert job["status"] == "failed" and "the limit is 50000" in job["error"]


def _du(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def test_a_search_s_files_are_its_owner_s_and_go_with_its_task(service: Service, folder: Path) -> None:
    """A training search keeps its history and its best training (the other trainings' files go as it runs);
    they count in the key's usage (equal to what is on disk); deleting the task deletes them (the weights are
    then gone, 409), and a cancelled search keeps only what its history serves."""
    c, h = service.client, service.auth
    r = c.post("/v1/tasks?name=disk-pets", content=zip_folder(folder), headers=h)
    assert r.status_code == 202 and service.wait_job(r.json()["id"])["status"] == "succeeded"
    body = {"task": "disk-pets", **TINY_TRAINING, "prior": "none", "budget_minutes": 0.1}
    sid = c.post("/v1/searches", json=body, headers=h).json()["searches"][0]["id"]
    assert service.wait_job(sid, 300)["status"] == "succeeded"
    work = service.settings.job_dir / sid
    s = c.get(f"/v1/searches/{sid}", headers=h).json()["search"]
    runs = sorted(p.relative_to(work).as_posix() for p in (work / "runs").iterdir())
    assert runs == [s["result"]["best"]["run"]] and s["evaluations"] >= 10  # one training's files of many
    assert not list(work.rglob("checkpoint.npz"))
    usage = c.get("/v1/tasks", headers=h).json()["usage"]
    jobs = [j["id"] for j in c.get("/v1/jobs", params={"limit": 1000}, headers=h).json()["jobs"]]
    on_disk = sum(_du(service.settings.job_dir / j) for j in jobs)
    assert usage["job_bytes"] == pytest.approx(on_disk, rel=0.05) and usage["job_bytes"] > 0
    assert usage["bytes"] >= usage["job_bytes"]

    long = {**body, "budget_minutes": 30, "fidelities": [{"epochs": 1, "train_images": 30}, {"epochs": 200}]}
    cid = c.post("/v1/searches", json=long, headers=h).json()["searches"][0]["id"]
    deadline = time.monotonic() + 120
    while not (service.settings.job_dir / cid / "history.json").is_file():  # a few trainings recorded
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    assert c.delete(f"/v1/searches/{cid}", headers=h).status_code == 200
    assert service.wait_job(cid, 120)["status"] == "cancelled"
    cut = service.settings.job_dir / cid
    hist = c.get(f"/v1/searches/{cid}", headers=h).json()["search"]
    kept = sorted(p.relative_to(cut).as_posix() for p in cut.rglob("*") if p.is_dir() and p.parent.name == "runs")
    assert kept == ([hist["result"]["best_run"]] if hist["result"].get("best_run") else [])
    assert not list(cut.rglob("checkpoint.npz"))  # the training in flight's checkpoint went with it

    r = c.delete("/v1/tasks/disk-pets", headers=h)
    assert r.status_code == 200 and set(r.json()["job_files_deleted"]) >= {sid, cid}, r.text
    assert not work.exists() and not cut.exists()
    r = c.get(f"/v1/searches/{sid}/weights", headers=h)
    assert r.status_code == 409


def test_tasks_added_with_the_cli_are_shared_read_only_with_every_key(service: Service, folder: Path) -> None:
    """The operator's task (``archgen tasks add``, under home/tasks) is listed for a key as shared, usable by its
    name (a training here), and neither deletable nor replaceable by the key; an unknown task's 404 lists it."""
    from archgen.tasks.store import TaskStore

    TaskStore(service.settings.paths.task_dir).add("operator-pets", folder)
    c, h = service.client, service.auth
    listed = {t["name"]: t for t in c.get("/v1/tasks", headers=h).json()["tasks"]}
    assert listed["operator-pets"]["shared"] is True and listed.get("pets", {}).get("shared") in (False, None)
    assert c.get("/v1/tasks/operator-pets", headers=h).json()["shared"] is True
    r = c.post("/v1/trainings", json={"arch": NB201_ARCH, "task": "operator-pets", "epochs": 1, "batch_size": 16,
                                      "C": 4, "N": 1, "resolution": 8}, headers=h)  # fmt: skip
    assert r.status_code == 202, r.text
    assert service.wait_job(r.json()["id"], 120)["status"] == "succeeded"
    r = c.delete("/v1/tasks/operator-pets", headers=h)
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]
    r = c.post("/v1/tasks?name=operator-pets", content=zip_folder(folder), headers=h)
    assert r.status_code == 409
    r = c.post("/v1/trainings", json={"arch": NB201_ARCH, "task": "no-such-task", "epochs": 1}, headers=h)
    assert r.status_code == 404 and "operator-pets" in r.json()["error"]["message"]
