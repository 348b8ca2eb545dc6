"""A training search's budget is a cap: overshoot over ten searches of 2-6 minutes, from the CLI and over HTTP.

Run: ``python benchmarks/bench_budget_cap.py --data-dir ../shared/data --out bench-out/budget-cap``

Each row is one training search on a fresh task (three CIFAR-10 classes, a different triple each row, 200
training-set images a class, registered with the service's split at 32x32), with the service's defaults: the
short schedule (C 8, N 1, 32x32, batch 128), fidelities 2, 6 and 20 epochs, two trainings a batch, ``prior-sh``
(the transfer prior, its scoring charged to the budget and stopped at its share) or ``sh``. CLI rows run
``archgen search --evaluator training --checkpoint ...`` as a subprocess (a training per core at once); HTTP rows
submit ``POST /v1/searches`` to an ``archgen serve`` started here (its own home, no default models; a search job
runs as many trainings at once as it has threads). Per row: the budget, the seconds charged (trainings and the
prior's scoring), the overshoot (charged minus budget), one epoch's seconds at the longest fidelity (the target:
overshoot at most that), the prior's scoring against its share, trainings paid, why the search stopped.
Every search is a fresh one: nothing here is tuned.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_new_task import _folder

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: (interface, strategy, budget minutes) of each row.
ROWS = (
    ("cli", "prior-sh", 2.0),
    ("cli", "sh", 2.0),
    ("cli", "prior-sh", 4.0),
    ("cli", "sh", 3.0),
    ("cli", "prior-sh", 6.0),
    ("http", "prior-sh", 2.0),
    ("http", "sh", 2.0),
    ("http", "prior-sh", 3.0),
    ("http", "sh", 4.0),
    ("http", "prior-sh", 5.0),
)
PER_CLASS = 250  # 200 training and 50 validation images a class


def _row_summary(search: dict, budget_s: float) -> dict:
    """The figures of one search's report (``GET /v1/searches/ID``'s ``search``, or the CLI's ``--json``)."""
    res = search.get("result") or {}
    fids = search.get("fidelities") or []
    top = fids[-1] if fids else {}
    per_epoch = (top["seconds"] / top["trainings"] / top["epochs"]) if top.get("trainings") else None
    if per_epoch is None:  # no training reached the top: the lower fidelities' seconds an epoch
        secs = [(f["seconds"], f["trainings"] * f["epochs"]) for f in fids if f.get("trainings")]
        per_epoch = sum(s for s, _ in secs) / max(1, sum(e for _, e in secs)) if secs else float("nan")
    scoring = res.get("prior_scoring") or {}
    return {
        "budget_s": budget_s,
        "spent_s": search["spent_seconds"],
        "overshoot_s": search["spent_seconds"] - budget_s,
        "epoch_s_top": per_epoch,
        "scoring_s": scoring.get("seconds", 0.0),
        "share_s": scoring.get("share_seconds", 0.0),
        "trainings": search["evaluations"],
        "best": (search.get("best") or {}).get("value"),
        "stop": res.get("stop", ""),
        "note": scoring.get("note", ""),
    }


