"""POST /v1/lookup: published metrics, equal to the table's."""

from __future__ import annotations

from archgen.datasets import load_table
from tests.api.conftest import NB201_ARCH, Service


def test_lookup_returns_the_table_values(service: Service) -> None:
    r = service.client.post(
        "/v1/lookup",
        json={"architectures": [NB201_ARCH, 7], "tasks": ["cifar100"], "metrics": ["test_acc", "params"]},
        headers=service.auth,
    )
    assert r.status_code == 200, r.text
    table = load_table("nb201", service.client.app.state.service.data)
    res = r.json()["results"]
    assert res[1]["index"] == 7
    assert res[1]["metrics"]["cifar100"]["test_acc"] == table.lookup("cifar100", "test_acc", [7])[0]
    assert set(res[0]["metrics"]) == {"cifar100"} and set(res[0]["metrics"]["cifar100"]) == {"test_acc", "params"}


def test_lookup_errors(service: Service) -> None:
    r = service.client.post("/v1/lookup", json={"architectures": [1], "tasks": ["mnist"]}, headers=service.auth)
    assert r.status_code == 404 and "cifar10" in r.json()["error"]["valid"]
    r = service.client.post(
        "/v1/lookup", json={"architectures": [1], "tasks": ["cifar10"], "metrics": ["nope"]}, headers=service.auth
    )
    assert r.status_code == 404 and "test_acc" in r.json()["error"]["valid"]
    r = service.client.post("/v1/lookup", json={"architectures": [1, "|x~0|"]}, headers=service.auth)
    assert r.status_code == 422 and r.json()["error"]["index"] == 1
    r = service.client.post("/v1/lookup", json={"space": "nasbench_graph", "architectures": [0]}, headers=service.auth)
    assert r.status_code == 200 and r.json()["results"][0]["index"] == 0
