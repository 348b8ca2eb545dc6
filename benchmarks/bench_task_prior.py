"""The label-free prior of a new task over HTTP (issue 26, part 1): how soon after the upload ``POST /v1/predict``
answers for 100 cells without a supernet, and how it ranks the 30 trained cells of the 5-class task.

Run: ``python benchmarks/bench_task_prior.py --data-dir ../shared/data --out bench-out/task-prior``

The task is the 5-class task of ``bench_new_task.py`` (the same classes and images, so the same arrays): its
zip is uploaded to a fresh ``archgen serve`` (its own empty home, no default predictors), then 100 random NB201
cells (``--seed``) are predicted in one request, then 100 others (the reference cells' proxies are cached by
then), then the 30 cells of ``benchmarks/results/new_task_cifar10_5class_http.json``'s ground truth, whose Kendall
tau against their trained accuracy is printed beside the rankers that file measured. Those 30 cells were looked
at while the prior was built (its design was fixed a priori, nothing was fitted to them; the tau is a
development figure, not a held-out one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_new_task import Api, _folder, _space
from bench_service import Server, _port

TRUTH = Path(__file__).resolve().parent / "results" / "new_task_cifar10_5class_http.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/task-prior"))
    ap.add_argument("--classes", default="airplane,bird,cat,deer,ship")
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    z = _folder(args.data_dir.resolve(), out, args.classes.split(","), args.per_class)
    home = out / "home"
    home.mkdir()
    env = os.environ | {"ARCHGEN_HOME": str(home), "ARCHGEN_DATA_DIR": str(args.data_dir.resolve()),
                        "ARCHGEN_CACHE_DIR": str(out / "cache"), "ARCHGEN_DEFAULT_MODELS": "none"}  # fmt: skip
    key = json.loads(subprocess.run([sys.executable, "-m", "archgen.cli.main", "keys", "create", "--name", "bench",
                                     "--json"], env=env, capture_output=True, text=True, check=True).stdout)["key"]  # fmt: skip
    server = Server(home, _port(), out / "server.log", env)
    t0 = server.start()
    rows: list[tuple[str, float, str]] = []
    try:
        server.wait_ready(key, t0, 600)
        api = Api(server.url, key)
        sp = _space(args.data_dir.resolve(), out)
        rng = np.random.default_rng(args.seed)
        picks = rng.choice(15625, 2 * args.cells, replace=False)
        first = [sp.format(sp.from_index(int(i))) for i in picks[: args.cells]]
        second = [sp.format(sp.from_index(int(i))) for i in picks[args.cells :]]

        t_up = time.perf_counter()
        job = api.post("/v1/tasks?name=newtask&filename=new-task.zip", content=z.read_bytes())
        api.wait(job["id"])
        t_task = time.perf_counter()
        rows.append(("upload to task registered", t_task - t_up, ""))
        body = api.post("/v1/predict", json={"task": "newtask", "architectures": first})
        t_pred = time.perf_counter()
        rows.append((f"POST /v1/predict, {args.cells} cells, first (reference scored too)", t_pred - t_task,
                     body["predictor"]["kind"]))  # fmt: skip
        rows.append((f"upload to {args.cells} predictions", t_pred - t_up, "target <= 120 s"))
        t = time.perf_counter()
        api.post("/v1/predict", json={"task": "newtask", "architectures": second})
        rows.append((f"POST /v1/predict, {args.cells} other cells", time.perf_counter() - t, ""))
        truth = json.loads(TRUTH.read_text())
        cells, acc = truth["truth"]["archs"], np.asarray(truth["truth"]["acc"])
        t = time.perf_counter()
        p = api.post("/v1/predict", json={"task": "newtask", "architectures": cells})
        rows.append(("POST /v1/predict, the 30 ground-truth cells", time.perf_counter() - t, ""))
        mean = np.array([q["mean"] for q in p["predictions"]])
        tau = float(kendalltau(mean, acc).statistic)
        print(f"{'measurement':62s} {'seconds':>8s}")
        for label, s, note in rows:
            print(f"{label:62s} {s:8.1f}  {note}")
        print(f"\nKendall tau against the 30 trained cells (development set): prior (transfer + zero-cost) {tau:.3f}")
        for k in ("supernet supernet-newtask-4256f1c1d8", "zero-cost vote (synflow, jacov, nwot, params)"):
            print(f"  beside, from {TRUTH.name}: {k} {truth['taus'][k]:.3f}")
        res = {"rows": rows, "tau_prior_30": tau, "predictions": p["predictions"], "target": p["target"],
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "args": {k: str(v) for k, v in vars(args).items()}}  # fmt: skip
        (out / "results.json").write_text(json.dumps(res, indent=1))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
