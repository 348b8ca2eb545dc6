"""create_app: each app reads only the data of its own settings, even two apps in one process."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from archgen.api import create_app
from archgen.api.keys import KeyStore
from tests.api.conftest import service_settings


def test_two_apps_with_different_data_directories_do_not_see_each_others_data(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    good = service_settings(tmp_path / "a", data_dir, cache_dir, default_models=())
    bad = service_settings(tmp_path / "b", tmp_path / "no-data-here", cache_dir, default_models=())
    _, key_a = KeyStore(good.db_url).create("a")
    _, key_b = KeyStore(bad.db_url).create("b")
    body = {"architectures": [7], "tasks": ["cifar10"], "metrics": ["test_acc"]}
    with TestClient(create_app(good, run_jobs=False)) as a, TestClient(create_app(bad, run_jobs=False)) as b:
        for _ in range(2):  # interleaved: neither app's data leaks into the other
            ra = a.post("/v1/lookup", json=body, headers={"Authorization": f"Bearer {key_a}"})
            rb = b.post("/v1/lookup", json=body, headers={"Authorization": f"Bearer {key_b}"})
            assert ra.status_code == 200, ra.text
            assert rb.status_code == 503 and "no-data-here" in rb.json()["error"]["message"]


def test_docs_page_loads_swagger_ui_from_the_service_itself(service) -> None:
    page = service.client.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://fastapi.tiangolo.com", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = service.client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000
