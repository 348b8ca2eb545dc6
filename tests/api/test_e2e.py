"""End to end: ``archgen serve`` as a real process, a real HTTP client, SIGKILL during a job, restart.

The job (zero-cost scores of 40 cells) must finish after the restart with
every cell scored exactly once in the score cache: the cells finished before
the kill are not computed again (resumed from the checkpoint), none is lost,
and the killed server's worker does not keep running beside the new one.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.api.server import create_key, free_port, start_server, wait_health

CELLS = 40


def _cache_lines(cache: Path) -> list[str]:
    files = list((cache / "zerocost").glob("nb201-cifar10-*.jsonl"))
    return [json.loads(line)["arch"] for f in files for line in f.read_text().splitlines() if line.strip()]


def test_sigkill_during_a_job_then_restart_finishes_it_once(tmp_path: Path, data_dir: Path, ws) -> None:
    home, cache, log = tmp_path / "home", tmp_path / "cache", tmp_path / "server.log"
    env = os.environ | {
        "ARCHGEN_HOME": str(home),
        "ARCHGEN_CACHE_DIR": str(cache),
        "ARCHGEN_DATA_DIR": str(data_dir),
        "ARCHGEN_DEFAULT_MODELS": "none",
        "ARCHGEN_JOB_LEASE_S": "2",
        "ARCHGEN_WORKER_BACKEND": "local",
        "OMP_NUM_THREADS": "1",
    }
    headers = create_key(env, "e2e")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    space = ws.space("nb201")
    # distinct isomorphism classes, so that each is one cache line
    rows, seen = [], set()
    for i in range(2000, 15625):
        c = space.format(space.canonical(space.from_index(i)))
        if c not in seen:
            seen.add(c)
            rows.append(i)
        if len(rows) == CELLS:
            break
    body = {"architectures": rows, "proxies": ["synflow", "nwot", "jacov", "params"], "batch_size": 32, "width": 16}
    idem = {"Idempotency-Key": "e2e-zero-cost-1"}

    server = start_server(env, port, log)
    try:
        wait_health(url, server, log)
        r = httpx.post(f"{url}/v1/zero-cost", json=body, headers=headers | idem, timeout=30)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert r.headers["location"] == f"/v1/jobs/{job_id}"
        deadline = time.monotonic() + 120
        while True:
            job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
            if job["status"] == "running" and 0.2 <= job["progress"] <= 0.7:
                break
            assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait()
    finally:
        if server.poll() is None:
            server.kill()
    # the orphaned worker notices its server is gone and stops: the cache stops growing
    time.sleep(2.0)
    before = _cache_lines(cache)
    time.sleep(2.0)
    assert _cache_lines(cache) == before, "a worker kept computing after its server was killed"
    assert 0 < len(before) < CELLS

    server = start_server(env, port, log)
    try:
        wait_health(url, server, log)
        # the same POST with the same Idempotency-Key is the same job, not a new one
        again = httpx.post(f"{url}/v1/zero-cost", json=body, headers=headers | idem, timeout=30)
        assert again.status_code == 202 and again.json()["id"] == job_id
        deadline = time.monotonic() + 180
        while True:
            job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
            if job["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 2
        result = job["result"]
        assert [x["architecture"] for x in result["results"]] == rows
        assert all(v is not None for x in result["results"] for v in x["scores"].values())
        # resumed: this run computed only what the killed one had not
        assert result["cells_computed_by_this_run"] == CELLS - len(before)
        lines = Counter(_cache_lines(cache))
        assert len(lines) == CELLS and max(lines.values()) == 1, "a cell was computed twice"
        jobs = httpx.get(f"{url}/v1/jobs?kind=zero_cost", headers=headers, timeout=10).json()["jobs"]
        assert [j["id"] for j in jobs] == [job_id]
        # graceful shutdown (uvicorn re-raises the signal once it has shut down)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert '"message": "shut down"' in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
