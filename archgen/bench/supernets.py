"""``archgen bench supernet``: how well a CPU-trained supernet ranks NB201 cells, against training time.

Protocol: the supernet trains on a fixed stratified half of CIFAR-10's training
images and scores paths on the other half (NB201's ``cifar10-valid`` split is
of the same kind: 25k train, 25k validation, but not the same images). Truth:
the published ``cifar10-valid`` validation accuracy after 200 epochs. Cells: a
seeded sample of ``cells`` random cells of the 15,625, and ``top_cells`` of the
cells in the top 5% by truth. Along one training run (the schedule of
``epochs``, fitted to the time budget by a probe of the step time), the
supernet is scored at ``points`` evenly spaced times: Kendall tau on both sets,
and evaluation throughput. Beside it, on the same cells and without any label:
the parameter count, each published NAS-Bench-Suite-Zero proxy (synflow, jacov,
nwot: scores archgen did not compute), their vote (mean percentile of the three
and params, :func:`archgen.search.priors.build_prior`), and the label-free
combination: the mean of the supernet's percentile and the vote's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy.stats import kendalltau, rankdata

from archgen.plotting import pyplot
from archgen.search.priors import build_prior
from archgen.supernets.oneshot import OneShotSupernet
from archgen.training.checkpoint import read_meta

if TYPE_CHECKING:
    from archgen.context import Workspace


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    return float(kendalltau(a, b).statistic)


def _pct(v: np.ndarray) -> np.ndarray:
    return (rankdata(v) - 0.5) / len(v)


def probe_steps_per_second(params: dict[str, Any], n_images: int = 2048, steps: int = 15, clock: str = "cpu") -> float:
    """Training steps per second (``clock``: CPU or wall seconds) of a supernet with ``params`` on this machine
    (random images; the first 3 steps are not timed)."""
    sn = OneShotSupernet(**params)
    sn._build(10)
    x = torch.randn(n_images, 3, sn.resolution, sn.resolution)
    y = torch.randint(0, 10, (n_images,))
    now = time.process_time if clock == "cpu" else time.perf_counter
    t0 = 0.0
    for s in range(steps + 3):
        if s == 3:
            t0 = now()
        idx = torch.from_numpy(sn._rng.choice(n_images, sn.batch_size, replace=False))
        sn._step(x[idx], y[idx])
    return steps / (now() - t0)


def benchmark_supernet(
    ws: Workspace,
    *,
    minutes: float,
    params: dict[str, Any],
    cells: int = 500,
    top_cells: int = 200,
    points: int = 5,
    seed: int = 100,
    workdir: Path,
    log: Callable[[str], None] | None = None,
    clock: str = "cpu",
) -> tuple[list[dict], dict[str, Any]]:
    """Train one supernet for ``minutes`` and score it at ``points`` times; returns the rows and the baselines.
    ``clock``: the budget in this process's CPU seconds (default: with one thread, an idle core's wall time, so
    that runs sharing the machine are held to the same budget) or ``"wall"`` seconds."""
    say = log or (lambda _m: None)
    table = ws.table("nb201")
    task, metric = table.default_target("cifar10")
    truth = np.asarray(table.column(task, metric), dtype=float)
    sp = table.search_space
    rng = np.random.default_rng(seed)
    finite = np.flatnonzero(np.isfinite(truth))
    rand_idx = np.sort(rng.choice(finite, cells, replace=False))
    top_pool = finite[truth[finite] >= np.quantile(truth[finite], 0.95)]
    top_idx = np.sort(rng.choice(top_pool, min(top_cells, len(top_pool)), replace=False))
    ds = ws.cifar10("train")
    train, held = ds.split(0.5, seed=0)
    params = dict(params)
    if "epochs" not in params:  # fit the schedule to the budget
        rate = probe_steps_per_second(params, clock=clock)
        sn0 = OneShotSupernet(**params)
        params["epochs"] = max(1, int(minutes * 60 * rate * sn0.batch_size / len(train)))
        say(f"probe: {rate:.2f} steps/s -> {params['epochs']} epochs in {minutes} min")
    xc, xh, yh = OneShotSupernet(**params).scoring_tensors(train, held)
    prior = build_prior(table, "cifar10", "zero-cost")

    baselines: dict[str, dict[str, float]] = {}
    for k, name in enumerate(prior.columns):
        baselines[f"{name} (published)"] = {"random": _tau(prior.features[rand_idx, k], truth[rand_idx]),
                                            "top5": _tau(prior.features[top_idx, k], truth[top_idx])}  # fmt: skip
    baselines["zero-cost vote (published proxies + params)"] = {
        "random": _tau(prior.score[rand_idx], truth[rand_idx]), "top5": _tau(prior.score[top_idx], truth[top_idx])
    }  # fmt: skip
    rand_archs = [sp.from_index(int(i)) for i in rand_idx]
    top_archs = [sp.from_index(int(i)) for i in top_idx]
    ckpt = workdir / "supernet-checkpoint.npz"
    ckpt.unlink(missing_ok=True)
    rows: list[dict] = []
    budget = minutes * 60.0
    for p in range(1, points + 1):
        target = budget * p / points
        sn = OneShotSupernet(**params).fit(train, time_budget=max(0.0, target - _trained(ckpt)), checkpoint=ckpt,
                                         clock=clock)  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        est_r = sn.estimate_prepared(rand_archs, xc, xh, yh)
        rate, cpu_rate = len(rand_archs) / (time.perf_counter() - t0), len(rand_archs) / (time.process_time() - c0)
        est_t = sn.estimate_prepared(top_archs, xc, xh, yh)
        combo = 0.5 * (_pct(est_r) + _pct(prior.score[rand_idx]))
        combo_t = 0.5 * (_pct(est_t) + _pct(prior.score[top_idx]))
        row = {"point": p, "train_s": sn.train_seconds_, "step": sn.step_, "finished": sn.finished_,
               "tau_random": _tau(est_r, truth[rand_idx]), "tau_top5": _tau(est_t, truth[top_idx]),
               "tau_combo_random": _tau(combo, truth[rand_idx]), "tau_combo_top5": _tau(combo_t, truth[top_idx]),
               "mean_estimate": float(est_r.mean()), "archs_per_s": rate, "archs_per_cpu_s": cpu_rate}  # fmt: skip
        rows.append(row)
        say(json.dumps(row))
        if sn.finished_:
            break
    meta = {"truth": f"nb201 {task}/{metric} (published, 200 epochs)", "cells": cells, "top_cells": len(top_idx),
            "seed": seed, "minutes": minutes, "clock": clock, "params": params, "baselines": baselines,
            "split": "stratified half of CIFAR-10 train (seed 0) for training and calibration, the other half held out"}  # fmt: skip
    return rows, meta


def _trained(ckpt: Path) -> float:
    """Training seconds recorded in a checkpoint (0 without one)."""
    return float(read_meta(ckpt)["train_seconds"]) if ckpt.is_file() else 0.0


def format_supernet(rows: list[dict], meta: dict[str, Any]) -> str:
    """The table the command prints."""
    lines = [f"truth {meta['truth']}; {meta['cells']} random cells, {meta['top_cells']} top-5% cells (seed {meta['seed']})",
             f"supernet {meta['params']}",
             f"{'train s':>8} {'step':>7} {'tau random':>10} {'tau top5%':>9} {'combo random':>12} {'combo top5%':>11} {'archs/s':>8} {'per CPU s':>9}"]  # fmt: skip
    for r in rows:
        lines.append(f"{r['train_s']:8.0f} {r['step']:7d} {r['tau_random']:10.3f} {r['tau_top5']:9.3f} "
                     f"{r['tau_combo_random']:12.3f} {r['tau_combo_top5']:11.3f} {r['archs_per_s']:8.1f} {r['archs_per_cpu_s']:9.1f}")  # fmt: skip
    lines.append("label-free baselines on the same cells (tau random / top 5%):")
    for name, b in meta["baselines"].items():
        lines.append(f"  {name}: {b['random']:.3f} / {b['top5']:.3f}")
    return "\n".join(lines)


def plot_supernet(rows: list[dict], meta: dict[str, Any], path: Path) -> Path:
    """Kendall tau against training time (random and top-5% cells), baselines as horizontal lines."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    t = [r["train_s"] / 60 for r in rows]
    ax.plot(t, [r["tau_random"] for r in rows], "o-", label="supernet, random cells")
    ax.plot(t, [r["tau_top5"] for r in rows], "s-", label="supernet, top-5% cells")
    ax.plot(t, [r["tau_combo_random"] for r in rows], "^--", label="supernet + zero-cost vote, random")
    for k, (name, b) in enumerate(meta["baselines"].items()):
        if name.startswith(("cifar10/params", "zero-cost vote")):
            ax.axhline(b["random"], color=f"C{3 + k % 5}", ls=":", label=f"{name.split(' (')[0]}, random")
    ax.set_xlabel("training minutes")
    ax.set_ylabel("Kendall tau vs cifar10-valid val acc")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["benchmark_supernet", "format_supernet", "plot_supernet", "probe_steps_per_second"]