def _cli(args: argparse.Namespace, root: Path, name: str, strategy: str, minutes: float) -> dict:
    base = [sys.executable, "-m", "archgen.cli.main", "--data-dir", str(args.data_dir), "--cache-dir",
            str(root / "cache"), "--home", str(root / "cli-home")]  # fmt: skip
    subprocess.run([*base, "tasks", "add", name, "--images", str(root / name / "images"), "--json"], check=True,
                   capture_output=True)  # fmt: skip
    ckpt = root / f"{name}.json"
    prior = ["--prior", "none"] if strategy == "sh" else []
    out = subprocess.run([*base, "search", "--task", name, "--evaluator", "training", "--strategy", strategy, *prior,
                          "--budget-minutes", str(minutes), "--checkpoint", str(ckpt), "--json"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)["search"]


class _Service:
    """``archgen serve`` on a free local port with a home of its own, and one key."""

    def __init__(self, args: argparse.Namespace, root: Path, **settings: str) -> None:
        import httpx

        home = root / "http-home"
        env = os.environ | {f"ARCHGEN_{k.upper()}": v for k, v in settings.items()} | {"ARCHGEN_HOME": str(home), "ARCHGEN_DATA_DIR": str(args.data_dir),
                            "ARCHGEN_CACHE_DIR": str(root / "cache"), "ARCHGEN_DEFAULT_MODELS": "none",
                            "ARCHGEN_QUICK_DEFAULTS": "false", "ARCHGEN_LOG_JSON": "false"}  # fmt: skip
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        key = subprocess.run([sys.executable, "-m", "archgen.cli.main", "keys", "create", "--name", "bench", "--json"],
                             env=env, capture_output=True, text=True, check=True)  # fmt: skip
        self.auth = {"Authorization": f"Bearer {json.loads(key.stdout)['key']}"}
        self.log = (root / "serve.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "archgen.cli.main", "serve", "--port", str(port)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 180
        while True:
            try:
                if self.client.get("/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"archgen serve did not start; see {root / 'serve.log'}")
            time.sleep(0.5)

    def wait(self, job: str, limit: float) -> dict:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            j = self.client.get(f"/v1/jobs/{job}", headers=self.auth).json()
            if j["status"] in ("succeeded", "failed", "cancelled"):
                return j
            time.sleep(1.0)
        raise RuntimeError(f"job {job} did not finish in {limit} s")

    def search(self, root: Path, name: str, strategy: str, minutes: float) -> dict:
        r = self.client.post(f"/v1/tasks?name={name}", content=(root / name / "new-task.zip").read_bytes(),
                             headers=self.auth)  # fmt: skip
        r.raise_for_status()
        if (j := self.wait(r.json()["id"], 600))["status"] != "succeeded":
            raise RuntimeError(f"task {name}: {j}")
        body = {"task": name, "evaluator": "training", "strategy": strategy, "budget_minutes": minutes}
        if strategy == "sh":
            body["prior"] = "none"
        r = self.client.post("/v1/searches", json=body, headers=self.auth)
        r.raise_for_status()
        sid = r.json()["searches"][0]["id"]
        if (j := self.wait(sid, minutes * 60 * 3 + 600))["status"] != "succeeded":
            raise RuntimeError(f"search {sid}: {j}")
        return self.client.get(f"/v1/searches/{sid}", headers=self.auth).json()["search"]

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/budget-cap"))
    ap.add_argument("--rows", default=",".join(str(i) for i in range(len(ROWS))), help="Which rows (indices).")
    args = ap.parse_args()
    args.data_dir = args.data_dir.resolve()
    root = args.out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    results_path = root / "rows.json"
    done = json.loads(results_path.read_text()) if results_path.is_file() else {}
    triples = list(itertools.combinations(CLASSES, 3))
    order = np.random.default_rng(20261207).permutation(len(triples))
    service = None
    t0 = time.time()
    try:
        for i in (int(k) for k in args.rows.split(",")):
            if str(i) in done:
                continue
            where, strategy, minutes = ROWS[i]
            classes = list(triples[int(order[i])])
            name = f"cap{i}-" + "-".join(c[:4] for c in classes)
            if not (root / name / "new-task.zip").is_file():
                shutil.rmtree(root / name, ignore_errors=True)
                _folder(args.data_dir, root / name, classes, PER_CLASS)
            t = time.time()
            if where == "cli":
                search = _cli(args, root, name, strategy, minutes)
            else:
                service = service or _Service(args, root)
                search = service.search(root, name, strategy, minutes)
            row = {"where": where, "strategy": strategy, "minutes": minutes, "task": name, "wall_s": time.time() - t}
            done[str(i)] = row | _row_summary(search, minutes * 60.0)
            results_path.write_text(json.dumps(done, indent=1))
            print(f"row {i}: {json.dumps(done[str(i)])}", file=sys.stderr, flush=True)
    finally:
        if service is not None:
            service.close()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {time.time() - t0:.0f} s")
    head = "| # | where | strategy | budget s | charged s | overshoot s | 1 epoch at 20 ep, s | prior scoring s / share | trainings | stopped because |"
    print(head)
    print("|---" * 10 + "|")
    for k in sorted(done, key=int):
        r = done[k]
        print(f"| {k} | {r['where']} | {r['strategy']} | {r['budget_s']:.0f} | {r['spent_s']:.1f} | "
              f"{r['overshoot_s']:+.1f} | {r['epoch_s_top']:.2f} | {r['scoring_s']:.1f} / {r['share_s']:.0f} | "
              f"{r['trainings']} | {r['stop'][:80]} |")  # fmt: skip
    over = [r["overshoot_s"] - r["epoch_s_top"] for r in done.values()]
    print(f"max (overshoot - one epoch at the longest fidelity): {max(over):+.2f} s over {len(done)} searches")


if __name__ == "__main__":
    main()
