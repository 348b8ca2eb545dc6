"""POST /v1/generate: the first request queues the generator's training and answers by a job; a request answers
inline once nothing is left to train or fit; errors."""

from __future__ import annotations

import pytest

from tests.api.conftest import Service

FAST = {"steps": 10, "method": "euler"}


@pytest.fixture(scope="module")
def first(service: Service) -> dict:
    """The first generation request: the space's generator is not trained yet, so it is a job (202)."""
    r = service.client.post("/v1/generate", json={"n": 4, "guidance_scale": 0, **FAST}, headers=service.auth)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
    job = service.wait_job(r.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job
    return job


def test_first_request_trains_the_generator_by_a_system_job_then_answers_inline(service: Service, first: dict) -> None:
    res = first["result"]
    assert len(res["items"]) == 4 and res["validity"] == res["valid"] / res["drawn"] and not res["guided"]
    assert 0 <= res["novelty"] <= 1 and 0 < res["uniqueness"] <= 1
    jobs = service.client.get("/v1/jobs", params={"kind": "train_generator"}, headers=service.auth).json()["jobs"]
    assert jobs, "the service's own training job is listed"
    assert service.wait_job(jobs[0]["id"], timeout=600)["status"] == "succeeded"
    r = service.client.post("/v1/generate", json={"n": 4, "guidance_scale": 0, **FAST}, headers=service.auth)
    assert r.status_code == 200, r.text
    assert [g["architecture"] for g in r.json()["items"]] == [g["architecture"] for g in res["items"]]  # seeded
    listed = service.client.get("/v1/predictors", headers=service.auth).json()["predictors"]
    assert res["generator_id"] not in [m["id"] for m in listed]  # a generator is not a predictor
    assert service.client.get(f"/v1/predictors/{res['generator_id']}", headers=service.auth).status_code == 404


def _job_then_inline(service: Service, body: dict) -> dict:
    """A request whose surrogates are not fitted yet is a job; the same request then answers inline, the same."""
    r = service.client.post("/v1/generate", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job
    r = service.client.post("/v1/generate", json=body, headers=service.auth)
    assert r.status_code == 200, r.text  # the surrogates are on disk now: seconds
    res = r.json()
    assert [g["architecture"] for g in res["items"]] == [g["architecture"] for g in job["result"]["items"]]
    return res  # type: ignore[no-any-return]


def test_guided_under_a_parameter_budget_a_job_then_inline(service: Service, first: dict) -> None:
    body = {"n": 5, "labelled": 16, "constraints": {"max_params": 0.5}, "constraint_scale": 0, **FAST}
    res = _job_then_inline(service, body)
    assert res["guided"] and res["constraints"]["params"]["max"] == 0.5 and 0 < res["met_before_rejection"] <= 1
    assert all(
        g["values"]["params"] <= 0.5 and g["predicted"] is not None and g["measured"] is not None for g in res["items"]
    )


def test_transfer_ranks_by_other_tasks_labels(service: Service, first: dict) -> None:
    body = {"n": 3, "labelled": 32, "transfer_from": ["cifar100", "ImageNet16-120"], "task": "cifar10", **FAST}
    r = service.client.post("/v1/generate", json=body, headers=service.auth)
    assert r.status_code == 202, r.text  # the ranking LightGBM is kept in a process only: always fitted by a job
    job = service.wait_job(r.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job
    res = job["result"]
    assert res["transfer_from"] == ["cifar100", "ImageNet16-120"]
    scores = [g["score"] for g in res["items"]]
    assert all(g["predicted"] is None for g in res["items"]) and scores == sorted(scores, reverse=True)


def test_more_than_the_inline_limit_is_a_job(service: Service, first: dict) -> None:
    r = service.client.post("/v1/generate", json={"n": 12, "guidance_scale": 0, **FAST}, headers=service.auth)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"], timeout=300)
    assert job["status"] == "succeeded" and len(job["result"]["items"]) == 12 and job["progress"] == 1.0
    assert job["message"].startswith("sampling: 12 of 12 samples kept"), job["message"]  # not a round's start


def test_zero_cost_guidance_uses_no_label_and_is_a_job(service: Service, first: dict) -> None:
    body = {"n": 3, "labelled": 8, "guide_by": "zero-cost", **FAST}
    r = service.client.post("/v1/generate", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job
    res = job["result"]
    assert res["guided"] and res["target"].startswith("zc_vote/") and len(res["items"]) == 3
    assert all(g["predicted"] is not None and g["measured"] is not None for g in res["items"])


def test_nasbench_graph_generates_canonical_cells(service: Service) -> None:
    body = {"space": "nasbench_graph", "task": "cora", "n": 3, "guidance_scale": 0, **FAST}
    r = service.client.post("/v1/generate", json=body, headers=service.auth)
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"], timeout=600)
    assert job["status"] == "succeeded", job
    items = job["result"]["items"]
    assert len(items) == 3 and all(g["measured"] is not None for g in items)  # every class has a table row
    budget = {"constraints": {"max_params": 1.0}, "constraint_scale": 0}  # about the space's 30th percentile on cora
    r = service.client.post("/v1/generate", json=body | budget, headers=service.auth)
    assert r.status_code == 200, r.text  # the generator is trained now: inline
    assert all(g["values"]["params"] <= 1.0 for g in r.json()["items"])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"guide_by": "zero-cost", "task": "cifar100"}, 422, "images"),
        ({"guide_by": "zero-cost", "space": "nb101"}, 422, "builds the networks"),
        ({"guide_by": "zero-cost", "transfer_from": ["cifar100"]}, 422, "exclude each other"),
        ({"guide_by": "zero-cost", "guidance_scale": 0}, 422, "guidance_scale > 0"),
        ({"guide_by": "oracle"}, 422, "guide_by"),
        ({"space": "nb101", "constraints": {"max_params": 1}}, 422, "500 cells only"),
        ({"task": "mnist"}, 404, "mnist"),
        ({"constraints": {"device": "pixel3"}}, 422, "max_latency_ms and device go together"),
        ({"constraints": {"max_latency_ms": 5, "device": "toaster"}}, 404, "toaster"),
        ({"transfer_from": ["cifar10-valid"]}, 422, "may not name 'cifar10-valid'"),
        ({"transfer_from": ["mnist"]}, 404, "mnist"),
        ({"transfer_from": ["cifar100"], "guidance_scale": 0}, 422, "guidance_scale > 0"),
        ({"n": 0}, 422, "n"),
        ({"n": 100_000}, 422, "n"),
        ({"steps": 10**6}, 422, "steps"),
        ({"constraints": {"max_params": -1}}, 422, "max_params"),
        ({"method": "magic"}, 422, "method"),
        ({"extra": 1}, 422, "extra"),
    ],
)
def test_bad_requests_name_the_problem_before_any_job(service: Service, body: dict, status: int, words: str) -> None:
    before = len(service.client.get("/v1/jobs", params={"kind": "generate"}, headers=service.auth).json()["jobs"])
    r = service.client.post("/v1/generate", json=body, headers=service.auth)
    assert r.status_code == status, r.text
    assert words in r.text
    after = len(service.client.get("/v1/jobs", params={"kind": "generate"}, headers=service.auth).json()["jobs"])
    assert after == before
