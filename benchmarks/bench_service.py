"""Load benchmark of the HTTP service on loopback (issue 4's targets).

Starts ``archgen serve`` as a real process with the default predictors (the
stacked ensemble on 469 NB201 cells for CIFAR-10, CIFAR-100 and
ImageNet16-120) and measures:

* first start on an empty home: time until the first successful ``/v1/predict`` of
  each default task (a quick LightGBM answers while the stacks train, issue 12),
  until each task is answered by its stack, and until ``/v1/ready``; then it
  waits until the defaults' prediction tables are filled and stored;
* cold start to ready with the trained defaults present (``--starts`` times);
* ``/v1/predict`` with 1,000 random architectures: p50/p99 over ``--requests`` sequential requests,
  plus the first such request after a start (predictions not yet filled in);
* single-architecture predictions from ``--clients`` concurrent keep-alive clients for
  ``--seconds`` s: requests/s and errors.

The clients run on the same machine as the server and share its cores.

Usage::

    python benchmarks/bench_service.py --home /tmp/bench-home --out bench-out/service
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, port: int, log: Path, env: dict[str, str]) -> None:
        self.home, self.port, self.log, self.env = home, port, log, env
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "archgen.cli.main", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return t0

    def wait_ready(self, key: str, t0: float, timeout: float) -> float:
        h = {"Authorization": f"Bearer {key}"}
        while time.perf_counter() - t0 < timeout:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited ({self.proc.returncode}); see {self.log}")
            try:
                r = httpx.get(f"{self.url}/v1/ready", headers=h, timeout=2)
                if r.status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"not ready after {timeout} s; see {self.log}")

    def first_start(self, key: str, t0: float, tasks: list[str], timeout: float) -> dict:
        """Poll ``/v1/predict`` for each task and ``/v1/ready`` from ``t0``: when each task first answers, in
        which stage, when its final model answers, and when the service is ready."""
        h = {"Authorization": f"Bearer {key}"}
        first: dict[str, dict] = {}
        final: dict[str, float] = {}
        ready_s = None
        with httpx.Client(base_url=self.url, headers=h, timeout=10) as c:
            while time.perf_counter() - t0 < timeout:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise SystemExit(f"server exited ({self.proc.returncode}); see {self.log}")
                try:
                    for task in tasks:
                        if task in final:
                            continue
                        r = c.post("/v1/predict", json={"task": task, "architectures": [1]})
                        if r.status_code != 200:
                            continue
                        now = time.perf_counter() - t0
                        info = r.json()["predictor"]
                        first.setdefault(task, {"s": now, "stage": info["stage"], "kind": info["kind"]})
                        if info["stage"] == "final":
                            final[task] = now
                    if c.get("/v1/ready").status_code == 200:
                        ready_s = time.perf_counter() - t0
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2 if len(first) < len(tasks) else 2.0)
        if ready_s is None:
            raise SystemExit(f"not ready after {timeout} s; see {self.log}")
        return {"first_predict": first, "final_predict_s": final, "ready_s": ready_s}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def _percentiles(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean())}


def bench_batch(url: str, key: str, n_requests: int, n_archs: int, seed: int) -> tuple[dict, float]:
    """Sequential predict requests of ``n_archs`` random NB201 indices; also the first one's latency."""
    rng = np.random.default_rng(seed)
    h = {"Authorization": f"Bearer {key}"}
    times = []
    with httpx.Client(base_url=url, headers=h, timeout=60) as c:
        for _ in range(n_requests + 1):
            body = {"architectures": rng.integers(0, 15625, n_archs).tolist()}
            t0 = time.perf_counter()
            r = c.post("/v1/predict", json=body)
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                raise SystemExit(f"predict failed: {r.status_code} {r.text[:300]}")
            times.append(dt)
    return _percentiles(times[1:]), times[0]


