"""A held-out "new task" end to end over HTTP: an image folder in, a supernet, zero-cost scores, a guided
generation and finished searches out, scored against a small trained ground truth.

Run: ``python benchmarks/bench_new_task.py --data-dir ../shared/data --out bench-out/new-task``

The new task is five CIFAR-10 classes (``--classes``; ``--per-class`` training images of each, written as PNG
files under ``--out`` and zipped: the folder a user would have). Against a real ``archgen serve`` process (its own
empty home, no default predictors; ``--generator-store`` copies an already trained NB201 diffusion generator into
its model store, which the service would otherwise train on first use: it is trained on the space's cells, no
labels), every step is an HTTP request, the sequence of the README:

1. ``POST /v1/tasks`` (the zip) and the ``add_task`` job;
2. ``POST /v1/supernets`` for ``--supernet-seeds`` seeds (the service's defaults: C 8, N 1, 16x16, 300 epochs
   cut at ``--supernet-minutes``);
3. the ground truth: ``--archs`` random NB201 cells (seed ``--seed``) each trained by ``POST /v1/trainings`` with
   a short schedule (``--epochs`` epochs, C 8, N 1, 32x32, batch 128, lr 0.1, cosine, crops and flips) and
   measured on the task's validation split;
4. ``POST /v1/zero-cost`` with the 12 proxies (all but GRASP) on the task's images for the same cells, and
   ``POST /v1/predict`` (each supernet) for them;
5. ``POST /v1/generate`` guided by the supernet, and ``POST /v1/searches`` (bo with the generator's pool and
   random, ``--search-seeds`` seeds, budget ``--budget``, evaluated by the newest supernet); the best cell of
   each bo search is trained with the ground truth's schedule.

Prints Kendall tau against the trained accuracies (supernet per seed, mean +- std; each proxy; the zero-cost
vote; parameters; the label-free combination of supernet and vote) and the generation and search results, and
writes ``results.json``.
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
import zipfile
from pathlib import Path

import httpx
import numpy as np
from scipy.stats import kendalltau, rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import Server, _port

PROXIES = ["epe_nas", "fisher", "flops", "grad_norm", "jacov", "l2_norm", "nwot", "params", "plain", "snip",
           "synflow", "zen"]  # fmt: skip
VOTE = ["synflow", "jacov", "nwot", "params"]


def _folder(data_dir: Path, root: Path, classes: list[str], per_class: int) -> Path:
    from PIL import Image

    from archgen.context import Paths, workspace

    ws = workspace(Paths.of(data_dir, root / "cache", root / "scratch"))
    train = ws.cifar10("train")
    for c in classes:
        k = train.classes.index(c)
        (root / "images" / c).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(train.labels == k)[:per_class]:
            Image.fromarray(train.images[i]).save(root / "images" / c / f"{i:05d}.png")
    z = root / "new-task.zip"
    with zipfile.ZipFile(z, "w") as f:
        for p in sorted((root / "images").rglob("*.png")):
            f.write(p, p.relative_to(root).as_posix())
    return z


def _space(data_dir: Path, root: Path):  # type: ignore[no-untyped-def]
    from archgen.context import Paths, workspace

    return workspace(Paths.of(data_dir, root / "cache", root / "scratch")).space("nb201")


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.c = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)

    def post(self, path: str, **kw) -> dict:
        r = self.c.post(path, **kw)
        if r.status_code not in (200, 202):
            raise SystemExit(f"POST {path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def wait(self, job_id: str, timeout: float = 7200) -> dict:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            j = self.c.get(f"/v1/jobs/{job_id}").json()
            if j["status"] in ("succeeded", "failed", "cancelled"):
                if j["status"] != "succeeded":
                    raise SystemExit(f"job {job_id} ({j['kind']}) {j['status']}: {j['error']}")
                return j
            time.sleep(1.0)
        raise SystemExit(f"job {job_id} not finished after {timeout} s")


def _tau(a, b) -> float:
    return float(kendalltau(a, b).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/new-task"))
    ap.add_argument("--classes", default="airplane,bird,cat,deer,ship")
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--supernet-minutes", type=float, default=30.0)
    ap.add_argument("--supernet-seeds", type=int, default=3)
    ap.add_argument("--search-seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seed", type=int, default=100, help="Cells, supernets and searches (development used 0).")
    ap.add_argument("--generator-store", type=Path, default=None, help="A trained NB201 generator's store directory.")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t_start = time.perf_counter()
    z = _folder(args.data_dir.resolve(), out, args.classes.split(","), args.per_class)
    home = out / "home"
    (home / "models").mkdir(parents=True)
    if args.generator_store is not None:
        shutil.copytree(args.generator_store, home / "models" / args.generator_store.name)
    env = os.environ | {"ARCHGEN_HOME": str(home), "ARCHGEN_DATA_DIR": str(args.data_dir.resolve()),
                        "ARCHGEN_DEFAULT_MODELS": "none", "ARCHGEN_WORKERS": str(args.workers),
                        "ARCHGEN_RATE_LIMIT": "100000", "ARCHGEN_RATE_BURST": "100000", "OMP_NUM_THREADS": "1",
                        "ARCHGEN_JOB_MAX_OPEN_PER_KEY": "1000"}  # fmt: skip
    key = json.loads(subprocess.run([sys.executable, "-m", "archgen.cli.main", "keys", "create", "--name", "bench",
                                     "--json"], env=env, capture_output=True, text=True, check=True).stdout)["key"]  # fmt: skip
    server = Server(home, _port(), out / "server.log", env)
    t0 = server.start()
    res: dict = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    try:
        server.wait_ready(key, t0, 600)
        api = Api(server.url, key)
        name = "newtask"
        t = time.perf_counter()
        job = api.post(f"/v1/tasks?name={name}&filename=new-task.zip", content=z.read_bytes())
        task = api.wait(job["id"])["result"]["task"]
        res["task"] = task | {"seconds": time.perf_counter() - t}
        print(f"task {name}: {task['train']} train / {task['validation']} validation images, "
              f"{len(task['classes'])} classes ({res['task']['seconds']:.1f} s)", flush=True)  # fmt: skip

        sn_jobs = [api.post("/v1/supernets", json={"task": name, "minutes": args.supernet_minutes, "seed": args.seed + k})
                   for k in range(args.supernet_seeds)]  # fmt: skip
        cells = [int(i) for i in np.random.default_rng(args.seed).choice(15625, args.archs, replace=False)]
        sched = {"task": name, "epochs": args.epochs, "C": 8, "N": 1, "resolution": 32, "batch_size": 128, "seed": 0}
        sp = _space(args.data_dir.resolve(), out)
        forms = [sp.format(sp.from_index(i)) for i in cells]
        tr_jobs = [api.post("/v1/trainings", json=sched | {"arch": a}) for a in forms]
        supernets = []
        for j in sn_jobs:
            r = api.wait(j["id"])["result"]
            supernets.append(r["supernet_id"])
            h = r["supernet"]["heldout"]
            print(f"supernet {r['supernet_id']}: {h['steps']}/{h['scheduled_steps']} steps, {h['train_seconds']:.0f} s",
                  flush=True)  # fmt: skip
        res["supernets"] = [api.c.get("/v1/supernets").json()]
        truth = []
        for k, j in enumerate(tr_jobs):
            r = api.wait(j["id"])["result"]
            truth.append(r["test_acc"])
            print(f"  trained {k + 1}/{len(tr_jobs)}: {r['test_acc']:.2f}% in {r['seconds']:.0f} s", flush=True)
        y = np.asarray(truth)
        res["truth"] = {"archs": forms, "acc": truth, "schedule": sched}

        t = time.perf_counter()
        zj = api.post("/v1/zero-cost", json={"task": name, "architectures": forms, "proxies": PROXIES})
        zc = api.wait(zj["id"])["result"] if "id" in zj else zj
        zc_s = time.perf_counter() - t
        Z = {
            p: np.array([r["scores"][p] if r["scores"][p] is not None else -np.inf for r in zc["results"]])
            for p in PROXIES
        }
        res["zero_cost"] = {
            "seconds": zc_s,
            "cells": zc["cells_computed_by_this_run"],
            "scores": {p: v.tolist() for p, v in Z.items()},
        }
        vote = np.mean([rankdata(Z[p]) / len(y) for p in VOTE], axis=0)
        taus: dict[str, float] = {f"zc {p}": _tau(Z[p], y) for p in PROXIES}
        taus["zero-cost vote (synflow, jacov, nwot, params)"] = _tau(vote, y)
        est = []
        for sid in supernets:
            t = time.perf_counter()
            p = api.post("/v1/predict", json={"task": name, "architectures": forms, "predictor": sid})
            dt = time.perf_counter() - t
            e = np.array([q["mean"] for q in p["predictions"]])
            est.append(e)
            taus[f"supernet {sid}"] = _tau(e, y)
            taus[f"supernet {sid} + vote"] = _tau(rankdata(e) / len(y) + vote, y)
            res.setdefault("predict_seconds", []).append(dt)
        sn_t = [taus[f"supernet {s}"] for s in supernets]
        comb_t = [taus[f"supernet {s} + vote"] for s in supernets]
        res["taus"] = taus
        res["supernet_estimates"] = [e.tolist() for e in est]

        gj = api.post("/v1/generate", json={"task": name, "guide_by": "supernet", "n": 20, "seed": args.seed})
        gen = api.wait(gj["id"])["result"] if gj.get("kind") == "generate" else gj
        gforms = [g["architecture"] for g in gen["items"]]
        gsn = np.array(
            [q["mean"] for q in api.post("/v1/predict", json={"task": name, "architectures": gforms})["predictions"]]
        )
        rnd = [int(i) for i in np.random.default_rng(args.seed + 1).choice(15625, 100, replace=False)]
        rsn = np.array(
            [q["mean"] for q in api.post("/v1/predict", json={"task": name, "architectures": rnd})["predictions"]]
        )
        res["generate"] = {"items": gen["items"], "supernet_generated": gsn.tolist(), "supernet_random": rsn.tolist(),
                           "validity": gen.get("validity"), "uniqueness": gen.get("uniqueness")}  # fmt: skip

        searches = {}
        for strategy, extra in (("bo", {"generator": True}), ("random", {})):
            for k in range(args.search_seeds):
                body = {
                    "task": name,
                    "strategy": strategy,
                    "budget": args.budget,
                    "batch_size": 4,
                    "seed": args.seed + k,
                } | extra
                sid = api.post("/v1/searches", json=body)["searches"][0]["id"]
                t = time.perf_counter()
                r = api.wait(sid)["result"]
                searches[f"{strategy} seed {args.seed + k}"] = {"best": r["best"], "seconds": time.perf_counter() - t}
        best_jobs = {k: api.post("/v1/trainings", json=sched | {"arch": v["best"]["architecture"]})
                     for k, v in searches.items() if k.startswith("bo")}  # fmt: skip
        for k, j in best_jobs.items():
            r = api.wait(j["id"])["result"]
            searches[k]["trained_acc"] = r["test_acc"]
            searches[k]["trained_percentile"] = float((y < r["test_acc"]).mean() * 100)
        res["searches"] = searches
        res["wall_s"] = time.perf_counter() - t_start
    finally:
        server.stop()
        (out / "results.json").write_text(json.dumps(res, indent=1, default=str))

    print(f"\nnew task: {args.classes} ({args.per_class} images each), {len(y)} cells trained {args.epochs} epochs "
          f"(C 8, N 1, 32x32), accuracy {y.min():.1f}-{y.max():.1f}%")  # fmt: skip
    print(f"{'Kendall tau against the trained accuracy':<58} {'tau':>8}")
    print(f"{'supernet (' + str(len(sn_t)) + ' seeds), mean +- std':<58} {np.mean(sn_t):>8.3f} +- {np.std(sn_t):.3f}")
    print(
        f"{'supernet + zero-cost vote (label-free), mean +- std':<58} {np.mean(comb_t):>8.3f} +- {np.std(comb_t):.3f}"
    )
    for k, v in sorted(taus.items(), key=lambda kv: -kv[1]):
        if not k.startswith("supernet"):
            print(f"{k:<58} {v:>8.3f}")
    print(
        f"zero-cost: {len(y)} cells x 12 proxies in {zc_s:.1f} s ({zc_s / max(1, res['zero_cost']['cells']):.2f} s/cell)"
    )
    print(f"generation (supernet-guided, 20): supernet estimate {gsn.mean():.1f} +- {gsn.std():.1f} vs random cells "
          f"{rsn.mean():.1f} +- {rsn.std():.1f}")  # fmt: skip
    for k, v in searches.items():
        extra = (
            f", trained {v['trained_acc']:.2f}% (above {v['trained_percentile']:.0f}% of the {len(y)} cells)"
            if "trained_acc" in v
            else ""
        )
        print(f"search {k}: best supernet estimate {v['best']['value']:.2f} at evaluation {v['best']['at']} "
              f"({v['seconds']:.0f} s){extra}")  # fmt: skip
    print(f"wall time {res['wall_s'] / 60:.1f} min; results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
