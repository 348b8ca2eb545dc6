"""The supernet predictor and the stack with the supernet as a member, against the predictors without it.

Run: ``python benchmarks/bench_supernet_predictor.py --home DIR --supernet ID [--draws 5 --seed 100]``

``ID`` is a stored supernet of ``cifar10-valid`` (``archgen supernets train --task cifar10-valid``: trained on a
stratified half of CIFAR-10's training images, scored on the other half; no table label). For each draw (seeds
``--seed`` ...): ``n`` training cells (``--train``), ``--heldout`` other random cells and ``--top`` other cells of
the true top 5%; the target is NB201's published cifar10-valid validation accuracy (200 epochs). Predictors:
``supernet`` (Bayesian ridge on the supernet's estimate and the encoding), ``zc_learned`` (the same ridge on the 13
published zero-cost scores and the encoding), ``lgbm``, and stacks of ``lgbm`` with either. Prints Kendall tau on
the held-out cells, mean absolute error on the top cells and 1-sigma coverage, mean +- std over the draws, and
the supernet's own label-free tau on the same cells.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.context import Paths, workspace
from archgen.predictors import get_predictor
from archgen.predictors.metrics import coverage
from archgen.services.predictors import table_archs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--cache-dir", type=Path, default=Path("~/.cache/archgen"))
    ap.add_argument("--home", type=Path, required=True, help="archgen home holding the supernet's store")
    ap.add_argument("--supernet", required=True)
    ap.add_argument("--train", type=int, nargs="+", default=[40, 100])
    ap.add_argument("--heldout", type=int, default=300)
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--seed", type=int, default=100, help="First draw's seed (development used 0-2).")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    ws = workspace(Paths.of(args.data_dir, args.cache_dir, args.home))
    archs, y = table_archs(ws.table("nb201"), "cifar10-valid", "val_acc")
    cut = np.quantile(y, 0.95)
    kinds = {
        "supernet": {"supernet": args.supernet},
        "zc_learned": {"source": "table"},
        "lgbm": {},
        "stack lgbm+supernet": {"members": ["lgbm", "supernet"], "supernet": args.supernet},
        "stack lgbm+zc_learned": {"members": ["lgbm", "zc_learned"]},
    }
    rows: dict[tuple[str, int], list[dict]] = {}
    label_free: list[float] = []
    t_start = time.perf_counter()
    for d in range(args.draws):
        seed = args.seed + d
        perm = np.random.default_rng(seed).permutation(len(archs))
        n_max = max(args.train)
        pool = perm[n_max:]
        held = pool[: args.heldout]
        top = [i for i in pool[args.heldout :] if y[i] >= cut][: args.top]
        A = lambda idx: [archs[i] for i in idx]
        sn = get_predictor("supernet", data=ws, task="cifar10-valid", supernet=args.supernet)
        label_free.append(float(kendalltau(sn.estimates(A(held)), y[held]).statistic))
        for n in args.train:
            tr = perm[:n]
            for name, extra in kinds.items():
                kind = "stack" if name.startswith("stack") else name
                p = get_predictor(kind, data=ws, task="cifar10-valid", random_state=seed, **extra)
                t = time.perf_counter()
                p.fit(A(tr), y[tr])
                fit_s = time.perf_counter() - t
                m, s = p.predict_with_uncertainty(A(held))
                mt, _ = p.predict_with_uncertainty(A(top))
                rows.setdefault((name, n), []).append({
                    "tau": float(kendalltau(m, y[held]).statistic),
                    "top_mae": float(np.mean(np.abs(mt - y[top]))),
                    "coverage": float(coverage(y[held], m, s)),
                    "fit_s": fit_s,
                })  # fmt: skip
        print(f"draw {d + 1}/{args.draws} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    print(f"\nNB201 cifar10-valid val_acc; {args.draws} draws (seeds {args.seed}-{args.seed + args.draws - 1}); "
          f"{args.heldout} held-out and {args.top} top-5% cells per draw; supernet {args.supernet}")  # fmt: skip
    print(f"supernet estimate alone (label-free): tau {np.mean(label_free):.3f} +- {np.std(label_free):.3f}")
    print(f"{'predictor':<24} {'n':>4} {'tau':>15} {'top-5% MAE':>15} {'1-sigma cov':>15} {'fit s':>7}")
    out = {}
    for (name, n), rs in rows.items():
        agg = {k: (float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))) for k in rs[0]}
        out[f"{name}@{n}"] = agg
        print(f"{name:<24} {n:>4} {agg['tau'][0]:>8.3f} +- {agg['tau'][1]:.3f} {agg['top_mae'][0]:>8.2f} +- "
              f"{agg['top_mae'][1]:.2f} {agg['coverage'][0]:>8.2f} +- {agg['coverage'][1]:.2f} {agg['fit_s'][0]:>7.1f}")  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "label_free": label_free,
                                        "rows": out, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
