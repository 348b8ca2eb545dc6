"""Benchmarks of predictors and zero-cost proxies on published tables.

``archgen bench predictors`` and ``archgen bench zc`` call these; so do the
scripts in ``benchmarks/``.

Protocol of :func:`benchmark_predictors` (NB201 defaults follow the published
predictor papers): for each seed, draw ``n`` training cells uniformly from all
rows with a published target; the test set is every other row. Isomorphic
duplicates: a training draw may contain several cells of one class, and the
test set keeps cells whose class was seen in training (their published values
are separate training runs, so they are real test points). The
``canonical`` metrics recompute everything on one representative per class
(test cells whose class has no training member).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archgen.predictors.base import get_predictor
from archgen.predictors.features import class_ids
from archgen.predictors.metrics import evaluate, kendall_tau, spearman
from archgen.predictors.splits import random_split
from archgen.predictors.training import default_target, predictor_kwargs, table_archs

if TYPE_CHECKING:
    from archgen.context import Workspace

#: Published Kendall tau on NB201 CIFAR-10 (cifar10-valid validation accuracy),
#: by training-set size, as quoted in the predictors issue.
PUBLISHED_NB201_TAU: dict[str, dict[int, float]] = {
    "GCN (Wen et al.)": {78: 0.343, 156: 0.413, 469: 0.584, 781: 0.634, 1563: 0.646},
    "TNASP": {78: 0.539, 156: 0.589, 469: 0.640, 781: 0.689, 1563: 0.724},
    "PINAT": {78: 0.549, 156: 0.631, 469: 0.706, 781: 0.761, 1563: 0.784},
    "ParZC (authors' logs)": {78: 0.69, 156: 0.71, 469: 0.75, 781: 0.77, 1563: 0.76},
}

@dataclass
class RunResult:
    """One (predictor, training size, seed) run."""

    predictor: str
    n_train: int
    seed: int
    n_test: int
    kendall_tau: float
    spearman: float
    top5_precision: float
    coverage_1sigma: float | None
    kendall_tau_canonical: float
    n_test_canonical: int
    fit_s: float
    predict_s: float


def benchmark_predictors(
    data: Workspace,
    space: str,
    task: str,
    predictors: Sequence[str],
    train_sizes: Sequence[int],
    seeds: int = 5,
    target: tuple[str, str] | None = None,
    zc: str = "table",
    max_test: int | None = None,
    params: dict[str, dict[str, object]] | None = None,
    log: Callable[[str], None] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Fit and score every predictor at every training size and seed.

    Args:
        data: Workspace with the benchmark tables.
        space, task: Benchmark table.
        predictors: Registered predictor names.
        train_sizes: Training-set sizes.
        seeds: Seeds ``0..seeds-1`` (one training draw each, shared by all predictors).
        target: ``(task, metric)`` column to predict (default :func:`default_target`).
        zc: Zero-cost feature source for the predictors.
        max_test: Score on this many test rows (``None``: all), drawn once
            for all seeds (each seed's training rows excluded).
        params: Extra constructor arguments per predictor name.
        log: Progress callback.
        on_result: Called with each run's result as soon as it is known
            (the CLI appends it to ``runs.jsonl`` so that an interrupted
            benchmark keeps what it measured).
    """
    table = data.table(space)
    target_task, metric = target or default_target(table, task)
    archs, y = table_archs(table, target_task, metric)
    sp = table.search_space
    classes = class_ids(archs)
    is_rep = np.array([sp.canonical(a) == a for a in archs])
    results: list[RunResult] = []
    for n in train_sizes:
        if n >= len(archs):
            raise ValueError(f"training size {n} leaves no test set ({len(archs)} rows)")
        for seed in range(seeds):
            train, test = random_split(len(archs), n, seed)
            if max_test is not None and len(test) > max_test:
                # the same cells for every seed (minus that seed's training cells), so that
                # predictors that compute proxies per cell reuse their cached scores
                fixed = np.random.default_rng(2**31 - 1).permutation(len(archs))
                test = np.sort(fixed[~np.isin(fixed, train)][:max_test])
            seen = np.isin(classes, classes[train])
            canon = test[is_rep[test] & ~seen[test]]
            for name in predictors:
                pred = get_predictor(name, data=data, **predictor_kwargs(name, task, seed, zc, (params or {}).get(name)))
                t0 = time.perf_counter()
                pred.fit([archs[i] for i in train], y[train])
                t1 = time.perf_counter()
                mean, std = pred.predict_with_uncertainty([archs[i] for i in test])
                t2 = time.perf_counter()
                pos = np.searchsorted(test, canon)
                scores = evaluate(y[test], mean, std if pred.capabilities.has_uncertainty else None)
                r = RunResult(
                    predictor=name,
                    n_train=n,
                    seed=seed,
                    n_test=len(test),
                    kendall_tau=scores["kendall_tau"],
                    spearman=scores["spearman"],
                    top5_precision=scores["top5_precision"],
                    coverage_1sigma=scores.get("coverage_1sigma"),
                    kendall_tau_canonical=kendall_tau(y[canon], mean[pos]) if len(canon) > 1 else float("nan"),
                    n_test_canonical=len(canon),
                    fit_s=t1 - t0,
                    predict_s=t2 - t1,
                )
                results.append(r)
                if on_result:
                    on_result(r)
                if log:
                    log(
                        f"{name:>8} n={n:<5} seed={seed} tau={r.kendall_tau:.3f} (canonical {r.kendall_tau_canonical:.3f}) "
                        f"fit {r.fit_s:.1f}s predict {r.predict_s:.2f}s"
                    )
    return results


