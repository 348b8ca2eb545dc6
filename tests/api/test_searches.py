"""POST/GET/DELETE /v1/searches: batches of searches as durable jobs, their history, front and plot; errors."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import Service

SMALL = {"task": "cifar10", "metric": "test_acc", "budget": 12, "batch_size": 4}


@pytest.fixture(scope="module")
def batch(service: Service) -> list[dict]:
    """A batch of three searches: BO with the label-free prior, random, and an accuracy/latency front."""
    body = {"searches": [
        {**SMALL, "strategy": "bo", "prior": "zero-cost", "seed": 1},
        {**SMALL, "strategy": "random", "seed": 1},
        {**SMALL, "strategy": "mobo", "minimize": "latency", "device": "pixel3", "seed": 2, "reference": [85.0, 20.0]},
    ]}  # fmt: skip
    r = service.client.post("/v1/searches", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    jobs = r.json()["searches"]
    assert len(jobs) == 3 and all(j["location"] == f"/v1/searches/{j['id']}" for j in jobs)
    return [service.wait_job(j["id"], timeout=600) for j in jobs]


def test_a_batch_of_searches_runs_to_the_end(service: Service, batch: list[dict]) -> None:
    assert [j["status"] for j in batch] == ["succeeded"] * 3, batch
    for job in batch:
        r = service.client.get(f"/v1/searches/{job['id']}", params={"offset": 4, "limit": 5}, headers=service.auth)
        assert r.status_code == 200, r.text
        s = r.json()["search"]
        assert s["evaluations"] == s["budget"] == 12 and s["finished"] and s["batches"] >= 3
        assert s["cost"] == 12 * 200  # each lookup charged its 200 epochs
        curve = s["best_so_far"]
        assert len(curve) == 12 and curve == sorted(curve) and s["best"]["value"] == curve[-1]
        page = s["history"]
        assert page["total"] == 12 and [i["index"] for i in page["items"]] == [4, 5, 6, 7, 8]
        assert job["result"]["best"] == s["best"] and job["progress"] == 1.0


def test_a_multi_objective_search_shows_its_front_and_plot(service: Service, batch: list[dict]) -> None:
    s = service.client.get(f"/v1/searches/{batch[2]['id']}", headers=service.auth).json()["search"]
    assert [o["name"] for o in s["objectives"]] == ["test_acc", "hw_pixel3_latency"]
    front = s["front"]
    assert front and all(set(f["values"]) == {"test_acc", "hw_pixel3_latency"} for f in front)
    for a in front:  # no front member dominates another
        for b in front:
            va, vb = a["values"], b["values"]
            assert not (
                va["test_acc"] >= vb["test_acc"] and va["hw_pixel3_latency"] < vb["hw_pixel3_latency"] and a != b
            )
    for job in (batch[0], batch[2]):
        r = service.client.get(f"/v1/searches/{job['id']}/plot.png", headers=service.auth)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"


def test_bad_searches_are_refused_whole_with_the_problem_named(service: Service) -> None:
    post = lambda body: service.client.post("/v1/searches", json=body, headers=service.auth)
    before = len(service.client.get("/v1/jobs", params={"kind": "search"}, headers=service.auth).json()["jobs"])
    cases = [
        ({**SMALL, "budget": 0}, 422, "budget"),
        ({**SMALL, "strategy": "magic"}, 404, "magic"),
        ({**SMALL, "batch_size": 20}, 422, "larger than the budget"),
        ({**SMALL, "strategy": "mobo", "minimize": "latency", "device": "abacus"}, 404, "abacus"),
        ({**SMALL, "strategy": "mobo", "minimize": "latency"}, 422, "needs a device"),
        ({**SMALL, "strategy": "bo", "minimize": "params"}, 422, "one objective"),
        ({**SMALL, "strategy": "re", "prior": "zero-cost"}, 422, "takes no prior"),
        ({**SMALL, "strategy": "robot"}, 422, "zero-cost"),
        ({**SMALL, "strategy": "re", "generator": True}, 422, "bo's pool"),
        ({**SMALL, "task": "mnist"}, 404, "mnist"),
        ({**SMALL, "budget": float("nan")}, 422, "budget"),
        ([{**SMALL}, {**SMALL, "device": "pixel3"}], 422, "searches\\[1\\]"),
        ([], 422, "no search"),
        ({**SMALL, "strategy": "bo", "reference": [90, 10]}, 422, "reference is mobo's"),
        ({**SMALL, "strategy": "mobo", "minimize": "params", "reference": [90]}, 422, "reference"),
        ({**SMALL, "budget": 60_000}, 422, "ARCHGEN_SEARCH_MAX_BUDGET_PER_KEY"),
        ([SMALL] * 101, 413, "at most 100"),
    ]
    import re

    for body, status, text in cases:
        r = (
            post(body)
            if not (isinstance(body, dict) and body.get("budget") != body.get("budget"))
            else service.client.post(
                "/v1/searches", content='{"budget": NaN}', headers=service.auth | {"content-type": "application/json"}
            )
        )
        assert r.status_code == status, (body if not isinstance(body, list) else len(body), r.text)
        assert re.search(text, r.json()["error"]["message"]), r.text
    after = len(service.client.get("/v1/jobs", params={"kind": "search"}, headers=service.auth).json()["jobs"])
    assert after == before, "nothing of a refused request is queued"


def test_cancel_a_running_search_and_only_searches_are_searches(service: Service, batch: list[dict]) -> None:
    body = {**SMALL, "strategy": "bo", "budget": 400, "seed": 9}
    r = service.client.post("/v1/searches", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    sid = r.json()["searches"][0]["id"]
    assert r.headers["Location"] == f"/v1/searches/{sid}"
    deadline = time.monotonic() + 120
    while service.client.get(f"/v1/searches/{sid}", headers=service.auth).json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    r = service.client.delete(f"/v1/searches/{sid}", headers=service.auth)
    assert r.status_code == 200 and r.json()["cancel_requested"], r.text
    job = service.wait_job(sid, timeout=120)
    assert job["status"] == "cancelled"
    s = service.client.get(f"/v1/searches/{sid}", headers=service.auth).json()["search"]
    assert s is None or s["evaluations"] < 400
    other = service.client.get("/v1/jobs", params={"kind": "train_predictor"}, headers=service.auth).json()["jobs"]
    if other:
        r = service.client.get(f"/v1/searches/{other[0]['id']}", headers=service.auth)
        assert r.status_code == 404 and "not a search" in r.json()["error"]["message"]
    assert service.client.get("/v1/searches/0123abc", headers=service.auth).status_code == 404


def test_per_key_limits_on_open_searches_and_their_budget(tmp_path, data_dir, cache_dir) -> None:
    from fastapi.testclient import TestClient

    from archgen.api import create_app
    from archgen.api.keys import KeyStore
    from tests.api.conftest import service_settings

    settings = service_settings(tmp_path, data_dir, cache_dir, default_models=(), search_max_open_per_key=3,
                                search_max_budget_per_key=100)  # fmt: skip
    _, a = KeyStore(settings.db_url).create("a")
    _, b = KeyStore(settings.db_url).create("b")
    with TestClient(create_app(settings, run_jobs=False)) as client:  # nothing runs: every search stays queued
        post = lambda key, body: client.post("/v1/searches", json=body, headers={"Authorization": f"Bearer {key}"})
        assert post(a, [SMALL, SMALL]).status_code == 202
        r = post(a, [SMALL, SMALL])
        assert r.status_code == 429 and "ARCHGEN_SEARCH_MAX_OPEN_PER_KEY" in r.json()["error"]["message"]
        r = post(a, {**SMALL, "budget": 80})
        assert r.status_code == 429 and "hold 24 evaluations" in r.json()["error"]["message"]
        assert post(a, SMALL).status_code == 202  # the third
        assert post(b, {**SMALL, "budget": 100}).status_code == 202  # another key's limits are its own
        jobs = client.get("/v1/jobs", params={"kind": "search"}, headers={"Authorization": f"Bearer {a}"}).json()
        assert len(jobs["jobs"]) == 3
