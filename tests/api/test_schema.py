"""Schemathesis: requests generated from the OpenAPI schema never get a 5xx, nor another key's objects.

The app under test shares the trained default predictor of the session's
service but has its own database and runs no jobs, so that generated training
and zero-cost requests are queued, not executed. A second key owns a task and a
job before the fuzzing starts; no response to the fuzzing key names either.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from archgen.api import create_app
from archgen.api.keys import KeyStore
from tests.api.conftest import Service
from tests.helpers import wait_until
from tests.tasks.folders import image_folder

#: The other key's task: a name the fuzzer's responses must never show.
VICTIM_TASK = "victim-task-7f3a"


@pytest.fixture(scope="module")
def fuzz_client(service: Service, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    s = service.settings.model_copy(update={"database_url": f"sqlite:///{db}", "zc_inline_cells": 0})
    _, key = KeyStore(s.db_url).create("fuzz")
    with TestClient(create_app(s, run_jobs=False), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        wait_until(lambda: client.get("/v1/ready").status_code == 200, 120, 0.1, "the fuzzed app to be ready")
        yield client


@pytest.fixture(scope="module")
def victim(ws, fuzz_client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Another key's task and queued job, made before the fuzzing: the strings no fuzzed response may hold."""
    state = fuzz_client.app.state.service  # type: ignore[attr-defined]
    other, secret = KeyStore(state.settings.db_url).create("victim")
    folder = image_folder(ws, tmp_path_factory.mktemp("victim") / "imgs", ("cat", "dog"), per_class=6)
    state.data.for_owner(other.id).tasks.add(VICTIM_TASK, folder)
    r = fuzz_client.post("/v1/predictors", json={"kind": "lgbm", "n_train": 100},
                         headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert r.status_code == 202, r.text
    return [VICTIM_TASK, r.json()["id"], other.id]


def test_generated_requests_never_get_5xx_nor_another_keys_objects(fuzz_client: TestClient, victim: list[str]) -> None:
    schema = schemathesis.openapi.from_dict(fuzz_client.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    seen: Counter[int] = Counter()
    for op in operations:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(case=op.as_strategy())
        def check(case) -> None:
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
            send = {k: v for k, v in kwargs.items() if k in ("method", "url", "params", "json", "content", "data")}
            r = fuzz_client.request(**send, headers=headers)
            seen[r.status_code] += 1
            assert r.status_code < 500, (case.method, case.path, r.status_code, r.text[:500])
            leaked = [v for v in victim if v in r.text]
            assert not leaked, (case.method, case.path, leaked, r.text[:500])
            if r.status_code >= 400:
                assert "error" in r.json() and "Traceback" not in r.text

        check()
    # the key was accepted and generated requests reached the routes
    assert sum(n for code, n in seen.items() if code < 300) > 20 and seen[401] == 0, seen
