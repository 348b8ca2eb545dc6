"""GET /v1/spaces, /v1/health, /v1/ready, /metrics, OpenAPI."""

from __future__ import annotations

from tests.api.conftest import Service


def test_spaces_lists_every_table(service: Service) -> None:
    r = service.client.get("/v1/spaces", headers=service.auth)
    assert r.status_code == 200
    spaces = {s["name"]: s for s in r.json()["spaces"]}
    assert set(spaces) == {"nb201", "nb101", "nasbench_graph"}
    nb201 = spaces["nb201"]
    assert "nor_conv_3x3" in nb201["operations"] and nb201["num_architectures"] == 15625
    assert "test_acc" in nb201["tasks"]["cifar100"]["metrics"]
    assert nb201["tasks"]["cifar10"]["default_predictor"] == "nb201/cifar10" and nb201["zero_cost"]


def test_health_needs_no_key_and_ready_reports_models(service: Service) -> None:
    assert service.client.get("/v1/health").json()["status"] == "ok"
    r = service.client.get("/v1/ready", headers=service.auth)
    assert r.status_code == 200 and r.json()["models"]["nb201/cifar10"]["status"] == "loaded"


def test_metrics_and_request_id(service: Service) -> None:
    r = service.client.get("/v1/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(service.client.get("/v1/health", headers={"X-Request-ID": "bad id!"}).headers["x-request-id"]) == 32
    service.client.post("/v1/predict", json={"architectures": [1, 2]}, headers=service.auth)
    text = service.client.get("/metrics").text
    assert 'archgen_http_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert 'archgen_predictions_total{space="nb201",task="cifar10"}' in text
    assert 'archgen_jobs{status="succeeded"}' in text
    assert "archgen_http_request_seconds_bucket" in text


def test_openapi_documents_every_endpoint(service: Service) -> None:
    paths = service.client.get("/openapi.json").json()["paths"]
    for p in (
        "/v1/health",
        "/v1/ready",
        "/v1/spaces",
        "/v1/predict",
        "/v1/zero-cost",
        "/v1/lookup",
        "/v1/predictors",
        "/v1/predictors/{model_id}",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
    ):
        assert p in paths, p
    assert service.client.get("/docs").status_code == 200


def test_unknown_route_and_method_are_json(service: Service) -> None:
    r = service.client.get("/v1/nothing", headers=service.auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = service.client.put("/v1/predict", headers=service.auth)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
