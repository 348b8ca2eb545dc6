"""Benchmarks of predictors and zero-cost proxies on published tables.

``archgen bench predictors`` and ``archgen bench zc`` call these; so do the
scripts in ``benchmarks/``.

Every run draws ``n`` training cells uniformly (seed = draw) from the rows with
a published training target, fits, and scores under one of two protocols,
named in every output row:

* ``heldout`` (archgen's): train and test on the same target (NB201 CIFAR-10:
  the ``cifar10-valid`` 200-epoch validation accuracy); the test set is every
  untrained row (or ``max_test`` of them).
* ``anchors`` (PINAT, NAR-Former and, by their papers, TNASP): train on the
  same target, but compute Kendall tau against the **test accuracy**
  (``cifar10/test_acc`` for CIFAR-10) over **all** rows, training rows included.

Beside the protocol's figures, each row has the **strict** Kendall tau: on the
training target, over the untrained rows that are functionally equivalent to
no training row under the union of archgen's canonical form and NATS-Bench's
path-based unique string (:meth:`NB201SearchSpace.path_string`), and the
calibration figures (1-sigma coverage, mean absolute error) on the untrained
rows and on the true top 5% of them.

Features (``features``): ``encoding`` (the architecture alone), ``table``
(encoding plus published label-free columns: NAS-Bench-Suite-Zero's 13 proxies,
NASWOT, params, FLOPs; no labels, but inputs the encoding-only papers do not use)
or ``computed`` (encoding plus archgen's own proxies on CIFAR-10 images).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from archgen.errors import UnknownNameError, UnsupportedSpaceError
from archgen.plotting import pyplot
from archgen.predictors.base import get_predictor
from archgen.predictors.features import class_ids
from archgen.predictors.metrics import coverage, evaluate, kendall_tau, spearman
from archgen.predictors.splits import random_split
from archgen.predictors.zc_ensemble import DEFAULT_VOTE, _percentiles
from archgen.predictors.zerocost import PROXIES, SUPPORTED_SPACES, ZCSettings, score_archs
from archgen.services.predictors import predictor_kwargs, table_archs

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace
    from archgen.datasets.tables import BenchmarkTable

#: Published Kendall tau on NB201 CIFAR-10 under the anchors' protocol (trained on the
#: cifar10-valid validation accuracy, tau against CIFAR-10 test accuracy over all 15,625
#: cells), by training-set size, with the inputs they use: the encoding alone.
PUBLISHED_NB201_TAU: dict[str, dict[int, float]] = {
    "GCN (Wen et al.)": {78: 0.343, 156: 0.413, 469: 0.584, 781: 0.634, 1563: 0.646},
    "TNASP": {78: 0.539, 156: 0.589, 469: 0.640, 781: 0.689, 1563: 0.724},
    "PINAT": {78: 0.549, 156: 0.631, 469: 0.706, 781: 0.761, 1563: 0.784},
    "ParZC (authors' logs)": {78: 0.69, 156: 0.71, 469: 0.75, 781: 0.77, 1563: 0.76},
}

PROTOCOLS = ("heldout", "anchors")
#: Feature set name -> the predictors' ``zc`` source.
FEATURES = {"encoding": "none", "table": "table", "computed": "computed"}
#: Share of the test cells, by true value, that count as the top.
TOP_SHARE = 0.05


@dataclass
class RunResult:
    """One (predictor, training size, seed) run under one protocol and feature set."""

    predictor: str
    protocol: str
    features: str
    target: str
    eval_target: str
    n_train: int
    seed: int
    n_test: int
    kendall_tau: float
    spearman: float
    top5_precision: float
    coverage_1sigma: float | None
    kendall_tau_strict: float
    n_test_strict: int
    kendall_tau_canonical: float
    n_test_canonical: int
    mae: float
    mae_top5: float
    coverage_1sigma_top5: float | None
    over_max_top5: float
    fit_s: float
    predict_s: float


def eval_target(table: BenchmarkTable, task: str, protocol: str, target: tuple[str, str]) -> tuple[str, str]:
    """The column Kendall tau is computed on: the training target (``heldout``) or the test accuracy (``anchors``)."""
    if protocol not in PROTOCOLS:
        raise UnknownNameError("benchmark protocol", protocol, PROTOCOLS)
    if protocol == "heldout":
        return target
    if "test_acc" not in table.metrics(task):
        raise UnknownNameError(
            f"test accuracy of {table.space}/{task} (for the anchors' protocol)", "test_acc", table.metrics(task)
        )
    return task, "test_acc"


def strict_classes(table: BenchmarkTable, archs: Sequence[Arch]) -> np.ndarray:
    """Equivalence class of each architecture under the union of the space's notions of "same function".

    Two cells are one class if they share archgen's canonical form or (NB201)
    NATS-Bench's path string, transitively (union-find over both keys).
    """
    sp = table.search_space
    parent = list(range(len(archs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys: list[Callable[[Arch], object]] = [sp.canonical]
    if hasattr(sp, "path_string"):
        keys.append(sp.path_string)
    for key in keys:
        first: dict[object, int] = {}
        for i, a in enumerate(archs):
            k = key(a)
            j = first.setdefault(k, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[ri] = rj
    roots = np.array([find(i) for i in range(len(archs))], dtype=np.int64)
    _, ids = np.unique(roots, return_inverse=True)
    return ids.astype(np.int64)


def _top_calibration(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray | None, best: float
) -> tuple[float, float, float | None, float]:
    """MAE over all; on the true top :data:`TOP_SHARE` of ``y``: MAE, 1-sigma coverage, and the share
    predicted above ``best`` (the space's best value) by more than 1 sigma."""
    top = y >= np.quantile(y, 1 - TOP_SHARE)
    mae = float(np.mean(np.abs(mean - y)))
    mae_top = float(np.mean(np.abs(mean[top] - y[top])))
    cov_top = coverage(y[top], mean[top], std[top]) if std is not None and top.sum() >= 2 else None
    low = mean[top] - (std[top] if std is not None else 0.0)
    return mae, mae_top, cov_top, float(np.mean(low > best))


def benchmark_predictors(
    data: Workspace,
    space: str,
    task: str,
    predictors: Sequence[str],
    train_sizes: Sequence[int],
    seeds: int = 5,
    target: tuple[str, str] | None = None,
    features: str = "table",
    protocols: Sequence[str] = ("heldout",),
    max_test: int | None = None,
    params: dict[str, dict[str, object]] | None = None,
    log: Callable[[str], None] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    first_seed: int = 0,
) -> list[RunResult]:
    """Fit and score every predictor at every training size and seed.

    Args:
        data: Workspace with the benchmark tables.
        space, task: Benchmark table.
        predictors: Registered predictor names.
        train_sizes: Training-set sizes.
        seeds: Draws ``first_seed .. first_seed + seeds - 1`` (one training draw each, shared by all predictors).
        target: ``(task, metric)`` column to train on (default :func:`default_target`).
        features: One of :data:`FEATURES`.
        protocols: Some of :data:`PROTOCOLS` (see the module docstring); each fit is
            scored under every one of them (one result each).
        max_test: Score on this many untrained rows (``None``: all), drawn once
            for all seeds (each seed's training rows excluded). Under the
            anchors' protocol the tau is still over every row.
        params: Extra constructor arguments per predictor name.
        log: Progress callback.
        on_result: Called with each run's result as soon as it is known
            (the CLI appends it to ``runs.jsonl`` so that an interrupted
            benchmark keeps what it measured).
        first_seed: The first draw (to add draws to an earlier run without repeating it).
    """
    if features not in FEATURES:
        raise UnknownNameError("feature set", features, list(FEATURES))
    zc = FEATURES[features]
    table = data.table(space)
    tgt = target or table.default_target(task)
    evs = {proto: eval_target(table, task, proto, tgt) for proto in protocols}
    y_all = np.asarray(table.column(*tgt), dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(y_all))
    archs, y = table_archs(table, *tgt)
    y_evals = {proto: np.asarray(table.column(*ev), dtype=np.float64)[rows] for proto, ev in evs.items()}
    sp = table.search_space
    classes = class_ids(archs)
    strict = strict_classes(table, archs)
    is_rep = np.array([sp.canonical(a) == a for a in archs])
    results: list[RunResult] = []
    for n in train_sizes:
        if n >= len(archs) - 1:
            raise ValueError(f"training size {n} leaves no test set ({len(archs)} rows)")
        for seed in range(first_seed, first_seed + seeds):
            train, test = random_split(len(archs), n, seed)
            if max_test is not None and len(test) > max_test:
                # the same cells for every seed (minus that seed's training cells), so that
                # predictors that compute proxies per cell reuse their cached scores
                fixed = np.random.default_rng(2**31 - 1).permutation(len(archs))
                test = np.sort(fixed[~np.isin(fixed, train)][:max_test])
            seen = np.isin(classes, classes[train])
            canon = test[is_rep[test] & ~seen[test]]
            strict_test = test[~np.isin(strict[test], strict[train])]
            scored_by = {}
            for proto in protocols:
                if proto == "anchors":  # every row, training rows included (all of them unless max_test)
                    sc = np.arange(len(archs)) if max_test is None else np.union1d(test, train)
                else:
                    sc = test
                scored_by[proto] = sc[np.isfinite(y_evals[proto][sc])]
            need = np.unique(np.concatenate([test, *scored_by.values()]))
            for name in predictors:
                kwargs = predictor_kwargs(name, task, seed, zc, (params or {}).get(name))
                pred = get_predictor(name, data=data, **kwargs)
                t0 = time.perf_counter()
                pred.fit([archs[i] for i in train], y[train])
                t1 = time.perf_counter()
                mean_n, std_n = pred.predict_with_uncertainty([archs[i] for i in need], validated=True)
                t2 = time.perf_counter()
                idx_t = np.searchsorted(need, test)
                mean_t, std_t = mean_n[idx_t], std_n[idx_t]
                has_std = pred.capabilities.has_uncertainty
                mae, mae_top, cov_top, over_max = _top_calibration(y[test], mean_t, std_t if has_std else None, y.max())
                pos_c = np.searchsorted(test, canon)
                pos_s = np.searchsorted(test, strict_test)
                tau_strict = kendall_tau(y[strict_test], mean_t[pos_s]) if len(strict_test) > 1 else float("nan")
                tau_canon = kendall_tau(y[canon], mean_t[pos_c]) if len(canon) > 1 else float("nan")
                for proto in protocols:
                    scored = scored_by[proto]
                    scores = evaluate(y_evals[proto][scored], mean_n[np.searchsorted(need, scored)])
                    r = RunResult(
                        predictor=name,
                        protocol=proto,
                        features=features,
                        target="/".join(tgt),
                        eval_target="/".join(evs[proto]),
                        n_train=n,
                        seed=seed,
                        n_test=len(scored),
                        kendall_tau=scores["kendall_tau"],
                        spearman=scores["spearman"],
                        top5_precision=scores["top5_precision"],
                        coverage_1sigma=coverage(y[test], mean_t, std_t) if has_std else None,
                        kendall_tau_strict=tau_strict,
                        n_test_strict=len(strict_test),
                        kendall_tau_canonical=tau_canon,
                        n_test_canonical=len(canon),
                        mae=mae,
                        mae_top5=mae_top,
                        coverage_1sigma_top5=cov_top,
                        over_max_top5=over_max,
                        fit_s=t1 - t0,
                        predict_s=t2 - t1,
                    )
                    results.append(r)
                    if on_result:
                        on_result(r)
                    if log:
                        log(
                            f"{name:>8} {features}/{proto} n={n:<5} seed={seed} tau={r.kendall_tau:.3f} "
                            f"(strict {r.kendall_tau_strict:.3f}) cov {r.coverage_1sigma} top5 cov "
                            f"{r.coverage_1sigma_top5} fit {r.fit_s:.1f}s"
                        )
    return results


def summarize(results: Sequence[RunResult]) -> list[dict[str, object]]:
    """Mean and std over seeds per (predictor, features, protocol, size)."""
    rows = []
    keys = sorted({(r.predictor, r.features, r.protocol, r.n_train) for r in results})
    for name, feats, proto, n in keys:
        rs = [r for r in results if (r.predictor, r.features, r.protocol, r.n_train) == (name, feats, proto, n)]

        def stat(field: str, rs: list[RunResult] = rs) -> tuple[float, float]:
            v = np.array([getattr(r, field) for r in rs if getattr(r, field) is not None], dtype=np.float64)
            return (float(np.nanmean(v)), float(np.nanstd(v))) if v.size else (float("nan"), float("nan"))

        row: dict[str, object] = {
            "predictor": name,
            "features": feats,
            "protocol": proto,
            "target": rs[0].target,
            "eval_target": rs[0].eval_target,
            "n_train": n,
            "seeds": len(rs),
            "n_test": rs[0].n_test,
            "n_test_strict": float(np.mean([r.n_test_strict for r in rs])),
        }
        for f in (
            "kendall_tau",
            "kendall_tau_strict",
            "kendall_tau_canonical",
            "spearman",
            "top5_precision",
            "coverage_1sigma",
            "coverage_1sigma_top5",
            "mae",
            "mae_top5",
            "over_max_top5",
            "fit_s",
            "predict_s",
        ):
            row[f], row[f + "_std"] = stat(f)
        row["predict_per_s"] = float(np.mean([r.n_test / max(r.predict_s, 1e-9) for r in rs]))
        rows.append(row)
    return rows


def _fmt(v: object, spec: str = ".3f") -> str:
    x = float(v)  # type: ignore[arg-type]
    return "—" if np.isnan(x) else format(x, spec)


def format_table(summary: Sequence[dict[str, object]]) -> str:
    """A plain-text table of :func:`summarize`'s rows (features and protocol in every row)."""
    head = (
        f"{'predictor':>10} {'features':>9} {'protocol':>8} {'n':>5} {'draws':>5} {'tau':>15} {'tau strict':>10} "
        f"{'cov1s':>6} {'cov top5%':>9} {'MAE':>6} {'MAE top5%':>9} {'fit s':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in summary:
        lines.append(
            f"{r['predictor']:>10} {r['features']:>9} {r['protocol']:>8} {r['n_train']:>5} {r['seeds']:>5} "
            f"{_fmt(r['kendall_tau']):>6} ± {_fmt(r['kendall_tau_std']):<6} {_fmt(r['kendall_tau_strict']):>10} "
            f"{_fmt(r['coverage_1sigma'], '.2f'):>6} {_fmt(r['coverage_1sigma_top5'], '.2f'):>9} "
            f"{_fmt(r['mae'], '.2f'):>6} {_fmt(r['mae_top5'], '.2f'):>9} {_fmt(r['fit_s'], '.1f'):>7}"
        )
    return "\n".join(lines)


def write_outputs(results: Sequence[RunResult], out: Path, title: str, anchors: bool) -> list[Path]:
    """CSV and JSON of every run and the summary, and a PNG of tau against training size.

    The anchors (published figures) are drawn only when ``anchors`` is set and
    compared in the legend with runs under the anchors' protocol.
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    paths = [out / "runs.csv", out / "summary.csv", out / "summary.json", out / "tau.png"]
    pd.DataFrame([asdict(r) for r in results]).to_csv(paths[0], index=False)
    pd.DataFrame(summary).to_csv(paths[1], index=False)
    paths[2].write_text(json.dumps({"title": title, "summary": summary}, indent=2, default=float))
    plot_summary(summary, paths[3], title, anchors)
    return paths


def plot_summary(summary: Sequence[dict], path: Path, title: str, anchors: bool) -> None:
    """Kendall tau against training size, one line per (predictor, features, protocol) of ``summary`` rows.

    The anchors (published figures) are drawn only when ``anchors`` is set.
    """
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 5))
    for key in sorted({(r["predictor"], r["features"], r["protocol"]) for r in summary}):
        rs = sorted(
            (r for r in summary if (r["predictor"], r["features"], r["protocol"]) == key), key=lambda r: r["n_train"]
        )
        ax.errorbar(
            [r["n_train"] for r in rs],
            [r["kendall_tau"] for r in rs],
            yerr=[r["kendall_tau_std"] for r in rs],
            marker="o",
            capsize=3,
            label=f"archgen {key[0]} ({key[1]} features, {key[2]} protocol)",
        )
    if anchors:
        for name, pts in PUBLISHED_NB201_TAU.items():
            ax.plot(
                list(pts), list(pts.values()), linestyle="--", marker="x", alpha=0.6,
                label=f"published: {name} (encoding, anchors protocol)",
            )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("training architectures")
    ax.set_ylabel("Kendall tau")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
