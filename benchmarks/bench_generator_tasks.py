"""The diffusion generator on tasks: constraints, transfer across tasks, wall time (issue 13's later benchmark rows).

All three parts use the pipeline behind ``archgen generate`` / ``POST /v1/generate``
with the space's generator trained once on every NB201 cell (no labels; kept
in ``--store``, trained there on first use with ``--epochs``).

* ``constraints``: 100 architectures guided toward CIFAR-10 accuracy (surrogate on
  156 labelled cells, the predictors' target) under one budget at a time:
  parameters <= the space's 30th percentile, latency on pixel3 (HW-NAS-Bench)
  and on an Intel Xeon Gold 6226 (HELP) <= their 30th percentiles. For the
  constraint's gradient at scale 0 (rejection only) and at ``--constraint-scale``:
  the share of valid raw samples meeting the budget before rejection, the share
  of returned architectures meeting it (by the published value), raw draws, mean
  measured accuracy, uniqueness.
* ``transfer``: for CIFAR-10 (sources CIFAR-100, ImageNet16-120) and CIFAR-100
  (sources CIFAR-10, ImageNet16-120), guidance and ranking by the sources' labels
  only; the 100 returned architectures are "evaluated" (a table lookup of the
  target's test accuracy, DiffusionNAG's Table 1 target) in ranking order until
  the task's optimum (its best test accuracy; any cell tied with it) is found.
  Reported: median evaluations, share of seeds reaching it within the 100,
  best accuracy among the first 10. Beside it: the rank of the optimum among
  all 15,625 cells by the sources' mean standardised accuracy itself (the best
  any ranking by those labels can do).
* ``nb101``: see :func:`nb101`.
* ``timing``: wall time for 1,000 guided samples (surrogate fitted beforehand),
  for DiffusionNAG's sampler (predictor-corrector, 200 steps) and Euler with 20
  and 50 steps, with validity and mean accuracy.

Usage::

    python benchmarks/bench_generator_tasks.py constraints --seeds 3 --first-seed 100 --store DIR --out DIR
    python benchmarks/bench_generator_tasks.py transfer --seeds 20 --first-seed 100 --store DIR --out DIR
    python benchmarks/bench_generator_tasks.py timing --threads 1 --store DIR
    python benchmarks/bench_generator_tasks.py nb101 --seeds 3 --store DIR --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

CONSTRAINTS = {
    "params": {"max_params": ("cifar10", "params")},
    "latency pixel3 (HW-NAS-Bench)": {"max_latency_ms": ("cifar10", "hw_pixel3_latency"), "device": "pixel3"},
    "latency gold_6226 (HELP)": {"max_latency_ms": ("cifar10", "latency_gold_6226"), "device": "gold_6226"},
}
TRANSFER = {"cifar10": ("cifar100", "ImageNet16-120"), "cifar100": ("cifar10", "ImageNet16-120")}


def _setup(args, space: str = "nb201"):
    from archgen.artifacts import ArtifactStore
    from archgen.context import workspace
    from archgen.generators.pipeline import space_generator
    from archgen.settings import Settings

    ws = workspace(Settings.from_env().paths)
    store = ArtifactStore(args.store)
    t0 = time.perf_counter()
    space_generator(ws, store, space, epochs=args.epochs, steps=200, seed=0)
    print(f"generator ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return ws, store


def constraints(args) -> list[dict]:
    from archgen.generators.pipeline import GenerateParams, generate

    ws, store = _setup(args)
    table = ws.table("nb201")
    rows = []
    for name, spec in CONSTRAINTS.items():
        kw: dict = {}
        for k, v in spec.items():
            if k.startswith("max_"):
                kw[k] = float(np.nanpercentile(np.asarray(table.column(*v), dtype=float), 30))
            else:
                kw[k] = v
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for cs in (0.0, args.constraint_scale):
                t0 = time.perf_counter()
                r = generate(GenerateParams(n=100, seed=seed, constraint_scale=cs, **kw), ws, store)
                col = next(iter(r.constraints))
                budget = r.constraints[col]["max"]
                vals = np.array([g.values[col] for g in r.items], dtype=float)
                acc = np.array([g.measured for g in r.items], dtype=float)
                row = {
                    "constraint": name,
                    "budget": budget,
                    "seed": seed,
                    "constraint_scale": cs,
                    "met_before_rejection": r.met_before_rejection,
                    "met_returned": float(np.mean(vals <= budget)),
                    "drawn": r.drawn,
                    "validity": r.validity,
                    "mean_acc": float(acc.mean()),
                    "uniqueness": r.uniqueness,
                    "wall_s": time.perf_counter() - t0,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    keys = ["met_before_rejection", "met_returned", "drawn", "mean_acc", "uniqueness"]
    print(f"\n{'constraint':<32}{'budget':>9}{'scale':>7}" + "".join(f"{k:>22}" for k in keys))
    for name in CONSTRAINTS:
        for cs in (0.0, args.constraint_scale):
            sel = [r for r in rows if r["constraint"] == name and r["constraint_scale"] == cs]
            cells = [f"{np.mean([r[k] for r in sel]):.3f} ± {np.std([r[k] for r in sel]):.3f}" for k in keys]
            print(f"{name:<32}{sel[0]['budget']:>9.3f}{cs:>7g}" + "".join(f"{c:>22}" for c in cells))
    return rows


def transfer(args) -> list[dict]:
    from archgen.generators.pipeline import GenerateParams, generate

    ws, store = _setup(args)
    table = ws.table("nb201")
    sp = table.search_space
    rows = []
    for task, sources in TRANSFER.items():
        acc = np.asarray(table.column(task, "test_acc"), dtype=float)
        best = set(np.flatnonzero(acc >= np.nanmax(acc) - 1e-9).tolist())
        z = [np.asarray(table.column(s, "test_acc"), dtype=float) for s in sources]
        mean = np.mean([(v - np.nanmean(v)) / np.nanstd(v) for v in z], axis=0)
        oracle = int(min((mean > mean[i]).sum() for i in best)) + 1
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.perf_counter()
            r = generate(GenerateParams(task=task, n=100, seed=seed, transfer_from=sources), ws, store)
            idx = sp.indices([sp.parse(g.architecture) for g in r.items])
            hits = [k + 1 for k, i in enumerate(idx) if int(i) in best]
            row = {
                "task": task,
                "sources": list(sources),
                "seed": seed,
                "evals_to_optimum": hits[0] if hits else None,
                "best_of_first_10": float(acc[idx[:10]].max()),
                "mean_acc": float(acc[idx].mean()),
                "optimum": float(np.nanmax(acc)),
                "source_mean_rank_of_optimum": oracle,
                "wall_s": time.perf_counter() - t0,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(
        f"\n{'task':<10}{'median evals':>14}{'reached':>9}{'best of first 10':>18}{'mean acc':>10}{'source-mean rank':>18}"
    )
    for task in TRANSFER:
        sel = [r for r in rows if r["task"] == task]
        ev = [r["evals_to_optimum"] if r["evals_to_optimum"] is not None else np.inf for r in sel]
        med = float(np.median(ev))
        print(
            f"{task:<10}{('>100' if np.isinf(med) else f'{med:g}'):>14}{np.mean(np.isfinite(ev)):>9.2f}"
            f"{np.mean([r['best_of_first_10'] for r in sel]):>18.2f}{np.mean([r['mean_acc'] for r in sel]):>10.2f}"
            f"{sel[0]['source_mean_rank_of_optimum']:>18}"
        )
    return rows


def timing(args) -> list[dict]:
    from archgen.generators import Guidance
    from archgen.generators.pipeline import space_generator
    from archgen.predictors.training import default_target, table_archs

    ws, store = _setup(args)
    gen, _ = space_generator(ws, store, "nb201", epochs=args.epochs, steps=200, seed=0)
    table = ws.table("nb201")
    archs, y = table_archs(table, *default_target(table, "cifar10"))
    acc = dict(zip(archs, y, strict=True))
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        pick = np.random.default_rng(seed).choice(len(archs), 156, replace=False)
        gen.fit_guidance([archs[i] for i in pick], y[pick], seed=seed)
        for method, steps in (("pc", 200), ("euler", 50), ("euler", 20)):
            gen.method, gen.steps = method, steps
            t0 = time.perf_counter()
            out = gen.sample(1000, rng=np.random.default_rng(seed), guidance=Guidance(scale=20.0))
            dt = time.perf_counter() - t0
            row = {
                "seed": seed,
                "method": method,
                "steps": steps,
                "threads": args.threads,
                "seconds_1000": dt,
                "validity": gen.last_stats_["valid"] / gen.last_stats_["drawn"],
                "mean_acc": float(np.mean([acc[a] for a in out])),
                "uniqueness": len(set(out)) / len(out),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'sampler':<12}{'seconds / 1,000':>18}{'validity':>10}{'mean acc':>10}{'uniqueness':>12}")
    for method, steps in (("pc", 200), ("euler", 50), ("euler", 20)):
        sel = [r for r in rows if r["method"] == method and r["steps"] == steps]
        f = lambda k, sel=sel: f"{np.mean([r[k] for r in sel]):.2f} ± {np.std([r[k] for r in sel]):.2f}"
        print(
            f"{method + ' ' + str(steps):<12}{f('seconds_1000'):>18}{f('validity'):>10}{f('mean_acc'):>10}{f('uniqueness'):>12}"
        )
    return rows


def _invalid_reasons(gen, sp, states) -> dict[str, int]:
    """Why invalid samples are invalid: a node row without exactly one type, or what the space refused."""
    out: dict[str, int] = {}
    for z in states:
        why = gen.read_sample(sp, z)
        why = why[:60] if isinstance(why, str) else "other"
        out[why] = out.get(why, 0) + 1
    return out


def nb101(args) -> list[dict]:
    """NB101: adjacency and operations diffused; quality of 1,000 samples, and guidance toward predicted accuracy.

    The generator learns from ``SAMPLED_CELLS`` cells of the space's own sampler
    (the table holds 500 of NB101's 423k cells; no labels). Novelty counts
    samples outside that training set. NB101's true accuracy exists for 500
    cells only, so accuracy is *predicted*: a LightGBM on the encoding fitted on
    400 labelled table cells (its Kendall tau on the other 100 is printed) judges
    unguided, guided (surrogate on 156 of the same 400 cells) and uniform samples.
    """
    from scipy.stats import kendalltau

    from archgen.generators import Guidance
    from archgen.generators.pipeline import SAMPLED_CELLS, space_generator, training_cells
    from archgen.predictors.base import get_predictor
    from archgen.predictors.training import default_target, predictor_kwargs, table_archs

    ws, store = _setup(args, space="nb101")
    gen, _ = space_generator(ws, store, "nb101", epochs=args.epochs, steps=200, seed=0)
    seen = set(training_cells(ws, "nb101", 0))
    table = ws.table("nb101")
    sp = table.search_space
    archs, y = table_archs(table, *default_target(table, "cifar10"))
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(archs))
        tr, te = perm[:400], perm[400:]
        judge = get_predictor("lgbm", data=ws, **predictor_kwargs("lgbm", "cifar10", seed, zc="none"))
        judge.fit([archs[i] for i in tr], y[tr])
        tau = float(kendalltau(judge.predict([archs[i] for i in te]), y[te])[0])
        t0 = time.perf_counter()
        raw, states = gen.generate(1000, torch.Generator().manual_seed(seed))
        sample_s = time.perf_counter() - t0
        ok = [a for a in raw if a is not None]
        reasons = _invalid_reasons(gen, sp, [z for a, z in zip(raw, states, strict=True) if a is None])
        lab = tr[:156]
        gen.fit_guidance([archs[i] for i in lab], y[lab], seed=seed)
        guided = gen.sample(100, rng=np.random.default_rng(seed), guidance=Guidance(scale=20.0))
        uniform = sp.sample(100, np.random.default_rng(seed))
        row = {
            "seed": seed,
            "samples": len(raw),
            "validity": len(ok) / len(raw),
            "uniqueness": len(set(ok)) / max(1, len(ok)),
            "novelty": float(np.mean([a not in seen for a in ok])),
            "sample_s_1000": sample_s,
            "judge_tau": tau,
            "pred_unguided": float(judge.predict(ok[:100]).mean()),
            "pred_guided": float(judge.predict(guided).mean()),
            "pred_uniform": float(judge.predict(uniform).mean()),
            "pred_best_table": float(np.sort(judge.predict(archs))[-100:].mean()),
            "trained_on": SAMPLED_CELLS, "invalid_reasons": reasons,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = [
        "validity",
        "uniqueness",
        "novelty",
        "judge_tau",
        "pred_uniform",
        "pred_unguided",
        "pred_guided",
        "pred_best_table",
    ]
    print("\n" + "".join(f"{k:>17}" for k in keys))
    cells = [f"{np.mean([r[k] for r in rows]):.3f} ± {np.std([r[k] for r in rows]):.3f}" for k in keys]
    print("".join(f"{c:>17}" for c in cells))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["constraints", "transfer", "timing", "nb101"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--constraint-scale", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument(
        "--store", type=Path, required=True, help="Model store for the space's generator (trained there once)."
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    rows = {"constraints": constraints, "transfer": transfer, "timing": timing, "nb101": nb101}[args.part](args)
    print(
        f"nb201 generator {args.part}, seeds {args.first_seed}-{args.first_seed + args.seeds - 1}, "
        f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, torch threads {args.threads}, "
        f"{time.time() - t0:.0f} s"
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.part}_runs.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
