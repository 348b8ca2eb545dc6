"""Replay vs live: a live successive-halving search with real trainings and its replay against the learning-curve
table make the same choices.

Run: ``python benchmarks/check_replay_live.py --data-dir ../shared/data --out bench-out/replay-live --seeds 5``

The tiny task (``archgen bench curves --task tiny``: two classes of a dozen 8x8 rendered shapes, three epochs of a
4-channel cell) gets its table (10 candidates, seeds 0-2); then for each search seed, successive halving (eta 3)
over the candidates at epochs 1 and 3 runs twice: live (the training evaluator, training seed 0, each fidelity an
epoch of one run, so a promotion continues its checkpoint) and replayed against the table with training seed 0
(:func:`archgen.bench.replay.live_and_replay`). Printed per seed: whether every batch's fidelity and cells agree,
how many evaluations, the largest difference between the values the two saw, and each run's seconds (the live
one measured, the replay's simulated from the table).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/replay-live"))
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()

    import torch

    from archgen.bench.replay import live_and_replay
    from archgen.context import Paths, workspace
    from archgen.curves.build import build_curve_task

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data = workspace(Paths.of(args.data_dir, args.out / "cache", args.out / "home"))
    t0 = time.perf_counter()
    table = build_curve_task(
        data, "tiny", args.out / "tiny.npz", args.out, cells=8, c10_top=2, top=2, seeds=3, workers=2
    )
    print(f"table: {table.progress()} in {time.perf_counter() - t0:.0f} s; {platform.node()}, "
          f"{platform.processor() or platform.machine()}")  # fmt: skip
    print("| search seed | same choices | evaluations | max value difference | live s (measured) | replay s (table) |")
    print("|---|---|---|---|---|---|")
    for s in range(args.seeds):
        r = live_and_replay(data, table, args.out / f"runs-{s}", seed=s)
        print(f"| {s} | {'yes' if r['same'] else 'NO'} | {r['compared']} | {r['max_value_diff']:.2g} | "
              f"{r['live_seconds']:.1f} | {r['replay_seconds']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
