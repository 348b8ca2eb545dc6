"""Live vs replay for the default user-task search: ``priorband`` (transfer prior, protect 5, replicates) run with
real trainings on a curve task, scored by the table, against its replayed prediction.

Run: ``python benchmarks/check_default_live.py --data-dir ../shared/data --task shapes6 --budget 10 --seeds 3``

The task's images are made as ``archgen bench curves`` makes them (checked against the committed table's
checksum). For each search seed, :func:`archgen.bench.replay.live_default` searches the table's candidates with
real trainings (training seed 0; a replicate with seed 1) within ``--budget`` full trainings of measured seconds;
its returned cell is scored by the table's seed-mean test accuracy. Printed beside: the replay of the same method
at the same budget over 20 search seeds (mean and standard deviation), the prediction the live runs are judged
against ("within the seeds' spread": inside the replay's mean +- 2 std).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--task", default="shapes6")
    ap.add_argument("--tables-dir", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/default-live"))
    ap.add_argument("--budget", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()

    import torch

    from archgen.bench.replay import live_default, load_table, run_method
    from archgen.context import Paths, workspace
    from archgen.curves.build import curve_recipe, make_curve_task

    torch.set_num_threads(1)
    table = load_table(args.tables_dir / f"curves-{args.task}.npz")
    args.out.mkdir(parents=True, exist_ok=True)
    data = workspace(Paths.of(args.data_dir, args.out / "cache", args.out / "home"))
    make_curve_task(data, table.task, curve_recipe(args.task), args.out / "images")
    sha = data.tasks.record(table.task).arrays_sha256
    if sha != table.meta.get("images_sha256"):
        raise SystemExit(
            f"the task's images differ from the table's (sha256 {sha[:12]} vs {table.meta.get('images_sha256', '')[:12]})"
        )
    rep = [run_method("priorband", table, args.budget, s)["test"] for s in range(20)]
    mu, sd = float(np.mean(rep)), float(np.std(rep, ddof=1))
    print(
        f"{table.task}: replay of priorband at {args.budget:g} full trainings, 20 seeds: {mu:.2f} +- {sd:.2f} (sd); "
        f"{platform.node()}, {platform.processor() or platform.machine()}"
    )
    print(
        "| search seed | returned cell's seed-mean test (table) | percentile | spent (full trainings, measured) | "
        "trainings | replicates | within replay mean +- 2 sd | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for s in range(args.seeds):
        t0 = time.perf_counter()
        r = live_default(data, table, args.out / f"runs-{s}", s, args.budget)
        ok = r["test"] is not None and abs(r["test"] - mu) <= 2 * sd
        print(
            f"| {s} | {r['test']:.2f} | {r['pct']:.0f} | {r['spent']:.2f} | {r['evaluations']} | {r['replicates']} | "
            f"{'yes' if ok else 'NO'} | {time.perf_counter() - t0:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
