"""The predictor table under both protocols, in parallel: one process per (predictor, features, size, draw).

Usage::

    python benchmarks/bench_predictor_grid.py --out bench-out/grid [--workers 16] [--first-seed 100] \\
        [--predictors lgbm gnn stack] [--features encoding table] [--sizes 78 156 469 781 1563] \\
        [--draws 10 10 5 5 5] [--skip stack:781 stack:1563]

Each run fits once and is scored under both protocols (``heldout`` and
``anchors``; see :mod:`archgen.bench.predictors`), with the strict test set
and the top-5% calibration. Runs are appended to ``OUT/runs.jsonl`` as they
finish (an interrupted grid keeps what it measured, and a rerun skips what is
there); the summary table is printed and written with the plot (anchors drawn
in). Draws start at ``--first-seed`` (100 by default: the draws used while
developing the predictors were 0-9, so the reported ones are fresh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archgen.bench.predictors import RunResult


def _run(job: tuple[str, str, int, int], threads: int = 1) -> list[dict]:
    import torch

    torch.set_num_threads(threads)  # one core per run by default: the grid runs many at once
    from archgen.bench.predictors import benchmark_predictors
    from archgen.context import workspace
    from archgen.settings import Settings

    name, features, n, seed = job
    ws = workspace(Settings.from_env().paths)
    res = benchmark_predictors(
        ws,
        "nb201",
        "cifar10",
        [name],
        [n],
        seeds=1,
        first_seed=seed,
        features=features,
        protocols=("heldout", "anchors"),
    )
    return [asdict(r) for r in res]


def _result(row: dict) -> RunResult:
    """A run from ``runs.jsonl`` (rows written before a field existed get NaN for it)."""
    from archgen.bench.predictors import RunResult

    row.setdefault("over_max_top5", float("nan"))
    return RunResult(**row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--predictors", nargs="+", default=["lgbm", "gnn", "stack"])
    ap.add_argument("--features", nargs="+", default=["encoding", "table"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[78, 156, 469, 781, 1563])
    ap.add_argument("--draws", nargs="+", type=int, default=[10, 10, 5, 5, 5])
    ap.add_argument("--skip", nargs="*", default=[], help="predictor:size pairs to leave out")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument(
        "--merge-into", type=Path, default=None,
        help="a summary CSV (e.g. benchmarks/results/...summary.csv): this grid's rows replace its rows of the same "
        "predictor, features, protocol and size, the others are kept; the figure is redrawn from the merged rows",
    )  # fmt: skip
    ap.add_argument("--figure", type=Path, default=None, help="where --merge-into draws the merged figure")
    args = ap.parse_args()
    if len(args.draws) != len(args.sizes):
        raise SystemExit("--draws needs one count per size")
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "runs.jsonl"
    done = set()
    if log.exists():
        for line in log.read_text().splitlines():
            r = json.loads(line)
            done.add((r["predictor"], r["features"], r["n_train"], r["seed"]))
    cost = {"lgbm": 1, "gnn": 10, "stack": 45}
    jobs = [
        (p, f, n, args.first_seed + k)
        for p in args.predictors
        for f in args.features
        for n, d in zip(args.sizes, args.draws, strict=True)
        if f"{p}:{n}" not in args.skip
        for k in range(d)
        if (p, f, n, args.first_seed + k) not in done
    ]
    jobs.sort(key=lambda j: -cost.get(j[0], 10) * j[2])  # longest first
    t0 = time.time()
    print(f"{len(jobs)} runs on {args.workers} workers ({len(done)} already in {log})", flush=True)
    with ProcessPoolExecutor(args.workers) as pool, log.open("a") as f:
        futures = {pool.submit(_run, j, args.threads): j for j in jobs}
        for fut in as_completed(futures):
            for r in fut.result():
                f.write(json.dumps(r) + "\n")
            f.flush()
            j = futures[fut]
            print(f"[{time.time() - t0:6.0f}s] done {j}", flush=True)
    from archgen.bench.predictors import format_table, summarize, write_outputs

    results = [_result(json.loads(line)) for line in log.read_text().splitlines()]
    write_outputs(results, args.out, "nb201 cifar10 (trained on cifar10-valid val_acc)", anchors=True)
    print(
        f"nb201 cifar10, {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {time.time() - t0:.0f} s"
    )
    print(format_table(summarize(results)))
    if args.merge_into is not None:
        _merge(summarize(results), args.merge_into, args.figure)


def _merge(rows: list[dict], csv: Path, figure: Path | None) -> None:
    """Replace ``csv``'s rows of the same (predictor, features, protocol, n_train) by ``rows``; redraw ``figure``."""
    import pandas as pd

    from archgen.bench.predictors import plot_summary

    key = lambda r: (r["predictor"], r["features"], r["protocol"], int(r["n_train"]))
    new = {key(r): r for r in rows}
    old = pd.read_csv(csv).to_dict("records") if csv.exists() else []
    merged = [r for r in old if key(r) not in new] + list(new.values())
    merged.sort(key=key)
    pd.DataFrame(merged).to_csv(csv, index=False)
    if figure is not None:
        plot_summary(merged, figure, "nb201 cifar10 (trained on cifar10-valid val_acc)", anchors=True)
    print(f"merged {len(new)} rows into {csv} ({len(merged)} rows){'' if figure is None else f'; figure {figure}'}")


if __name__ == "__main__":
    main()
