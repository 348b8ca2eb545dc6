"""How a trained supernet's scoring settings trade throughput against ranking: calibration batches and held-out
images per path.

Run: ``python benchmarks/bench_supernet_scoring.py --home DIR --supernet ID [--seed 100 --threads 1]``

``ID`` is a stored supernet of ``cifar10-valid`` (``archgen supernets train --task cifar10-valid``). The cells are
those of ``archgen bench supernet --seed 100`` (500 random cells and 200 of the top 5%, by the published
cifar10-valid validation accuracy); calibration images from the supernet's training half, held-out images from
the other half. For each setting: Kendall tau on both sets and architectures scored per second (wall time, one
thread by default). Nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.context import Paths, workspace

SETTINGS = [(4, 1000), (2, 1000), (2, 500), (1, 500), (1, 250)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--cache-dir", type=Path, default=Path("~/.cache/archgen"))
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--supernet", required=True)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    ws = workspace(Paths.of(args.data_dir, args.cache_dir, args.home))
    sn, rec = ws.models.load(args.supernet, artifact_type="supernet")
    table = ws.table("nb201")
    truth = np.asarray(table.column(*table.default_target("cifar10")), dtype=float)
    rng = np.random.default_rng(args.seed)  # the cells of `archgen bench supernet --seed`
    finite = np.flatnonzero(np.isfinite(truth))
    rand_idx = np.sort(rng.choice(finite, 500, replace=False))
    top_pool = finite[truth[finite] >= np.quantile(truth[finite], 0.95)]
    top_idx = np.sort(rng.choice(top_pool, 200, replace=False))
    sp = table.search_space
    rand, top = [sp.from_index(int(i)) for i in rand_idx], [sp.from_index(int(i)) for i in top_idx]
    train, held = ws.cifar10("train").split(0.5, seed=0)
    rows = []
    print(f"supernet {rec.id} ({rec.heldout.get('steps')} steps); {args.threads} thread(s)")
    print(f"{'calib batches x 128':>20} {'held-out images':>16} {'tau random':>11} {'tau top 5%':>11} {'archs/s':>9}")
    for calib, n_eval in SETTINGS:
        sn.calib_batches, sn.eval_images = calib, n_eval
        xc, xh, yh = sn.scoring_tensors(train, held)
        t0 = time.perf_counter()
        er = sn.estimate_prepared(rand, xc, xh, yh)
        rate = len(rand) / (time.perf_counter() - t0)
        et = sn.estimate_prepared(top, xc, xh, yh)
        row = {"calib_batches": calib, "eval_images": n_eval, "tau_random": float(kendalltau(er, truth[rand_idx]).statistic),
               "tau_top5": float(kendalltau(et, truth[top_idx]).statistic), "archs_per_s": rate}  # fmt: skip
        rows.append(row)
        print(f"{calib:>20} {n_eval:>16} {row['tau_random']:>11.3f} {row['tau_top5']:>11.3f} {rate:>9.1f}", flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps({"supernet": rec.summary(), "rows": rows, "threads": args.threads}, indent=1))


if __name__ == "__main__":
    main()
