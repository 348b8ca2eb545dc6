"""The job and key tables on a real PostgreSQL (a throwaway cluster; skipped where PostgreSQL is not installed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archgen.api.keys import KeyStore
from archgen.jobs import SUCCEEDED, JobStore

#: Set by .ci/run: a missing server is a failure there, not a skip.
REQUIRE = os.environ.get("ARCHGEN_TEST_REQUIRE_POSTGRES") == "1"


def _pg_bin(name: str) -> str | None:
    """``name`` on PATH, else in the newest ``/usr/lib/postgresql/<version>/bin`` (Debian's layout)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    return next((str(v / name) for v in reversed(versions) if (v / name).exists()), None)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None or (os.geteuid() == 0 and not shutil.which("runuser")):
        if REQUIRE:
            pytest.fail("PostgreSQL server binaries not installed (ARCHGEN_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL server binaries not installed")
    # not under pytest's tmp dir: its parents are private to this user, and the server runs as 'postgres'
    root = Path(tempfile.mkdtemp(prefix="archgen-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        _as_postgres([initdb, "-D", str(root / "data"), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres([pg_ctl, "-D", str(root / "data"), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        time.sleep(0.5)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(root / "data"), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_jobs_on_postgres(pg_url: str) -> None:
    store = JobStore(pg_url)
    job, created = store.create("k", {"a": [1, 2]}, "alice", "idem")
    again, created_again = store.create("k", {"a": [1, 2]}, "alice", "idem")
    assert created and not created_again and again.id == job.id
    claimed, token = store.claim_next()
    assert claimed.id == job.id and store.claim_next() is None
    assert store.heartbeat(job.id, token, progress=0.5, checkpoint={"i": 1}) == (True, False)
    assert store.requeue_stale(lease_s=0, max_failures=3) == [job.id]
    _, token2 = store.claim_next()
    assert not store.finish(job.id, token, SUCCEEDED)  # the old lease is fenced off
    assert store.finish(job.id, token2, SUCCEEDED, result={"x": 1})
    done = store.get(job.id)
    assert done.status == SUCCEEDED and done.attempts == 2 and done.checkpoint == {"i": 1} and done.result == {"x": 1}


def test_keys_on_postgres(pg_url: str) -> None:
    keys = KeyStore(pg_url)
    key, secret = keys.create("pg")
    assert keys.verify(secret).id == key.id
    keys.revoke(key.id)
    assert keys.verify(secret) is None
