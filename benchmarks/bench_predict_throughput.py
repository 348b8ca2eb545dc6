"""Prediction throughput: architectures per second for each predictor on all 15,625 NB201 cells.

Usage::

    python benchmarks/bench_predict_throughput.py [--predictors lgbm gnn stack gp] [--n-train 469] [--repeats 3]

Fits each predictor once on ``--n-train`` cells (seed 0), then times
``predict_with_uncertainty`` on every cell of the space, first call (cold:
encodings computed) and the best of ``--repeats`` warm calls, and prints a table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.context import workspace
from archgen.predictors import get_predictor
from archgen.services.predictors import predictor_kwargs, table_archs
from archgen.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictors", nargs="+", default=["lgbm", "gnn", "stack", "gp"])
    ap.add_argument("--n-train", type=int, default=469)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ws = workspace(Settings.from_env().paths)
    archs, y = table_archs(ws.table("nb201"), "cifar10-valid", "val_acc")
    idx = np.random.default_rng(0).permutation(len(archs))[: args.n_train]
    print(f"{'predictor':>10} {'fit s':>8} {'cold arch/s':>12} {'warm arch/s':>12}")
    for name in args.predictors:
        pred = get_predictor(name, data=ws, **predictor_kwargs(name, "cifar10", 0, "table"))
        t0 = time.perf_counter()
        pred.fit([archs[i] for i in idx], y[idx])
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred.predict_with_uncertainty(archs)
        cold = len(archs) / (time.perf_counter() - t0)
        best = np.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            pred.predict_with_uncertainty(archs)
            best = min(best, time.perf_counter() - t0)
        print(f"{name:>10} {fit_s:>8.1f} {cold:>12.0f} {len(archs) / best:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
