"""The search benchmark (``archgen bench search``): every strategy in one harness on a benchmark table.

Each (strategy, seed) runs :func:`~archgen.search.loop.run_search` with the
same evaluator (a table lookup of ``task``/``metric`` at the full budget),
the same budget, batch size and seed. The oracle is named in every row:
``test_acc`` is the protocol of DiffusionNAG's Table 1 (TNAS, BANANAS...),
``cifar10-valid``'s ``val_acc`` NASLib's. No strategy sees a label of the task
before it pays for it (BO starts from random cells). Reported per strategy:
median and mean evaluations to the table's optimum (a seed that never reaches it
counts as ``inf`` for the median and is left out of the mean), the share of
seeds that reach it, the best value at 10 / 25 / 50 / 100 / 150 evaluations,
the relative improvement of the final best over the average random
architecture (Yang et al., "NAS evaluation is frustratingly hard", ICLR 2020:
``100 * (best - mean) / mean``), and wall time per search; the best-so-far
regret curves with a band (PNG).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archgen.artifacts import ArtifactStore
from archgen.datasets.tables import ENUMERATED
from archgen.errors import UnknownNameError
from archgen.evaluators import BenchmarkEvaluator
from archgen.plotting import pyplot
from archgen.search.history import pareto_front
from archgen.search.loop import run_search
from archgen.search.multiobjective import hypervolume_ratio
from archgen.search.priors import PRIORS, build_prior
from archgen.search.strategies import SearchInputError, get_strategy, list_strategies, strategy_class
from archgen.services.generate import shared_generator
from archgen.services.search import SearchParams, check_search

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace
    from archgen.evaluators import BenchmarkEvaluator
    from archgen.generators.base import Generator
    from archgen.search.priors import Prior
    from archgen.spaces.base import SearchSpace

CHECKPOINTS = (10, 25, 50, 100, 150)


def oracle(
    ws: Workspace, space: str, task: str, metric: str | None
) -> tuple[BenchmarkEvaluator, SearchSpace, list[Arch] | None]:
    """The table evaluator of ``task``/``metric`` (default: the predictors' target) and the space's candidates."""
    table = ws.table(space)
    if task not in table.tasks():
        raise UnknownNameError(f"task of space {space!r}", task, table.tasks())
    t, m = table.default_target(task) if metric is None else (task, metric)
    ev = BenchmarkEvaluator(table, t, m)
    sp = table.search_space
    cands = [sp.from_index(i) for i in range(table.num_rows)] if space in ENUMERATED else None
    return ev, sp, cands


def benchmark_search(
    ws: Workspace,
    space: str,
    task: str,
    strategies: Sequence[str],
    *,
    budget: int,
    seeds: int,
    first_seed: int = 100,
    batch_size: int = 1,
    metric: str | None = None,
    log: Callable[[str], None] | None = None,
    store: Path | None = None,
    generator_epochs: int = 200,
) -> tuple[list[dict], dict[str, Any]]:
    """Run every strategy for every seed; returns the run rows and what they were measured against.
    ``store``/``generator_epochs``: where the diffusion generator of ``+generator`` specs is (trained once)."""
    say = log or (lambda _m: None)
    ev, sp, cands = oracle(ws, space, task, metric)
    parsed = parse_specs(strategies, ev.table, task)  # every spec's names before the generator loads (or trains)
    generator = search_generator(ws, space, store, generator_epochs) if any(p[3] for p in parsed) else None
    col = np.asarray(ev.table.column(ev.task, ev.column_name), dtype=float)
    best = float(np.nanmax(col) if ev.maximize else np.nanmin(col))
    meta = {
        "space": space, "task": task, "oracle": f"{ev.task}/{ev.column_name}", "optimum": best,
        "random_mean": float(np.nanmean(col)), "budget": budget, "batch_size": batch_size,
        "seeds": f"{first_seed}-{first_seed + seeds - 1}",
    }  # fmt: skip
    test = _test_column(ev)
    rows = []
    priors: dict[str, str] = {}
    for spec, prior, seed, strategy in _runs(parsed, ev, range(first_seed, first_seed + seeds), priors, generator):
        t0 = time.perf_counter()
        h = run_search(sp, strategy, ev, budget=budget, batch_size=batch_size, seed=seed, candidates=cands)
        curve = h.best_so_far()
        row = {
            "strategy": spec, "seed": seed, "evals_to_optimum": h.evaluations_to(best),
            "final_best": float(curve[-1]), "wall_s": time.perf_counter() - t0, "curve": curve.tolist(),
            "labels": "yes (transfer)" if prior is not None and prior.uses_labels else "none",
        } | {f"best_at_{k}": float(curve[min(k, len(curve)) - 1]) for k in CHECKPOINTS if k <= budget}  # fmt: skip
        if test is not None:  # NASLib's protocol: the test accuracy of the incumbent by the oracle
            inc = _incumbents(h)
            row |= {f"incumbent_test_at_{k}": float(test[sp.indices([sp.parse(inc[min(k, len(inc)) - 1])])[0]])
                    for k in CHECKPOINTS if k <= budget}  # fmt: skip
        rows.append(row)
        say(json.dumps({k: v for k, v in row.items() if k != "curve"}))
    meta["priors"] = priors
    return rows, meta


def _runs(
    parsed: Sequence[tuple[str, str, Prior | None, bool]],
    ev: BenchmarkEvaluator,
    seeds: Sequence[int],
    priors: dict[str, str],
    generator: Generator | None = None,
) -> Any:
    """``(spec, prior, seed, fresh strategy)`` for every run of the :func:`parse_specs` output, the evaluator
    reset before each; ``priors`` collects each prior's description; ``generator`` serves ``+generator`` specs."""
    for spec, name, prior, generated in parsed:
        if generated and generator is None:
            raise SearchInputError(f"{spec!r} needs the space's diffusion generator")
        kw: dict[str, Any] = {"generator": generator} if generated else {}
        if prior is not None:
            priors[spec] = prior.describe()
            kw["prior"] = prior
        for seed in seeds:
            ev.reset()
            yield spec, prior, seed, get_strategy(name, **kw)


def parse_specs(specs: Sequence[str], table: Any, task: str) -> list[tuple[str, str, Prior | None, bool]]:
    """``(spec, *parse_spec(spec))`` of every spec, all checked (and their priors built) before any run."""
    return [(spec, *parse_spec(spec, table, task)) for spec in specs]


def parse_spec(spec: str, table: Any, task: str) -> tuple[str, Prior | None, bool]:
    """``"bo"``, ``"bo+zero-cost"`` / ``"bo+transfer"`` (a prior), ``"bo+generator"`` (the guided generator's cells
    join the pool), or both (``"bo+zero-cost+generator"``): the strategy, its prior, whether it takes the generator."""
    name, *extras = spec.split("+")
    cls = strategy_class(name)  # unknown names raise listing the valid ones
    generated = "generator" in extras
    if generated and not cls.takes_generator:
        takers = " and ".join(list_strategies(takes_generator=True))
        raise SearchInputError(f"{spec!r}: only {takers} draws candidates from the generator")
    rest = [e for e in extras if e != "generator"]
    if not rest:
        return name, None, generated
    if not cls.takes_prior:
        raise SearchInputError(
            f"strategy {name!r} takes no prior (those that do: {', '.join(list_strategies(takes_prior=True))})"
        )
    if len(rest) > 1 or rest[0] not in PRIORS:
        raise UnknownNameError("prior", "+".join(rest), PRIORS)
    return name, build_prior(table, task, rest[0]), generated


def search_generator(ws: Workspace, space: str, store: Path | None, epochs: int) -> Generator:
    """The space's diffusion generator for ``+generator`` specs: loaded from ``store`` (default: the service's
    model store), trained there on first use."""
    gen, _ = shared_generator(ws, ArtifactStore(store) if store is not None else ws.models, space, epochs=epochs)
    return gen


def _test_column(ev: BenchmarkEvaluator) -> np.ndarray | None:
    """The task's test accuracy when the oracle is another column (cifar10-valid's validation accuracy)."""
    if ev.column_name == "test_acc" or "test_acc" not in ev.table.metrics(ev.task):
        return None
    return np.asarray(ev.table.column(ev.task, "test_acc"), dtype=float)


def _incumbents(h: Any) -> list[str]:
    """The best architecture (by the oracle) after each evaluation."""
    out, best, arch = [], -np.inf, ""
    sign = 1.0 if h.maximize else -1.0
    for e in h.evaluations:
        if np.isfinite(e.value) and sign * e.value > best:
            best, arch = sign * e.value, e.architecture
        out.append(arch or e.architecture)
    return out


def benchmark_multiobjective(
    ws: Workspace,
    space: str,
    task: str,
    strategies: Sequence[str],
    *,
    minimize: str,
    device: str | None,
    budget: int,
    seeds: int,
    first_seed: int = 100,
    batch_size: int = 1,
    metric: str | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[list[dict], dict[str, Any]]:
    """Accuracy against ``minimize`` (latency on ``device``, params, flops): each run's hypervolume over the true
    front's (the whole table's), at the checkpoints, against two reference points fixed in advance: the
    space's nadir (its worst value of each objective: every architecture counts) and its median of each
    (only the better half of each objective counts: the part of the front a user asks for)."""
    say = log or (lambda _m: None)
    if space not in ENUMERATED:
        raise SearchInputError(f"the true front needs an enumerated space ({', '.join(ENUMERATED)}), not {space!r}")
    ev = check_search(
        SearchParams(space=space, task=task, metric=metric, strategy="mobo", minimize=minimize, device=device,
                     budget=budget, batch_size=batch_size), ws).evaluator  # fmt: skip
    if not isinstance(ev, BenchmarkEvaluator):
        raise SearchInputError(f"the true front needs a benchmark table; {task!r} has none")
    (second,) = ev.extra_metrics
    for spec in strategies:  # before any run
        name, _, ref = spec.partition("+")[0].partition("@")
        if not strategy_class(name).multi_objective:
            raise SearchInputError(
                f"strategy {name!r} optimises one objective; with --minimize use one of: "
                f"{', '.join(list_strategies(multi_objective=True))}"
            )
        if ref and (name != "mobo" or ref not in ("nadir", "median")):
            raise SearchInputError(f"{spec!r}: only mobo takes a reference point, @nadir or @median")
    sp = ev.table.search_space
    cands = [sp.from_index(i) for i in range(ev.table.num_rows)]
    table_Y = np.stack([np.asarray(ev.table.column(ev.task, ev.column_name), dtype=float),
                        -np.asarray(ev.table.column(ev.task, second), dtype=float)], axis=1)  # fmt: skip
    ok = np.isfinite(table_Y).all(axis=1)
    refs = {"nadir": table_Y[ok].min(axis=0), "median": np.median(table_Y[ok], axis=0)}
    objectives = [(ev.objective, True), (second, False)]
    meta = {
        "space": space, "task": task, "oracle": f"{ev.task}/{ev.column_name} vs {second} (minimised)",
        "budget": budget, "batch_size": batch_size, "seeds": f"{first_seed}-{first_seed + seeds - 1}",
        "references": {k: v.tolist() for k, v in refs.items()}, "true_front_size": len(pareto_front(table_Y)),
        "multi_objective": True,
    }  # fmt: skip
    rows: list[dict] = []
    priors: dict[str, str] = {}
    plain = [spec.partition("@")[0] for spec in strategies]
    runs = _runs(parse_specs(plain, ev.table, task), ev, range(first_seed, first_seed + seeds), priors)
    for i, (spec, _prior, seed, strategy) in enumerate(runs):
        given = strategies[i // seeds].partition("@")[2]
        if given:  # "mobo@median": the acquisition's reference point is that reference (the user's region)
            strategy.ref_point = refs[given].tolist()
            spec = strategies[i // seeds]
        t0 = time.perf_counter()
        h = run_search(sp, strategy, ev, budget=budget, batch_size=batch_size, seed=seed, candidates=cands,
                       objectives=objectives)  # fmt: skip
        Y = h.objective_matrix()
        row: dict[str, Any] = {"strategy": spec, "seed": seed, "wall_s": time.perf_counter() - t0,
                               "front_size": len(h.front())}  # fmt: skip
        for ref_name, ref in refs.items():
            for k in CHECKPOINTS:
                if k <= budget:
                    row[f"hv_{ref_name}_at_{k}"] = hypervolume_ratio(Y[:k], table_Y, ref.tolist())
        rows.append(row)
        say(json.dumps(row))
    meta["priors"] = priors
    return rows, meta


def summarize_multiobjective(rows: Sequence[dict], meta: dict[str, Any]) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["strategy"] for r in rows):
        sel = [r for r in rows if r["strategy"] == name]
        row: dict[str, Any] = {"strategy": name, "seeds": len(sel)}
        for key in (k for k in sel[0] if k.startswith("hv_")):
            v = np.array([r[key] for r in sel])
            row[key], row[key + "_std"] = float(v.mean()), float(v.std())
        row["front_size"] = float(np.mean([r["front_size"] for r in sel]))
        row["wall_s"] = float(np.mean([r["wall_s"] for r in sel]))
        out.append(row)
    return out


def format_multiobjective(summary: Sequence[dict], meta: dict[str, Any]) -> str:
    cols = (
        ["strategy"]
        + [c for c in summary[0] if c.startswith("hv_") and not c.endswith("_std")]
        + ["front_size", "wall_s"]
    )

    def cell(r: dict, c: str) -> str:
        v = r[c]
        if isinstance(v, float):
            return f"{v:.3f} ± {r[c + '_std']:.3f}" if c + "_std" in r else f"{v:.1f}"
        return str(v)

    table = [cols] + [[cell(r, c) for c in cols] for r in summary]
    w = [max(len(x[i]) for x in table) for i in range(len(cols))]
    lines = ["  ".join(x[i].rjust(w[i]) for i in range(len(cols))) for x in table]
    refs = ", ".join(f"{k} {np.round(v, 4).tolist()}" for k, v in meta["references"].items())
    return (
        f"{meta['space']}/{meta['task']}, {meta['oracle']}: hypervolume / true front's ({meta['true_front_size']} "
        f"cells) above the reference points ({refs}; second objective negated), budget {meta['budget']}, batch "
        f"{meta['batch_size']}, seeds {meta['seeds']}\n" + "\n".join(lines)
    )


def summarize(rows: Sequence[dict], meta: dict[str, Any]) -> list[dict]:
    if meta.get("multi_objective"):
        return summarize_multiobjective(rows, meta)
    out = []
    for name in dict.fromkeys(r["strategy"] for r in rows):
        sel = [r for r in rows if r["strategy"] == name]
        ev = np.array([np.inf if r["evals_to_optimum"] is None else r["evals_to_optimum"] for r in sel], dtype=float)
        reached = np.isfinite(ev)
        final = np.array([r["final_best"] for r in sel])
        row: dict[str, Any] = {
            "strategy": name, "oracle": meta["oracle"], "seeds": len(sel),
            "median_evals_to_optimum": float(np.median(ev)),
            "mean_evals_to_optimum_where_reached": float(ev[reached].mean()) if reached.any() else None,
            "reached": float(reached.mean()),
        }  # fmt: skip
        row["labels"] = sel[0].get("labels", "none")
        for k in CHECKPOINTS:
            for key in (f"best_at_{k}", f"incumbent_test_at_{k}"):
                if key not in sel[0]:
                    continue
                v = np.array([r[key] for r in sel])
                row[key], row[key + "_std"] = float(v.mean()), float(v.std())
        row["relative_improvement"] = float(100 * (final.mean() - meta["random_mean"]) / meta["random_mean"])
        row["wall_s"] = float(np.mean([r["wall_s"] for r in sel]))
        out.append(row)
    return out


def format_summary(summary: Sequence[dict], meta: dict[str, Any]) -> str:
    if meta.get("multi_objective"):
        return format_multiobjective(summary, meta)
    cols = ["strategy", "labels", "median_evals_to_optimum", "mean_evals_to_optimum_where_reached", "reached"]
    cols += [c for c in summary[0] if c.startswith(("best_at_", "incumbent_test_at_")) and not c.endswith("_std")]
    cols += ["relative_improvement", "wall_s"]
    head = {"median_evals_to_optimum": "median evals", "labels": "labels of other tasks", "mean_evals_to_optimum_where_reached": "mean evals (reached)",
            "relative_improvement": "RI %", "wall_s": "wall s"}  # fmt: skip

    def cell(r: dict, c: str) -> str:
        v = r.get(c)
        if v is None:
            return "-"
        if isinstance(v, float):
            s = "inf" if np.isinf(v) else f"{v:.2f}"
            return f"{s} ± {r[c + '_std']:.2f}" if c + "_std" in r else s
        return str(v)

    table = [[head.get(c, c) for c in cols]] + [[cell(r, c) for c in cols] for r in summary]
    w = [max(len(x[i]) for x in table) for i in range(len(cols))]
    lines = ["  ".join(x[i].rjust(w[i]) for i in range(len(cols))) for x in table]
    priors = "".join(f"\n{k}: {v}" for k, v in meta.get("priors", {}).items())
    return (
        f"{meta['space']}/{meta['task']}, oracle {meta['oracle']} (optimum {meta['optimum']:.3f}, random mean "
        f"{meta['random_mean']:.2f}), budget {meta['budget']}, batch {meta['batch_size']}, seeds {meta['seeds']}\n"
        + "\n".join(lines)
        + priors
    )


def plot_regret(rows: Sequence[dict], meta: dict[str, Any], path: Path) -> Path:
    """Median regret (optimum - best so far) per strategy with its 25-75% band, log scale."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name in dict.fromkeys(r["strategy"] for r in rows):
        curves = np.array([r["curve"] for r in rows if r["strategy"] == name], dtype=float)
        regret = np.abs(meta["optimum"] - curves) + 1e-3
        x = np.arange(1, regret.shape[1] + 1)
        ax.plot(x, np.median(regret, axis=0), label=name)
        ax.fill_between(x, np.quantile(regret, 0.25, axis=0), np.quantile(regret, 0.75, axis=0), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"regret of {meta['oracle']} (median, 25-75%)")
    ax.set_title(f"{meta['space']}/{meta['task']}, seeds {meta['seeds']}", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(rows: Sequence[dict], meta: dict[str, Any], out: Path) -> list[Path]:
    """``runs.json`` (with the curves), ``summary.csv`` and ``regret.png`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows, meta)
    runs, csv_path = out / "runs.json", out / "summary.csv"
    runs.write_text(json.dumps({"meta": meta, "runs": list(rows)}))
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in summary for k in r)))
        w.writeheader()
        w.writerows(summary)
    if meta.get("multi_objective"):
        return [runs, csv_path]
    return [runs, csv_path, plot_regret(rows, meta, out / "regret.png")]
