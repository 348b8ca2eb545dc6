"""Training and zero-cost jobs over HTTP: 202 + Location, polling, idempotency, cancellation, errors."""

from __future__ import annotations

import uuid

import numpy as np

from archgen.predictors.zerocost import ZCSettings, score_archs
from tests.api.conftest import Service


def test_train_predictor_job_stores_a_model(service: Service) -> None:
    body = {"kind": "lgbm", "n_train": 60, "seed": 3, "task": "cifar100", "params": {"n_estimators": 50}}
    r = service.client.post("/v1/predictors", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0
    mid = job["result"]["model_id"]
    detail = service.client.get(f"/v1/predictors/{mid}", headers=service.auth).json()
    assert detail["kind"] == "lgbm" and detail["task"] == "cifar100" and len(detail["train_archs"]) == 60
    assert detail["target"] == ["cifar100", "test_acc"] and detail["heldout"]["n"] > 15000
    assert detail["params"]["n_estimators"] == 50
    r = service.client.post(
        "/v1/predict", json={"task": "cifar100", "predictor": mid, "architectures": [9]}, headers=service.auth
    )
    assert r.status_code == 200 and r.json()["predictor"]["id"] == mid


def test_idempotency_key_returns_the_same_job(service: Service) -> None:
    key = uuid.uuid4().hex
    body = {"kind": "lgbm", "n_train": 50, "seed": 11}
    h = service.auth | {"Idempotency-Key": key}
    a = service.client.post("/v1/predictors", json=body, headers=h).json()
    b = service.client.post("/v1/predictors", json=body, headers=h).json()
    assert a["id"] == b["id"]
    r = service.client.post("/v1/predictors", json=body | {"seed": 12}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"
    service.wait_job(a["id"])


def test_train_request_errors(service: Service) -> None:
    cases = [
        ({"kind": "nope"}, 404),
        ({"task": "mnist"}, 404),
        ({"space": "x"}, 404),
        ({"metric": "nope"}, 404),
        ({"kind": "lgbm", "n_train": 20000}, 422),
        ({"kind": "lgbm", "params": {"bogus": 1}}, 422),
        ({"kind": "lgbm", "n_train": -1}, 422),
    ]
    for body, status in cases:
        r = service.client.post("/v1/predictors", json=body, headers=service.auth)
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()


def test_zero_cost_inline_and_as_a_job(service: Service) -> None:
    space = service.client.app.state.service.data.space("nb201")
    body = {"architectures": [10, 11], "proxies": ["synflow", "params"], "batch_size": 8, "width": 4}
    r = service.client.post("/v1/zero-cost", json=body, headers=service.auth)
    assert r.status_code == 200, r.text
    want = score_archs(
        [space.from_index(10), space.from_index(11)],
        "cifar10",
        ["synflow", "params"],
        ZCSettings(batch_size=8, C=4),
        data=service.client.app.state.service.data,
    )
    got = r.json()["results"]
    np.testing.assert_allclose([g["scores"]["params"] for g in got], want["params"])
    # more uncached cells than the inline limit: a job with the same body as result
    body = {"architectures": [20, 21, 22, 23], "proxies": ["params", "nwot"], "batch_size": 8, "width": 4}
    r = service.client.post("/v1/zero-cost", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "succeeded", job
    res = job["result"]["results"]
    assert [x["architecture"] for x in res] == [20, 21, 22, 23]
    assert all(x["scores"]["nwot"] is not None for x in res)
    # now cached: inline, same numbers
    again = service.client.post("/v1/zero-cost", json=body, headers=service.auth).json()["results"]
    assert [a["scores"] for a in again] == [x["scores"] for x in res]


def test_zero_cost_errors(service: Service) -> None:
    cases = [
        ({"space": "nasbench_graph", "architectures": [1]}, 422),
        ({"space": "zzz", "architectures": [1]}, 404),
        ({"task": "cifar100", "architectures": [1]}, 404),
        ({"proxies": ["magic"], "architectures": [1]}, 404),
        ({"architectures": list(range(65))}, 413),
        ({"architectures": [1, "|bad|"]}, 422),
        ({"architectures": [1], "batch_size": 0}, 422),
    ]
    for body, status in cases:
        r = service.client.post("/v1/zero-cost", json=body, headers=service.auth)
        assert r.status_code == status, (body, r.text)


def test_cancel_and_job_errors(service: Service) -> None:
    r = service.client.post(
        "/v1/zero-cost",
        json={"architectures": list(range(100, 140)), "proxies": ["params"], "batch_size": 4, "width": 2},
        headers=service.auth,
    )
    assert r.status_code == 202
    jid = r.json()["id"]
    c = service.client.delete(f"/v1/jobs/{jid}", headers=service.auth)
    assert c.status_code == 200 and c.json()["cancel_requested"]
    job = service.wait_job(jid)
    assert job["status"] in ("cancelled", "succeeded")  # it may have finished before it saw the request
    if job["status"] == "cancelled":
        assert service.client.delete(f"/v1/jobs/{jid}", headers=service.auth).status_code == 409
    assert service.client.get("/v1/jobs/nope", headers=service.auth).status_code == 404
    assert service.client.delete("/v1/jobs/nope", headers=service.auth).status_code == 404
    listed = service.client.get("/v1/jobs?limit=500", headers=service.auth).json()["jobs"]
    assert jid in {j["id"] for j in listed}
    assert service.client.get("/v1/jobs?status=bogus", headers=service.auth).status_code == 422
    done = service.client.get("/v1/jobs?status=succeeded", headers=service.auth).json()["jobs"]
    assert done and all(j["status"] == "succeeded" for j in done)


def test_job_listing_is_paginated_summaries(service: Service) -> None:
    ids = []
    for k in range(5):
        body = {"kind": "lgbm", "n_train": 30, "params": {"n_estimators": 5, "n_bags": 1}, "seed": 100 + k}
        r = service.client.post("/v1/predictors", json=body, headers=service.auth)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    seen: list[str] = []
    cursor = None
    for _ in range(50):  # bounded: never loops forever
        q = "/v1/jobs?kind=train_predictor&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = service.client.get(q, headers=service.auth).json()
        assert len(page["jobs"]) <= 2
        assert all("params" not in j and "result" not in j for j in page["jobs"])
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert service.client.get("/v1/jobs?cursor=garbage!", headers=service.auth).status_code == 422
    full = service.client.get(f"/v1/jobs/{ids[0]}", headers=service.auth).json()
    assert full["params"]["seed"] == 100
    for jid in ids:
        service.wait_job(jid)


def test_a_running_jobs_eta_is_extrapolated_from_its_progress() -> None:
    from archgen.api.routes.common import eta_s
    from archgen.jobs.store import JobRecord

    def job(status: str, progress: float) -> JobRecord:
        return JobRecord("j", "generate", {}, "k", status, progress, None, None, None, None, 1, 0, None, None, False,
                         0.0, 100.0, None, 100.0)  # fmt: skip

    assert eta_s(job("running", 0.25), now=140.0) == 120.0  # a quarter in 40 s: three quarters in 120 s
    assert eta_s(job("running", 1.0), now=140.0) == 0.0
    assert eta_s(job("running", 0.01), now=140.0) is None  # too little to extrapolate from
    assert eta_s(job("queued", 0.5), now=140.0) is None and eta_s(job("succeeded", 1.0), now=140.0) is None
