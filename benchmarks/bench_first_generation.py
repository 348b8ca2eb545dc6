"""Time to a first generation on a fresh home (issue 27): the CLI, then the HTTP service from its first start.

Prints a table. Each measurement uses a new, empty ARCHGEN_HOME and ARCHGEN_CACHE_DIR under --work (the data
directory is the usual one), so the quick generator is trained, the tables parsed and the images decoded anew.

    python benchmarks/bench_first_generation.py [--work /tmp/bench-first] [--port 8765]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ARCHGEN = str(Path(sys.executable).with_name("archgen"))
BODY = {"n": 10, "constraints": {"max_params": 0.8}}


def fresh(work: Path, name: str) -> dict[str, str]:
    home, cache = work / name / "home", work / name / "cache"
    shutil.rmtree(work / name, ignore_errors=True)
    home.mkdir(parents=True)
    cache.mkdir(parents=True)
    return dict(os.environ, ARCHGEN_HOME=str(home), ARCHGEN_CACHE_DIR=str(cache))


def cli(work: Path) -> list[tuple[str, float, str]]:
    env = fresh(work, "cli")
    rows = []
    for label, seed in (("CLI, fresh home and cache", "0"), ("CLI, again (quick generator stored)", "1")):
        t0 = time.perf_counter()
        out = subprocess.run([ARCHGEN, "generate", "-n", "10", "--max-params", "0.8", "--seed", seed], env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
        first = out.stdout.splitlines()[0]
        stage = re.search(r"generator (\S+), (\w+);", first)
        rows.append((label, time.perf_counter() - t0, f"{stage.group(1)} ({stage.group(2)})" if stage else first))
    return rows


def http(work: Path, port: int) -> list[tuple[str, float, str]]:
    env = fresh(work, "http") | {"ARCHGEN_PORT": str(port)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([ARCHGEN, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    key: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"(agk_[A-Za-z0-9_\-]+)", line)
            if m and not key:
                key.append(m.group(1))

    threading.Thread(target=read, daemon=True).start()
    c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)
    rows = []
    try:
        while not key:
            time.sleep(0.2)
        while True:
            try:
                if c.get("/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        h = {"Authorization": f"Bearer {key[0]}"}

        def ask(body: dict) -> tuple[int, dict]:
            """POST /v1/generate; a job (202) is followed to its end. The first status and the result."""
            r = c.post("/v1/generate", json=body, headers=h)
            res = r.json()
            if r.status_code == 202:
                while True:
                    job = c.get(f"/v1/jobs/{res['id']}", headers=h).json()
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        break
                    time.sleep(0.5)
                res = job.get("result") or {"error": job.get("error")}
            return r.status_code, res

        code, res = ask(BODY)
        rows.append(("HTTP, first start: process start to the result", time.perf_counter() - t0,
                     f"{code}, {res.get('generator_id')} ({res.get('generator_stage')})"))  # fmt: skip
        for label, body in (("HTTP, the same request again", BODY),
                            ("HTTP, another seed (new surrogates)", BODY | {"seed": 1}),
                            ("HTTP, that one again", BODY | {"seed": 1})):  # fmt: skip
            t1 = time.perf_counter()
            code, res = ask(body)
            rows.append((label, time.perf_counter() - t1, f"{code}, {res.get('generator_stage')}"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return rows


def calibration() -> list[tuple[str, float, str]]:
    """A fixed piece of CPU work (one torch thread, the generator's kind of work) timed before the runs: this VM's
    speed varies by a third from one hour to the next, and every row moves with it."""
    code = (
        "import time, torch; torch.set_num_threads(1); g = torch.Generator().manual_seed(0)\n"
        "net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64))\n"
        "opt = torch.optim.Adam(net.parameters()); x = torch.randn(256, 64, generator=g)\n"
        "t = time.perf_counter()\n"
        "for _ in range(1500):\n"
        "    opt.zero_grad(); loss = (net(x) - x).pow(2).mean(); loss.backward(); opt.step()\n"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [("calibration: fixed 1-thread torch work (machine speed)", float(out.stdout), "")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-first-generation"))
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    rows = calibration() + cli(args.work) + http(args.work, args.port)
    print(f"{'measurement':50s} {'seconds':>8s}  generator")
    for label, seconds, what in rows:
        print(f"{label:50s} {seconds:8.1f}  {what}")


if __name__ == "__main__":
    main()