async def _client(port: int, key: str, bodies: list[bytes], stop_at: float, stats: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    k = 0
    try:
        while time.perf_counter() < stop_at:
            body = bodies[k % len(bodies)]
            k += 1
            req = (
                f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            t0 = time.perf_counter()
            writer.write(req)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            stats["lat"].append(time.perf_counter() - t0)
            stats["ok" if status == 200 else "errors"] += 1
    finally:
        writer.close()


async def _load(port: int, key: str, clients: int, seconds: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    bodies = [json.dumps({"architectures": [int(i)]}).encode() for i in rng.integers(0, 15625, 4096)]
    stats: dict = {"ok": 0, "errors": 0, "lat": []}
    stop_at = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, key, bodies, stop_at, stats) for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    return {
        "requests": stats["ok"] + stats["errors"],
        "errors": stats["errors"],
        "rps": (stats["ok"] + stats["errors"]) / elapsed,
        **_percentiles(stats["lat"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--home", type=Path, required=True, help="ARCHGEN_HOME (trained defaults are kept here between runs)"
    )
    ap.add_argument("--out", type=Path, default=None, help="write results.json here")
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--archs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--first-start-only", action="store_true", help="measure the first start alone")
    args = ap.parse_args()
    if (args.home / "models").is_dir() and any((args.home / "models").iterdir()):
        print(f"note: {args.home} has trained models: this is not a first start (use an empty --home for that)")

    args.home.mkdir(parents=True, exist_ok=True)
    log = args.home / "bench-server.log"
    env = os.environ | {"ARCHGEN_HOME": str(args.home), "ARCHGEN_RATE_LIMIT": "100000", "ARCHGEN_RATE_BURST": "100000"}
    out = subprocess.run(
        [sys.executable, "-m", "archgen.cli.main", "keys", "create", "--name", "bench", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(out.stdout)["key"]
    server = Server(args.home, _port(), log, env)
    results: dict = {
        "settings": {
            "clients": args.clients,
            "seconds": args.seconds,
            "archs": args.archs,
            "requests": args.requests,
            "cpus": os.cpu_count(),
        }
    }
    # first start (trains the defaults if missing)
    t0 = server.start()
    tasks = ["cifar10", "cifar100", "ImageNet16-120"]
    first = server.first_start(key, t0, tasks, timeout=3600)
    results["first_start"] = first
    results["first_start_to_ready_s"] = first["ready_s"]
    print(f"{'first start (empty home)':<42} {'seconds':>18}")
    for task in tasks:
        f = first["first_predict"].get(task, {})
        print(
            f"{'  first /v1/predict ' + task + ' (' + f.get('stage', '-') + ')':<42} {f.get('s', float('nan')):>18.1f}"
        )
    for task in tasks:
        print(f"{'  answered by its stack ' + task:<42} {first['final_predict_s'].get(task, float('nan')):>18.1f}")
    print(f"{'  /v1/ready':<42} {first['ready_s']:>18.1f}", flush=True)
    if args.first_start_only:
        server.stop()
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "results.json").write_text(json.dumps(results, indent=2))
        return
    # let it predict the whole table once for each default (kept in home/predictions for later starts)
    deadline = time.perf_counter() + 300
    while len(list((args.home / "predictions").glob("*.npz"))) < 3 and time.perf_counter() < deadline:
        time.sleep(0.5)
    server.stop()
    colds = []
    for _ in range(args.starts):
        t0 = server.start()
        colds.append(server.wait_ready(key, t0, timeout=120))
        if _ < args.starts - 1:
            server.stop()
    results["cold_start_to_ready_s"] = {"median": statistics.median(colds), "all": colds}
    try:
        batch, first = bench_batch(server.url, key, args.requests, args.archs, seed=0)
        results["predict_1000"] = batch | {"first_request_after_start_ms": first * 1e3}
        results["predict_single_concurrent"] = asyncio.run(_load(server.port, key, args.clients, args.seconds, 1))
    finally:
        server.stop()
    rows = [
        ("cold start to ready (defaults trained)", f"{results['cold_start_to_ready_s']['median']:.2f} s", "<= 10 s"),
        ("predict 1000 archs p50", f"{results['predict_1000']['p50_ms']:.1f} ms", "<= 50 ms"),
        ("predict 1000 archs p99", f"{results['predict_1000']['p99_ms']:.1f} ms", "<= 150 ms"),
        ("first 1000-arch request after start", f"{first * 1e3:.1f} ms", "-"),
        (
            f"single-arch, {args.clients} clients",
            f"{results['predict_single_concurrent']['rps']:.0f} req/s",
            ">= 300 req/s",
        ),
        ("  errors", str(results["predict_single_concurrent"]["errors"]), "0"),
        (
            "  latency p50 / p99",
            f"{results['predict_single_concurrent']['p50_ms']:.1f} / {results['predict_single_concurrent']['p99_ms']:.1f} ms",
            "-",
        ),
    ]
    print(f"{'measure':<42} {'measured':>18}  target")
    for name, value, target in rows:
        print(f"{name:<42} {value:>18}  {target}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
