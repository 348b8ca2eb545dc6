"""Unguided generation quality of the diffusion generator on NB201 (issue 13's first benchmark).

For each draw: the generator is trained on a random half of the 15,625 NB201
cells (no labels), then draws ``--samples`` architectures. Reported, mean ±
std over draws: validity (share of raw samples that decode to a cell: each
operation node has exactly one entry above 0.5), uniqueness (distinct cells
among the valid ones), novelty (valid samples outside the training half; also
by canonical form), the total-variation distance between the samples'
per-edge operation frequencies and the space's (uniform on NB201), fit time
and time to draw the samples. Uniform random sampling is printed beside it as
a reference row (its uniqueness at 1,000 draws of 15,625 cells is about 96.9%
by collisions alone; its novelty is 50% by construction).

With ``--guided``, each draw also labels ``--labelled`` random cells of the
training half with the CIFAR-10 target (cifar10-valid 200-epoch validation
accuracy, the predictors' target), trains the noise-aware surrogate on them,
and draws 100 samples at each ``--scales`` value (gradient guidance alone, no
reranking). For each: the samples' true accuracy (mean, best), the share of
distinct samples in the true top-1% and top-5% of the space, and how many of
those top-1% cells are from the held-out half. Beside them: (a) 100 uniform
samples, and (c) the 100 cells the same surrogate (read at the smallest noise
level) ranks highest among all 15,625, the ceiling. (b), "k random cells
ranked by the same surrogate at equal surrogate calls", is (c) here: one
guided sample costs 2 x steps gradient calls, more than the space has cells.

Usage::

    python benchmarks/bench_generator.py --draws 3 --samples 1000 [--epochs 200 --steps 200] [--out DIR]
    python benchmarks/bench_generator.py --draws 3 --guided --labelled 156 --scales 0 1 5 20
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


def _quality(space, samples, train: set, raw: int, valid: int) -> dict:
    canon_train = {space.canonical(a) for a in train}
    ops = np.array([a.ops for a in samples])
    freq = np.stack([(ops == k).mean(axis=0) for k in range(5)], axis=1)  # [edge, op]
    tv = 0.5 * np.abs(freq - 0.2).sum(axis=1).mean()
    return {
        "validity": valid / raw,
        "uniqueness": len(set(samples)) / len(samples),
        "novelty": float(np.mean([a not in train for a in samples])),
        "novelty_canonical": float(np.mean([space.canonical(a) not in canon_train for a in samples])),
        "op_tv_distance": float(tv),
    }


def _guided(space, gen, half, train: set, seed: int, args) -> list[dict]:
    """Guided sampling toward CIFAR-10 accuracy, with the baselines (see the module docstring)."""
    from archgen.context import workspace
    from archgen.generators import Guidance
    from archgen.predictors.training import table_archs
    from archgen.settings import Settings

    archs, y = table_archs(workspace(Settings.from_env().paths).table("nb201"), "cifar10-valid", "val_acc")
    acc = dict(zip(archs, y, strict=True))
    top1, top5 = np.quantile(y, 0.99), np.quantile(y, 0.95)
    rng = np.random.default_rng(seed + 1)
    labelled = [half[i] for i in rng.choice(len(half), args.labelled, replace=False)]
    t0 = time.perf_counter()
    gen.fit_guidance(labelled, np.array([acc[a] for a in labelled]), seed=seed)
    guide_s = time.perf_counter() - t0

    def measure(name: str, cells: list, extra: dict) -> dict:
        v = np.array([acc[a] for a in cells])
        distinct = list(dict.fromkeys(cells))
        d = np.array([acc[a] for a in distinct])
        return {
            "method": name, "seed": seed, "mean_acc": float(v.mean()), "best_acc": float(v.max()),
            "distinct": len(distinct), "top1_share": float(np.mean(d >= top1)), "top5_share": float(np.mean(d >= top5)),
            "top1_heldout": int(sum(acc[a] >= top1 and a not in train for a in distinct)), "guide_fit_s": guide_s,
        } | extra

    out = [measure("uniform", space.sample(100, np.random.default_rng(seed + 2)), {"scale": None})]
    for scale in args.scales:
        t0 = time.perf_counter()
        cells = gen.sample(100, rng=np.random.default_rng(seed + 3), guidance=Guidance(scale=scale))
        out.append(measure("diffusion-guided", cells, {"scale": scale, "sample_s": time.perf_counter() - t0}))
    # (c): the same surrogate at the smallest noise level, over every cell
    pred = gen.guidance_mean(archs)
    best = [archs[i] for i in np.argsort(-pred)[:100]]
    out.append(measure("rank-all-by-surrogate", best, {"scale": None}))
    for r in out:
        print(json.dumps(r), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--method", default="pc")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--guided", action="store_true")
    ap.add_argument("--labelled", type=int, default=156)
    ap.add_argument("--scales", nargs="+", type=float, default=[0.0, 1.0, 5.0, 20.0])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from archgen.context import workspace
    from archgen.generators import get_generator
    from archgen.settings import Settings

    space = workspace(Settings.from_env().paths).space("nb201")
    rows = []
    for d in range(args.draws):
        seed = args.first_seed + d
        rng = np.random.default_rng(seed)
        half = [space.from_index(int(i)) for i in rng.permutation(15625)[:7812]]
        train = set(half)
        t0 = time.perf_counter()
        gen = get_generator("diffusion", epochs=args.epochs, steps=args.steps, method=args.method, seed=seed).fit(half)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw, _ = gen.generate(args.samples, torch.Generator().manual_seed(seed))
        sample_s = time.perf_counter() - t0
        ok = [a for a in raw if a is not None]
        row = {"method": "diffusion", "seed": seed, "fit_s": fit_s, "sample_s": sample_s}
        row |= _quality(space, ok, train, len(raw), len(ok))
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.guided:
            rows += _guided(space, gen, half, train, seed, args)
        uni = space.sample(args.samples, np.random.default_rng(seed + 10_000))
        rows.append({"method": "uniform", "seed": seed, "fit_s": 0.0, "sample_s": 0.0} | _quality(space, uni, train, len(uni), len(uni)))
    keys = ["validity", "uniqueness", "novelty", "novelty_canonical", "op_tv_distance", "fit_s", "sample_s"]
    print(f"nb201, {args.samples} samples, {args.draws} draws, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
          f"{os.cpu_count()} cores, torch threads {args.threads}, epochs {args.epochs}, steps {args.steps} ({args.method})")
    print(f"{'method':<10}" + "".join(f"{k:>20}" for k in keys))
    for m in ("diffusion", "uniform"):
        sel = [r for r in rows if r["method"] == m and "validity" in r]
        cells = [f"{np.mean([r[k] for r in sel]):.4f} ± {np.std([r[k] for r in sel]):.4f}" for k in keys]
        print(f"{m:<10}" + "".join(f"{c:>20}" for c in cells))
    if args.guided:
        gkeys = ["mean_acc", "best_acc", "distinct", "top1_share", "top5_share", "top1_heldout"]
        print(f"\nguided toward cifar10-valid val_acc ({args.labelled} labelled cells of the training half)")
        print(f"{'method':<34}" + "".join(f"{k:>18}" for k in gkeys))
        kinds = sorted({(r["method"], r["scale"]) for r in rows if "mean_acc" in r}, key=str)
        for m, sc in kinds:
            sel = [r for r in rows if r.get("method") == m and r.get("scale") == sc and "mean_acc" in r]
            cells = [f"{np.mean([r[k] for r in sel]):.3f} ± {np.std([r[k] for r in sel]):.3f}" for k in gkeys]
            print(f"{m + ('' if sc is None else f' scale {sc:g}'):<34}" + "".join(f"{c:>18}" for c in cells))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "runs.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
