"""API keys: every endpoint but health refuses callers without a valid key; revocation; rate limits."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from archgen.api import create_app
from archgen.api.keys import KeyStore
from archgen.api.security import TokenBucket
from tests.api.conftest import Service, service_settings


def _routes(client: TestClient) -> list[tuple[str, str]]:
    out = []
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        for method in ops:
            out.append((method.upper(), path.replace("{model_id}", "x").replace("{job_id}", "x")))
    return out


@pytest.mark.parametrize("auth", [None, "Bearer agk_deadbeef_wrong", "Basic abc", "Bearer ", "agk_x"])
def test_no_endpoint_but_health_answers_without_a_valid_key(service: Service, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    routes = _routes(service.client)
    assert len(routes) >= 10
    for method, path in routes:
        r = service.client.request(method, path, headers=headers, json={"architectures": [1]})
        if path == "/v1/health":
            assert r.status_code == 200
        else:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"


def test_keys_are_stored_hashed_and_revocable(service: Service) -> None:
    store = KeyStore(service.settings.db_url)
    key, secret = store.create("revoke-me")
    with store.engine.connect() as c:
        rows = [tuple(r) for r in c.exec_driver_sql("SELECT * FROM api_keys").all()]
    assert not any(secret.split("_", 2)[2] in str(v) for row in rows for v in row)
    h = {"Authorization": f"Bearer {secret}"}
    assert service.client.get("/v1/spaces", headers=h).status_code == 200
    store.revoke(key.id)
    time.sleep(2.1)  # the server trusts a verified key for 2 s
    assert service.client.get("/v1/spaces", headers=h).status_code == 401


def test_rate_limit_is_per_key_with_retry_after(tmp_path, data_dir, cache_dir) -> None:
    settings = service_settings(tmp_path, data_dir, cache_dir, rate_limit=1.0, rate_burst=3, default_models=())
    store = KeyStore(settings.db_url)
    _, a = store.create("a")
    _, b = store.create("b")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        codes = [client.get("/v1/jobs", headers={"Authorization": f"Bearer {a}"}).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = client.get("/v1/jobs", headers={"Authorization": f"Bearer {a}"})
        assert (
            r.status_code == 429
            and int(r.headers["retry-after"]) >= 1
            and "1 requests/s" in r.json()["error"]["message"]
        )
        assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {b}"}).status_code == 200


def test_first_start_creates_and_prints_one_key(tmp_path, data_dir, cache_dir, capsys) -> None:
    settings = service_settings(tmp_path, data_dir, cache_dir, default_models=())
    with TestClient(create_app(settings, run_jobs=False)):
        pass
    out = capsys.readouterr().out
    secret = next(line.strip() for line in out.splitlines() if line.strip().startswith("agk_"))
    assert KeyStore(settings.db_url).verify(secret) is not None
    with TestClient(create_app(settings, run_jobs=False)):
        pass
    assert "agk_" not in capsys.readouterr().out
    assert len(KeyStore(settings.db_url).list()) == 1


def test_token_bucket_refills() -> None:
    bucket = TokenBucket(rate=100.0, burst=2)
    assert bucket.take("k") == 0 and bucket.take("k") == 0
    wait = bucket.take("k")
    assert 0 < wait <= 0.011
    time.sleep(wait + 0.005)
    assert bucket.take("k") == 0
