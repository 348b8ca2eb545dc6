"""Running ``archgen serve`` as a real process in tests: a free port, start, wait for health, a key."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    cli = [sys.executable, "-m", "archgen.cli.main", "serve", "--port", str(port)]
    return subprocess.Popen(cli, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_health(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


def create_key(env: dict[str, str], name: str) -> dict[str, str]:
    """A new API key in the database ``env`` points at, as request headers."""
    keys = subprocess.run(
        [sys.executable, "-m", "archgen.cli.main", "keys", "create", "--name", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {"Authorization": f"Bearer {json.loads(keys.stdout)['key']}"}
