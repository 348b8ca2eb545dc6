"""Issue 12's findings replayed: a real ``archgen serve`` process where it matters, ``TestClient`` where that suffices.

1. One key could stop the queue with an oversized job that no cancel stopped.
2. Invalid training params answered 202, then failed as internal errors.
3. A first start served nothing for 40 minutes.
4. CLI usage errors printed tracebacks.
5. An edited ``model.json`` was served as-is; a truncated one vanished from the list.
6. Smaller ones: the data check of ``/v1/ready``, a 1 MB input echoed in a 422,
   ``lookup`` with ``tasks: []``, the keys CLI importing the whole app.
(The suite's own cache, ``/docs`` offline, concurrent zero-cost requests and
the predict response's target have their tests beside the code they concern:
``tests/test_settings.py``, ``tests/api/test_app.py``,
``tests/predictors/test_zerocost.py``, ``tests/api/test_predict.py``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from archgen.api import create_app
from archgen.api.keys import KeyStore
from tests.api.conftest import service_settings
from tests.api.server import create_key, free_port, start_server, wait_health

GRACE_S = 5.0


def _wait_job(url: str, headers: dict[str, str], job_id: str, until, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if until(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_a_real_server_refuses_oversized_jobs_cancels_long_ones_and_refuses_edited_models(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    home, log = tmp_path / "home", tmp_path / "server.log"
    env = os.environ | {
        "ARCHGEN_HOME": str(home),
        "ARCHGEN_CACHE_DIR": str(cache_dir),
        "ARCHGEN_DATA_DIR": str(data_dir),
        "ARCHGEN_DEFAULT_MODELS": "none",
        "ARCHGEN_WORKER_BACKEND": "local",
        "ARCHGEN_WORKERS": "1",
        "ARCHGEN_JOB_CANCEL_GRACE_S": str(GRACE_S),
        "OMP_NUM_THREADS": "1",
    }
    alice, bob = create_key(env, "alice"), create_key(env, "bob")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env, port, log)
    try:
        wait_health(url, server, log)
        post = lambda body, key: httpx.post(f"{url}/v1/predictors", json=body, headers=key, timeout=30)

        # 1 and 2: refused at submission, naming the parameter and the bound
        oversized = {"kind": "lgbm", "n_train": 1000, "params": {"n_estimators": 100_000_000, "n_bags": 1000}}
        r = post(oversized, alice)
        assert r.status_code == 422 and "params.n_estimators: must be in [1, 5000]" in r.json()["error"]["message"]
        for params, words in [
            ({"n_estimators": "x"}, "params.n_estimators: must be an integer"),
            ({"task": 5}, "may not set task"),
            ({"n_estimators": -5}, "params.n_estimators: must be in [1, 5000]"),
            ({"epochs": 10}, "unknown parameter(s) epochs"),
        ]:
            r = post({"kind": "lgbm", "n_train": 100, "params": params}, alice)
            assert r.status_code == 422 and words in r.json()["error"]["message"], r.text
        assert post({"kind": "lgbm", "task": 5}, alice).status_code == 422
        assert httpx.get(f"{url}/v1/jobs", headers=alice, timeout=10).json()["jobs"] == []  # no job was created

        # 1: the longest job the bounds allow, cancelled: it stops within the grace and the queue moves on
        long = post({"kind": "lgbm", "n_train": 10000, "params": {"n_estimators": 5000, "n_bags": 50}}, alice).json()
        short = post({"kind": "lgbm", "n_train": 60, "params": {"n_estimators": 20, "n_bags": 2}}, bob).json()
        _wait_job(url, alice, long["id"], lambda j: j["status"] == "running" and j["progress"] > 0, 120)
        assert httpx.delete(f"{url}/v1/jobs/{long['id']}", headers=alice, timeout=10).json()["cancel_requested"]
        asked = time.monotonic()
        stopped = _wait_job(url, alice, long["id"], lambda j: j["status"] != "running", GRACE_S + 10)
        assert stopped["status"] == "cancelled" and time.monotonic() - asked < GRACE_S + 10
        done = _wait_job(url, bob, short["id"], lambda j: j["status"] in ("succeeded", "failed"), 120)
        assert done["status"] == "succeeded", done
        model_id = done["result"]["model_id"]

        # 5: an edited model.json is refused and listed as broken with how to recover
        path = home / "models" / model_id / "model.json"
        doc = json.loads(path.read_text())
        doc["record"]["heldout"]["kendall_tau"] = 0.999
        path.write_text(json.dumps(doc))
        listing = httpx.get(f"{url}/v1/predictors", headers=bob, timeout=10).json()
        assert model_id not in [m["id"] for m in listing["predictors"]]
        broken = {b["id"]: b["error"] for b in listing["broken"]}
        assert "edited after training" in broken[model_id] and "delete it" in broken[model_id]
        r = httpx.post(f"{url}/v1/predict", json={"architectures": [1], "predictor": model_id}, headers=bob, timeout=30)
        assert r.status_code == 409 and "record_sha256" in r.json()["error"]["message"]
        path.write_text(path.read_text()[:100])  # truncated: still listed, as broken
        listing = httpx.get(f"{url}/v1/predictors", headers=bob, timeout=10).json()
        assert "not a readable model.json" in {b["id"]: b["error"] for b in listing["broken"]}[model_id]
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["space", "show"],
        ["predict", "1"],
        ["data", "info", "--bogus"],
        ["keys", "revoke"],
        ["predictors", "train", "--param", 'n_estimators="x"'],
    ],
)
def test_cli_usage_errors_are_one_line_exit_2_in_a_real_process(argv: list[str]) -> None:
    """4: each command the trial ran, as a subprocess (what a shell user sees)."""
    r = subprocess.run([sys.executable, "-m", "archgen.cli.main", *argv], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def _client(tmp_path: Path, data_dir: Path, cache_dir: Path, **settings: object) -> tuple[TestClient, dict[str, str]]:
    s = service_settings(tmp_path / "home", data_dir, cache_dir, **settings)
    _, key = KeyStore(s.db_url).create("t")
    return TestClient(create_app(s, run_jobs=False), raise_server_exceptions=False), {"Authorization": f"Bearer {key}"}


def test_a_first_start_serves_a_quick_default_before_its_training_job_has_run(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    """3: no dispatcher runs (the stack's job stays queued), yet /v1/predict answers, saying what answers."""
    client, auth = _client(tmp_path, data_dir, cache_dir, default_kind="stack", default_train_size=469)
    with client:
        deadline = time.monotonic() + 120
        while (r := client.post("/v1/predict", json={"architectures": [1, 2]}, headers=auth)).status_code == 503:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert r.status_code == 200, r.text
        info = r.json()["predictor"]
        assert info["stage"] == "quick" and info["kind"] == "lgbm" and "replaces it" in info["note"]
        assert r.json()["target"]["column"] == "cifar10-valid/val_acc"
        ready = client.get("/v1/ready", headers=auth)
        model = ready.json()["models"]["nb201/cifar10"]
        assert ready.status_code == 503 and model["serving"] == "quick" and model["status"] == "training"


def _corrupt_copy(data_dir: Path, dest: Path, victim: str) -> None:
    """``data_dir`` as links, but ``victim`` a changed copy."""
    for f in data_dir.rglob("*"):
        if f.is_file():
            out = dest / f.relative_to(data_dir)
            out.parent.mkdir(parents=True, exist_ok=True)
            if f.relative_to(data_dir).as_posix() == victim:
                out.write_bytes(f.read_bytes() + b"\ntampered\n")
            else:
                out.symlink_to(f)


def test_ready_is_503_naming_the_file_when_the_data_is_corrupt(tmp_path: Path, data_dir: Path) -> None:
    """6: no defaults configured, so only the data check can say not ready."""
    bad = tmp_path / "data"
    _corrupt_copy(data_dir, bad, "nb201-nwot/SOURCE.txt")
    client, auth = _client(tmp_path, bad, tmp_path / "cache", default_models=())
    with client:
        r = client.get("/v1/ready", headers=auth)
    assert r.status_code == 503 and not r.json()["ready"]
    assert r.json()["data"]["ok"] is False and "nb201-nwot/SOURCE.txt" in r.json()["data"]["error"]


def test_a_1mb_architecture_is_not_echoed_and_an_empty_task_list_is_refused(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    client, auth = _client(tmp_path, data_dir, cache_dir, default_models=(), max_body_bytes=4 * 1024 * 1024)
    with client:
        huge = "|nor_conv_3x3~0|+|" + "a" * 1_000_000 + "~0|"
        r = client.post("/v1/lookup", json={"architectures": [huge]}, headers=auth)
        assert r.status_code == 422 and len(r.content) < 2000, len(r.content)
        assert f"{len(huge)} characters" in r.json()["error"]["message"]
        r = client.post("/v1/lookup", json={"architectures": [1], "tasks": []}, headers=auth)
        assert r.status_code == 422 and "tasks" in r.json()["error"]["message"]


def test_the_keys_cli_does_not_import_the_app() -> None:
    """6: ``archgen keys list`` took 18 s: importing the API imported torch and every predictor."""
    code = (
        "import sys, archgen.api.keys, archgen.cli.keys; sys.exit('torch' in sys.modules or 'fastapi' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_the_service_warms_up_zero_cost_proxies_in_the_background(service) -> None:
    """6: a first inline zero-cost request took 59 s cold (image decoding, first passes); the service does it at start."""
    from tests.helpers import wait_until

    models = service.client.app.state.service.models
    wait_until(lambda: models.zero_cost_warm, 180, 0.2, "the zero-cost warm-up")
    r = service.client.post("/v1/zero-cost", json={"architectures": [0], "proxies": ["synflow"]}, headers=service.auth)
    assert r.status_code == 200 and r.json()["cells_computed_by_this_run"] == 0  # the warm-up scored cell 0


def test_a_users_short_job_does_not_wait_behind_the_services_trainings(
    tmp_path: Path, data_dir: Path, cache_dir: Path
) -> None:
    """1: with one worker, a user's 5.7 s job waited 35.6 minutes behind the first start's default trainings."""
    s = service_settings(
        tmp_path / "home", data_dir, cache_dir, default_kind="stack", default_train_size=469, workers=2
    )
    _, key = KeyStore(s.db_url).create("t")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(s), raise_server_exceptions=False) as client:
        body = {"kind": "lgbm", "n_train": 60, "params": {"n_estimators": 20, "n_bags": 2}}
        job = client.post("/v1/predictors", json=body, headers=auth).json()
        deadline = time.monotonic() + 120
        while (j := client.get(f"/v1/jobs/{job['id']}", headers=auth).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, j
            time.sleep(0.1)
        assert j["status"] == "succeeded", j
        system = client.get("/v1/ready", headers=auth).json()["models"]["nb201/cifar10"]
        assert system["status"] == "training"  # the service's stack is still fitting beside it
