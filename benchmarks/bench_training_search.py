"""Searches that pay for real trainings on a task without a table (issue 26, second part), at equal budgets.

Run: ``python benchmarks/bench_training_search.py --data-dir ../shared/data --out bench-out/training-search``

The task is the 5-class task of ``bench_new_task.py`` (airplane, bird, cat, deer, ship; the first 1,000
CIFAR-10 training images of each, registered with the service's split: 4,000 training and 1,000 validation
images), whose 30 random cells trained with the short schedule (20 epochs, C 8, N 1, 32x32, batch 128, seed 0)
are in ``benchmarks/results/new_task_cifar10_5class_http.json``. Every method below trains cells with that
schedule (the top fidelity) or shorter, and spends at most ``--budget-minutes`` of measured training seconds
(the trainings' wall seconds summed; two at once on two cores, one torch thread each):

* ``c10-best``: CIFAR-10's best published cell (NB201 table, ``cifar10``/``test_acc``) trained once: what a user
  does without archgen;
* ``random``: random cells trained at the top fidelity (``sh`` with one fidelity);
* ``sh``: successive halving without a prior, fidelities 2, 6 and 20 epochs (eta 3);
* ``prior-sh``: the new search, the same brackets drawn from the task's transfer prior (other image sets'
  published accuracies and zero-cost proxies on the task's images; the pool's scoring is charged to the budget).

Each search seed also seeds its trainings, so the returned cell's accuracy is its own 20-epoch training inside
the search (one training seed); ``c10-best`` is trained with the same seeds. The percentile is among the 30
ground-truth cells (seed 0). Nothing was tuned on these seeds (the methods' settings are the service's defaults,
fixed before the run). Each run is a checkpointed search: rerunning the command resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_new_task import _folder

TRUTH = Path(__file__).resolve().parent / "results" / "new_task_cifar10_5class_http.json"
METHODS = ("c10-best", "random", "sh", "prior-sh")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/training-search"))
    ap.add_argument("--budget-minutes", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)

    import archgen.composition  # noqa: F401  (registers the built-in kinds)
    from archgen.context import Paths, workspace
    from archgen.search.parallel import Workers
    from archgen.services.search import SearchParams, check_search, execute_search

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    truth = json.loads(TRUTH.read_text())
    classes = truth["task"]["classes"]
    ws = workspace(Paths.of(args.data_dir.resolve(), out / "cache", out / "home"))
    if "newtask" not in ws.tasks:
        if not (out / "images").is_dir():
            _folder(args.data_dir.resolve(), out, classes, 1000)
        rec = ws.tasks.add("newtask", out / "images")
        print(f"registered newtask: {rec.num_classes} classes", file=sys.stderr)
    gt_acc = np.asarray(truth["truth"]["acc"], dtype=float)
    sp = ws.space("nb201")
    table = ws.table("nb201")
    c10 = np.asarray(table.column("cifar10", "test_acc"), dtype=float)
    c10_best = sp.format(sp.from_index(int(np.nanargmax(c10))))
    sched = {"C": 8, "N": 1, "resolution": 32, "batch_size": 128}
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {"runs": {}}
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    results["c10_best"] = c10_best

    def pct(v: float) -> float:
        return float(100.0 * np.mean(gt_acc < v) + 50.0 * np.mean(gt_acc == v))

    for method in args.methods.split(","):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            key = f"{method} seed {seed}"
            if key in results["runs"]:
                continue
            t0 = time.perf_counter()
            run_dir = out / method / str(seed)
            run_dir.mkdir(parents=True, exist_ok=True)
            if method == "c10-best":
                from archgen.evaluators.training import TrainingEvaluator

                ev = TrainingEvaluator(ws, "newtask", workdir=run_dir, epochs=20, seed=seed, **sched)
                (r,) = ev.evaluate([sp.parse(c10_best)])
                row = {"architecture": c10_best, "value": r.value, "spent_s": r.cost, "trainings": 1}
            else:
                body = {"task": "newtask", "evaluator": "training", "budget_minutes": args.budget_minutes,
                        "schedule": sched, "seed": seed, "batch_size": args.workers}  # fmt: skip
                if method == "random":
                    body |= {"strategy": "sh", "prior": "none", "fidelities": [{"epochs": 20}]}
                elif method == "sh":
                    body |= {"strategy": "sh", "prior": "none"}
                else:
                    body |= {"strategy": "prior-sh", "prior": "transfer"}
                plan = check_search(SearchParams(**body), ws)
                with Workers(args.workers) as pool:
                    h = execute_search(plan, ws, checkpoint=run_dir / "history.json", workers=pool,
                                       on_batch=lambda h, key=key: print(f"  {key}: {len(h.evaluations)} trainings, "
                                                                f"{h.spent():.0f} s", file=sys.stderr))  # fmt: skip
                best = h.best()
                per = [sum(e.fidelity == k for e in h.evaluations) for k in range(len(h.fidelities))]
                row = {"architecture": best.architecture, "value": best.value, "spent_s": h.spent(),
                       "overhead_s": h.overhead, "trainings": len(h.evaluations), "per_fidelity": per,
                       "is_c10_best": best.architecture == c10_best,
                       "prior_weights": h.result.get("prior_weights")}  # fmt: skip
            row["percentile"] = pct(row["value"])
            row["wall_s"] = time.perf_counter() - t0
            results["runs"][key] = row
            print(f"{key}: {row['value']:.2f}% (pct {row['percentile']:.0f}), {row['trainings']} trainings, "
                  f"{row['spent_s']:.0f} s spent, {row['wall_s']:.0f} s wall", file=sys.stderr)  # fmt: skip
            results["machine"] = f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} CPUs"
            results_path.write_text(json.dumps(results, indent=1))

    print(
        f"\n5-class task, budget {args.budget_minutes:g} training-minutes, seeds {args.first_seed}-"
        f"{args.first_seed + args.seeds - 1}; ground truth: 30 random cells, best {gt_acc.max():.1f}%"
    )
    print("| method | returned cell's accuracy, mean +- std | percentile among 30 | trainings | spent s | = C10 best |")
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        rows = [r for k, r in results["runs"].items() if k.startswith(method + " seed")]
        if not rows:
            continue
        v = np.array([r["value"] for r in rows])
        p = np.array([r["percentile"] for r in rows])
        same = sum(bool(r.get("is_c10_best", method == "c10-best")) for r in rows)
        print(f"| {method} | {v.mean():.2f} +- {v.std(ddof=1) if len(v) > 1 else 0:.2f} ({', '.join(f'{x:.1f}' for x in v)}) "
              f"| {p.mean():.0f} | {np.mean([r['trainings'] for r in rows]):.1f} | "
              f"{np.mean([r['spent_s'] for r in rows]):.0f} | {same}/{len(rows)} |")  # fmt: skip
    print(f"\nCIFAR-10's best published cell: {c10_best}\n{results.get('machine')}")


if __name__ == "__main__":
    main()
