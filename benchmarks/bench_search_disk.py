"""A search's files belong to its owner: after 10 cancelled and 5 failed training searches over HTTP, ``jobs/``
holds only what their histories serve, and the key's usage equals what is on disk.

Run: ``python benchmarks/bench_search_disk.py --data-dir ../shared/data --out bench-out/search-disk``

An ``archgen serve`` of its own (``ARCHGEN_JOB_MAX_RUNTIME_S=8``: a job past 8 s is killed and fails, the worker
gone without a word, as a crash would leave it), one key, one small task (three CIFAR-10 classes, 40 images a
class at 16x16). Fifteen training searches, one after the other, each with a first fidelity of one epoch on 30
images and a second of 200 epochs (in flight when the search ends): ten cancelled two seconds after they start
running (``DELETE /v1/searches/ID``), five left to run past the 8 s limit (failed). Then, for each search: what
its directory holds (the history, the best training's files, anything else), checkpoints left, and
``GET /v1/tasks``' usage against ``du`` of the key's files and the jobs' directories.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_budget_cap import _Service
from bench_new_task import _folder


def _du(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/search-disk"))
    args = ap.parse_args()
    args.data_dir = args.data_dir.resolve()
    root = args.out.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    _folder(args.data_dir, root / "disk", ["cat", "ship", "frog"], 50)
    svc = _Service(args, root, job_max_runtime_s="8")
    t0 = time.time()
    rows = []
    try:
        c, h = svc.client, svc.auth
        r = c.post(
            "/v1/tasks?name=disk&image_size=16", content=(root / "disk" / "new-task.zip").read_bytes(), headers=h
        )
        r.raise_for_status()
        assert svc.wait(r.json()["id"], 300)["status"] == "succeeded"
        body = {"task": "disk", "evaluator": "training", "prior": "none", "budget_minutes": 10, "batch_size": 2,
                "schedule": {"C": 4, "N": 1, "resolution": 16, "batch_size": 16},
                "fidelities": [{"epochs": 1, "train_images": 30}, {"epochs": 200}]}  # fmt: skip
        for k in range(15):
            r = c.post("/v1/searches", json=body | {"seed": k}, headers=h)
            r.raise_for_status()
            sid = r.json()["searches"][0]["id"]
            while c.get(f"/v1/jobs/{sid}", headers=h).json()["status"] == "queued":
                time.sleep(0.2)
            if k < 10:
                time.sleep(2.0)
                c.delete(f"/v1/searches/{sid}", headers=h)
            job = svc.wait(sid, 120)
            work = svc_home(root) / "jobs" / sid
            hist = c.get(f"/v1/searches/{sid}", headers=h).json()["search"] or {}
            kept = (hist.get("result") or {}).get("best_run")
            runs = sorted(p.relative_to(work).as_posix() for p in work.glob("runs/*")) if work.is_dir() else []
            rows.append({"search": sid, "status": job["status"], "evaluations": hist.get("evaluations"),
                         "best_run": kept, "runs_left": runs, "extra": runs != ([kept] if kept else []),
                         "checkpoints": len(list(work.rglob("checkpoint.npz"))), "bytes": _du(work)})  # fmt: skip
        usage = c.get("/v1/tasks", headers=h).json()["usage"]
    finally:
        svc.close()
    jobs_du = sum(_du(svc_home(root) / "jobs" / r["search"]) for r in rows)
    keys_du = _du(svc_home(root) / "keys")
    print(f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {time.time() - t0:.0f} s")
    print("| search | status | trainings | files kept | other runs left | checkpoints left | bytes |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['search'][:8]} | {r['status']} | {r['evaluations']} | history + {len(r['runs_left'])} run(s) | "
              f"{'yes' if r['extra'] else 'no'} | {r['checkpoints']} | {r['bytes']:,} |")  # fmt: skip
    print(f"usage.job_bytes {usage['job_bytes']:,} vs du of the searches' directories {jobs_du:,}; usage.bytes "
          f"{usage['bytes']:,} vs du of the key's files and its jobs' {keys_du + jobs_du:,} (the task's upload job "
          "keeps no files)")  # fmt: skip
    (root / "rows.json").write_text(json.dumps({"rows": rows, "usage": usage, "jobs_du": jobs_du, "keys_du": keys_du},
                                               indent=1))  # fmt: skip


def svc_home(root: Path) -> Path:
    return root / "http-home"


if __name__ == "__main__":
    main()