def summarize(results: Sequence[RunResult]) -> list[dict[str, object]]:
    """Mean and std over seeds per (predictor, size)."""
    rows = []
    keys = sorted({(r.predictor, r.n_train) for r in results}, key=lambda k: (k[0], k[1]))
    for name, n in keys:
        rs = [r for r in results if r.predictor == name and r.n_train == n]

        def stat(field: str, rs: list[RunResult] = rs) -> tuple[float, float]:
            v = np.array(
                [getattr(r, field) for r in rs if getattr(r, field) is not None],
                dtype=np.float64,
            )
            return (float(np.nanmean(v)), float(np.nanstd(v))) if v.size else (float("nan"), float("nan"))

        row: dict[str, object] = {
            "predictor": name,
            "n_train": n,
            "seeds": len(rs),
            "n_test": rs[0].n_test,
        }
        for f in (
            "kendall_tau",
            "kendall_tau_canonical",
            "spearman",
            "top5_precision",
            "coverage_1sigma",
            "fit_s",
            "predict_s",
        ):
            row[f], row[f + "_std"] = stat(f)
        row["predict_per_s"] = float(np.mean([r.n_test / max(r.predict_s, 1e-9) for r in rs]))
        rows.append(row)
    return rows


def format_table(summary: Sequence[dict[str, object]]) -> str:
    """A plain-text table of :func:`summarize`'s rows."""
    head = (
        f"{'predictor':>9} {'n':>5} {'tau':>13} {'tau canon':>10} {'spearman':>8} {'top5%':>6} "
        f"{'cov1s':>6} {'fit s':>7} {'pred/s':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in summary:
        cov = "" if np.isnan(r["coverage_1sigma"]) else f"{r['coverage_1sigma']:.2f}"
        lines.append(
            f"{r['predictor']:>9} {r['n_train']:>5} {r['kendall_tau']:>6.3f} ± {r['kendall_tau_std']:.3f} "
            f"{r['kendall_tau_canonical']:>10.3f} {r['spearman']:>8.3f} {r['top5_precision']:>6.2f} "
            f"{cov:>6} {r['fit_s']:>7.1f} {r['predict_per_s']:>9.0f}"
        )
    return "\n".join(lines)


def write_outputs(results: Sequence[RunResult], out: Path, title: str, anchors: bool) -> list[Path]:
    """CSV and JSON of every run and the summary, and a PNG of tau against training size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    paths = [
        out / "runs.csv",
        out / "summary.csv",
        out / "summary.json",
        out / "tau.png",
    ]
    pd.DataFrame([asdict(r) for r in results]).to_csv(paths[0], index=False)
    pd.DataFrame(summary).to_csv(paths[1], index=False)
    paths[2].write_text(json.dumps({"title": title, "summary": summary}, indent=2, default=float))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in sorted({r["predictor"] for r in summary}):
        rs = [r for r in summary if r["predictor"] == name]
        ax.errorbar(
            [r["n_train"] for r in rs],
            [r["kendall_tau"] for r in rs],
            yerr=[r["kendall_tau_std"] for r in rs],
            marker="o",
            capsize=3,
            label=f"archgen {name}",
        )
    if anchors:
        for name, pts in PUBLISHED_NB201_TAU.items():
            ax.plot(
                list(pts),
                list(pts.values()),
                linestyle="--",
                marker="x",
                alpha=0.6,
                label=f"published: {name}",
            )
    ax.set_xscale("log")
    ax.set_xlabel("training architectures")
    ax.set_ylabel("Kendall tau on the test cells")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(paths[3], dpi=120)
    plt.close(fig)
    return paths


def benchmark_zc(
    data: Workspace,
    space: str,
    task: str,
    n_archs: int,
    seed: int = 0,
    proxies: Sequence[str] | None = None,
    timing_cells: int = 5,
    log: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Score ``n_archs`` random cells with archgen's proxies and compare with the table.

    Every cell is computed afresh (a temporary cache), so the timing is real.
    Per proxy: Spearman with the task's test accuracy, Spearman with the
    published NAS-Bench-Suite-Zero score of the same cells (where published),
    and seconds per cell when the proxy is computed alone (on the first
    ``timing_cells`` cells); ``meta["seconds_per_cell_all"]`` is the cost of
    all requested proxies together (shared passes).
    """
    import tempfile

    from archgen.errors import UnsupportedSpaceError
    from archgen.predictors.zc_ensemble import DEFAULT_VOTE, _percentiles
    from archgen.predictors.zerocost import (
        PROXIES,
        SUPPORTED_SPACES,
        ZCSettings,
        score_archs,
    )

    if space not in SUPPORTED_SPACES:
        raise UnsupportedSpaceError("zero-cost proxies", space, SUPPORTED_SPACES)
    proxies = list(proxies or PROXIES)
    table = data.table(space)
    sp = table.search_space
    table_task = "cifar10" if task == "cifar10-valid" else task
    rows = np.sort(np.random.default_rng(seed).choice(table.num_rows, n_archs, replace=False))
    archs = [sp.from_index(int(i)) for i in rows]
    settings = ZCSettings()
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up (image decoding, first-call overheads) on a cell outside the sample
        score_archs(
            [sp.from_index(int((rows[-1] + 1) % table.num_rows))],
            task,
            proxies,
            settings,
            data=data,
            score_cache=Path(tmp) / "w",
        )
        t0 = time.perf_counter()
        scores = score_archs(
            archs,
            task,
            proxies,
            settings,
            data=data,
            score_cache=Path(tmp) / "all",
            progress=log is not None,
        )
        n_cells = len({sp.canonical(a) for a in archs})
        per_cell_all = (time.perf_counter() - t0) / n_cells
        alone: dict[str, float] = {}
        timing = list(dict.fromkeys(sp.canonical(a) for a in archs))[:timing_cells]
        for p in proxies:
            t0 = time.perf_counter()
            score_archs(timing, task, [p], settings, data=data, score_cache=Path(tmp) / f"alone-{p}")
            alone[p] = (time.perf_counter() - t0) / len(timing)
    acc = np.asarray(table.lookup(table_task, "test_acc", rows), dtype=np.float64)
    out = []
    for p in proxies:
        pub = (
            np.asarray(table.lookup(table_task, f"zc_{p}", rows), dtype=np.float64)
            if f"zc_{p}" in table.metrics(table_task)
            else np.full(len(rows), np.nan)
        )
        ok = np.isfinite(pub) & np.isfinite(scores[p])
        out.append(
            {
                "proxy": p,
                "spearman_accuracy": spearman(acc[np.isfinite(scores[p])], scores[p][np.isfinite(scores[p])]),
                "spearman_published": spearman(pub[ok], scores[p][ok]) if ok.sum() > 2 else float("nan"),
                "published_spearman_accuracy": spearman(acc[ok], pub[ok]) if ok.sum() > 2 else float("nan"),
                "n_published": int(ok.sum()),
                "seconds_alone": alone[p],
            }
        )
    vote = [p for p in DEFAULT_VOTE if p in proxies]
    meta: dict[str, object] = {
        "n_archs": n_archs,
        "n_cells_computed": n_cells,
        "seconds_per_cell_all": per_cell_all,
    }
    if vote:
        v = np.mean([_percentiles(scores[p], None) for p in vote], axis=0)
        meta["vote"] = {"proxies": vote, "spearman_accuracy": spearman(acc, v)}
    return out, meta


def format_zc_table(rows: Sequence[dict[str, object]], meta: dict[str, object]) -> str:
    """A plain-text table of :func:`benchmark_zc`'s rows."""
    head = f"{'proxy':>10} {'rho(acc)':>9} {'rho(published)':>15} {'published rho(acc)':>19} {'n pub':>6} {'s/cell alone':>13}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['proxy']:>10} {r['spearman_accuracy']:>9.3f} {r['spearman_published']:>15.3f} "
            f"{r['published_spearman_accuracy']:>19.3f} {r['n_published']:>6} {r['seconds_alone']:>13.3f}"
        )
    lines.append(
        f"all {len(rows)} proxies together: {meta['seconds_per_cell_all']:.2f} s per cell "
        f"(sum of separate runs: {sum(float(r['seconds_alone']) for r in rows):.2f} s), {meta['n_cells_computed']} cells"
    )
    if "vote" in meta:
        vote = meta["vote"]
        lines.append(f"label-free vote of {', '.join(vote['proxies'])}: Spearman {vote['spearman_accuracy']:.3f}")  # type: ignore[index]
    return "\n".join(lines)
