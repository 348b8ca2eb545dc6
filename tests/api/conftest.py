"""A service on the real NB201 table with a fast default predictor (LightGBM on 100 cells), jobs in threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archgen.api import create_app
from archgen.api.keys import KeyStore
from archgen.settings import Settings


@dataclass
class Service:
    client: TestClient
    settings: Settings
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def wait_job(self, job_id: str, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}", headers=self.auth).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


def service_settings(home: Path, data_dir: Path, cache_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "cache_dir": cache_dir,
        "home": home,
        "default_models": ("nb201/cifar10",),
        "default_kind": "lgbm",
        "default_train_size": 100,
        "worker_backend": "thread",
        "job_lease_s": 5.0,
        "rate_limit": 10_000.0,
        "rate_burst": 10_000,
        "max_archs": 2000,
        "max_zc_archs": 64,
        "max_body_bytes": 256 * 1024,
        "shutdown_grace_s": 5.0,
        "generator_epochs": 2,
        "generate_inline": 8,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, cache_dir: Path) -> Iterator[Service]:
    """The app with its lifespan running and its default predictor trained (by a job) and loaded."""
    settings = service_settings(tmp_path_factory.mktemp("service-home"), data_dir, cache_dir)
    _, key = KeyStore(settings.db_url).create("tests")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        svc = Service(client, settings, key)
        deadline = time.monotonic() + 180
        while client.get("/v1/ready", headers=svc.auth).status_code != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"service not ready: {client.get('/v1/ready', headers=svc.auth).json()}")
            time.sleep(0.2)
        yield svc


NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
