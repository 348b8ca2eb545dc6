"""POST /v1/predict: shape, agreement with the library, every error path."""

from __future__ import annotations

import numpy as np

from archgen.artifacts import ArtifactStore
from tests.api.conftest import NB201_ARCH, Service


def test_predict_matches_the_stored_model(service: Service) -> None:
    space = service.client.app.state.service.data.space("nb201")
    archs = [NB201_ARCH, 123, "4567"]
    r = service.client.post("/v1/predict", json={"architectures": archs}, headers=service.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    info = body["predictor"]
    assert set(info) == {"id", "kind", "stage", "trained_on", "heldout_kendall_tau"}
    assert info["kind"] == "lgbm" and info["trained_on"]["architectures"] == 100 and info["stage"] == "final"
    assert body["target"] == {
        "space": "nb201",
        "task": "cifar10",
        "column": "cifar10-valid/val_acc",
        "dataset": "cifar10-valid",
        "metric": "val_acc",
        "unit": "%",
        "description": "200-epoch validation accuracy on cifar10-valid",
    }
    assert 0.3 < info["heldout_kendall_tau"] <= 1
    predictor, _ = ArtifactStore(service.settings.model_dir).load(
        info["id"], data=service.client.app.state.service.data
    )
    mean, std = predictor.predict_with_uncertainty([space.coerce(a) for a in archs])
    got = body["predictions"]
    assert [p["architecture"] for p in got] == archs
    np.testing.assert_allclose([p["mean"] for p in got], mean, rtol=1e-9)
    np.testing.assert_allclose([p["std"] for p in got], std, rtol=1e-9)
    for p, a in zip(got, archs, strict=True):
        assert p["canonical"] == space.format(space.canonical(space.coerce(a)))


def test_predict_without_uncertainty_and_explicit_predictor(service: Service) -> None:
    models = service.client.get("/v1/predictors", headers=service.auth).json()["predictors"]
    mid = models[0]["id"]
    r = service.client.post(
        "/v1/predict", json={"architectures": [1], "predictor": mid, "uncertainty": False}, headers=service.auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["predictor"]["id"] == mid and r.json()["predictions"][0]["std"] is None


def test_malformed_architecture_names_its_position(service: Service) -> None:
    bad = NB201_ARCH.replace("skip_connect", "conv9x9")
    r = service.client.post("/v1/predict", json={"architectures": [NB201_ARCH, 5, bad]}, headers=service.auth)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_architecture" and err["index"] == 2
    assert "architectures[2]" in err["message"] and "conv9x9" in err["message"]
    r = service.client.post("/v1/predict", json={"architectures": [15625]}, headers=service.auth)
    assert r.status_code == 422 and r.json()["error"]["index"] == 0


def test_wrong_types_and_nan_are_422(service: Service) -> None:
    for body in (
        {"architectures": [1.5]},
        {"architectures": [True]},
        {"architectures": []},
        {"architectures": [None]},
        {"architectures": "1"},
        {"architectures": [1], "extra": 1},
    ):
        r = service.client.post("/v1/predict", json=body, headers=service.auth)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "invalid_request"
    r = service.client.post(
        "/v1/predict", content=b'{"architectures": [NaN]}', headers=service.auth | {"content-type": "application/json"}
    )
    assert r.status_code == 422
    r = service.client.post(
        "/v1/predict", content=b"{not json", headers=service.auth | {"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_unknown_space_task_predictor_are_404_listing_names(service: Service) -> None:
    r = service.client.post("/v1/predict", json={"space": "nb999", "architectures": [1]}, headers=service.auth)
    assert r.status_code == 404 and "nb201" in r.json()["error"]["valid"]
    r = service.client.post("/v1/predict", json={"task": "mnist", "architectures": [1]}, headers=service.auth)
    assert r.status_code == 404 and "cifar100" in r.json()["error"]["valid"]
    r = service.client.post("/v1/predict", json={"predictor": "nope", "architectures": [1]}, headers=service.auth)
    assert r.status_code == 404 and r.json()["error"]["valid"]
    # a task without a default predictor: 404 naming the defaults
    r = service.client.post("/v1/predict", json={"task": "cifar100", "architectures": [1]}, headers=service.auth)
    assert r.status_code == 404 and r.json()["error"]["valid"] == ["nb201/cifar10"]


def test_predictor_for_another_task_is_refused(service: Service) -> None:
    mid = service.client.get("/v1/predictors", headers=service.auth).json()["predictors"][0]["id"]
    r = service.client.post(
        "/v1/predict", json={"task": "cifar100", "predictor": mid, "architectures": [1]}, headers=service.auth
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "predictor_mismatch"


def test_too_many_architectures_is_413_with_the_limit(service: Service) -> None:
    n = service.settings.max_archs + 1
    r = service.client.post("/v1/predict", json={"architectures": list(range(n))}, headers=service.auth)
    assert r.status_code == 413
    assert r.json()["error"]["limit"] == service.settings.max_archs and str(n) in r.json()["error"]["message"]


def test_body_over_the_size_limit_is_413(service: Service) -> None:
    body = b'{"architectures": [' + b",".join([b'"' + NB201_ARCH.encode() + b'"'] * 3000) + b"]}"
    assert len(body) > service.settings.max_body_bytes
    r = service.client.post("/v1/predict", content=body, headers=service.auth | {"content-type": "application/json"})
    assert r.status_code == 413 and str(service.settings.max_body_bytes) in r.json()["error"]["message"]
