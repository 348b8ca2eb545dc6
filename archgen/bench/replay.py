"""``archgen bench replay``: every search method replayed against learning-curve tables with simulated time.

Budgets are in full-training equivalents: ``budget x`` the table's median seconds of one complete training
(:meth:`~archgen.curves.table.CurveTable.full_cost`). Every method searches within the table's candidates, pays
through :class:`~archgen.curves.replay.ReplayEvaluator` (a trial keeps its seed; a promotion pays only its new
epochs; the budget is a cap: no evaluation starts that the budget left cannot pay for at its expected cost), and
its returned cell is scored by the table's **seed-mean final test accuracy** (never the value the search saw) and
its percentile among the candidates. Methods (:data:`METHODS`):

* ``c10-best``: CIFAR-10's best published cell, trained once, no search (the transfer baseline);
* ``c10-top5``: CIFAR-10's 5 best published cells, each trained once, the best by validation kept;
* ``random``: random search with full trainings (successive halving with one fidelity);
* ``sh``: successive halving (eta 3) over fidelities of the schedule's epochs (about ``E/9, E/3, E``);
* ``hyperband``: Hyperband over the same fidelities;
* ``topk-1ep``: Egele et al. (2023): ``n`` cells one epoch each with half the budget, the top ``k`` (about half
  the budget in full trainings) continued to the full schedule;
* ``optuna-tpe-hb``: Optuna's TPE sampler with its Hyperband pruner over the same fidelities, the search
  strategy :class:`~archgen.search.libraries.OptunaTPEHyperband` (the one live searches run): a suggested cell
  outside the candidates is mapped to the nearest candidate (fewest edges differing; ties to the first);
* ``prior-sh``: today's ``prior-sh`` with the task's prior (zero-cost proxies on the task's images and the
  published columns of other image sets: a **transfer** method) over the candidates, when the table carries the
  prior's sources (``archgen bench curves --rankers``);
* ``prior-sh-zc``: the same with the prior's zero-cost sources alone (no label of any task);
* ``priorband``, ``priorband-zc``: :class:`~archgen.search.multifidelity.PriorBand` (Hyperband with PriorBand's
  mixture of prior, incumbent and uniform sampling) with the same two priors;
* ``bo-gp``: GP-based BO (BoTorch) with full trainings over the candidates;
* ``<prior method>-reversed``: that method with its prior's ranking reversed (every source negated): a
  misleading prior (not in the default list).

``c10-best``, ``c10-top5``, ``prior-sh`` and ``priorband`` (and their reversed runs) read other tasks' labels: they
are "transfer" rows.

BO on supernet estimates is not replayed: no supernet is trained on these tasks (see BENCHMARKS.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archgen.bench.curves import load as load_table
from archgen.curves.replay import CandidateSpace, ReplayEvaluator, ReplayTrials
from archgen.curves.table import CurveTable
from archgen.errors import BenchInputError
from archgen.evaluators.base import Evaluator
from archgen.evaluators.replicate import Replicated
from archgen.evaluators.training import TrainingEvaluator
from archgen.plotting import pyplot
from archgen.search.libraries import OptunaTPEHyperband
from archgen.search.loop import run_search
from archgen.search.multifidelity import (
    Hyperband,
    MultiFidelityStrategy,
    PriorBand,
    PriorSuccessiveHalving,
    SuccessiveHalving,
    run_multifidelity_search,
)
from archgen.search.strategies import BayesianOptimization
from archgen.spaces.nb201 import NB201SearchSpace
from archgen.transfer.prior import PoolPosterior, ReversedPool, Source

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.search.history import SearchHistory

METHODS = (
    "c10-best",
    "c10-top5",
    "random",
    "sh",
    "hyperband",
    "topk-1ep",
    "optuna-tpe-hb",
    "bo-gp",
    "prior-sh",
    "prior-sh-zc",
    "priorband",
    "priorband-zc",
)
#: Methods with a prior: each also runs with its prior's ranking reversed as ``<method>-reversed`` (a misleading
#: prior; not in the default list).
PRIOR_METHODS = ("prior-sh", "prior-sh-zc", "priorband", "priorband-zc")
#: Methods that read other tasks' labels (CIFAR-10's published accuracies): "transfer" rows (their ``-reversed``
#: runs too, :func:`is_transfer`).
TRANSFER = ("c10-best", "c10-top5", "prior-sh", "priorband")
#: Most budget levels and seeds of one run.
MAX_BUDGETS = 12


def is_transfer(method: str) -> bool:
    """Whether ``method`` reads other tasks' labels (a "transfer" row)."""
    return method.removesuffix("-reversed") in TRANSFER


def check_methods(text: str | None) -> list[str]:
    names = list(METHODS) if not text else [m.strip() for m in text.split(",") if m.strip()]
    known = [*METHODS, *(f"{m}-reversed" for m in PRIOR_METHODS)]
    bad = [m for m in names if m not in known]
    if bad or not names:
        raise BenchInputError(f"unknown method {', '.join(bad) or '(none)'}: one of {', '.join(known)}")
    return names


def parse_budgets(text: str) -> list[float]:
    try:
        out = [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise BenchInputError(f"--budgets must be comma-separated numbers of full trainings, got {text!r}") from None
    if not out or len(out) > MAX_BUDGETS or any(not np.isfinite(b) or not 0 < b <= 10_000 for b in out):
        raise BenchInputError(f"--budgets: 1..{MAX_BUDGETS} numbers in (0, 10000], got {text!r}")
    return out


def fidelities(epochs: int, eta: int = 3, rungs: int = 3) -> list[int]:
    """Epochs of the schedule a multi-fidelity method's rungs stop at: about ``E / eta ** k``, distinct."""
    out = sorted({max(1, round(epochs / eta**k)) for k in range(rungs)})
    return out


class Replay:
    """One method's search of one table at one budget and seed."""

    def __init__(self, table: CurveTable, budget: float, seed: int, workers: int = 1) -> None:
        self.table, self.seed, self.workers = table, seed, workers
        self.unit = table.full_cost()
        self.budget = budget * self.unit
        self.trials = ReplayTrials(table, seed=seed, workers=workers, budget=self.budget)
        usable = table.usable()
        self.space = CandidateSpace([table.cells[int(r)] for r in usable])
        per_epoch = np.nanmedian(table.seconds[table.complete()], axis=0)  # each epoch's median seconds
        self.epoch_cost = np.asarray(per_epoch, dtype=np.float64)

    def expected(self, epochs: list[int]) -> list[float]:
        """Each rung's expected cost (a promotion pays the epochs past the rung below), from the table's timings."""
        cum = np.concatenate([[0.0], np.cumsum(self.epoch_cost)])
        return [float(cum[e] - (cum[epochs[k - 1]] if k else 0.0)) for k, e in enumerate(epochs)]

    def history(self, strategy: MultiFidelityStrategy, epochs: list[int],
                evaluator: Callable[[int, int], Evaluator] | None = None) -> SearchHistory:  # fmt: skip
        """``strategy`` over fidelities of ``epochs`` (and, for a strategy that replicates, the last one repeated with
        another seed: :class:`~archgen.evaluators.replicate.Replicated`), within the budget, charged the table's
        expected costs. ``evaluator(epoch, trial)``: each fidelity's evaluator (default: replayed from the table;
        trial 1 is the replicate)."""
        make = evaluator or (lambda e, trial: ReplayEvaluator(self.trials, e, trial=trial))
        evs = [make(e, 0) for e in epochs]
        costs = self.expected(epochs)
        if strategy.replicate:
            evs.append(Replicated([evs[-1], make(epochs[-1], 1)]))
            costs.append(float(sum(self.epoch_cost[: epochs[-1]])))
        return run_multifidelity_search(self.space, strategy, evs, budget=self.budget, batch_size=self.workers,
                                        seed=self.seed, expected_costs=costs)  # fmt: skip

    def search(self, strategy: MultiFidelityStrategy, epochs: list[int]) -> str | None:
        """The best cell of :meth:`history` (replayed)."""
        best = self.history(strategy, epochs).best()
        return None if best is None else best.architecture

    def train_once(self, cells: list[str]) -> str | None:
        """Each of ``cells`` trained once on the full schedule (whatever the budget), the best by validation."""
        self.trials.budget = None
        ev = ReplayEvaluator(self.trials, self.table.epochs)
        sp = NB201SearchSpace()
        res = ev.evaluate([sp.parse(c) for c in cells])
        return sp.format(max(res, key=lambda r: r.value).arch) if res else None

    def c10_cells(self, k: int) -> list[str]:
        """CIFAR-10's ``k`` best published cells (those with a complete training)."""
        usable = set(self.table.usable().tolist())
        return [c for r, (c, kind) in enumerate(zip(self.table.cells, self.table.kinds, strict=True))
                if kind == "c10-top" and r in usable][:k]  # fmt: skip


class _Spent(Exception):
    """The budget left cannot pay for another full training (stops a fixed-fidelity search)."""


def _bo(rp: Replay) -> str | None:
    """GP-based BO (BoTorch's ``SingleTaskGP``, q log noisy expected improvement; 10 random cells first) with full
    trainings over the candidates, until the budget left cannot pay for one at the table's median cost."""
    E = rp.table.epochs
    n = int(np.ceil(rp.budget / rp.unit)) + 1
    last: list[Any] = []

    def stop(h: Any) -> None:
        last[:] = [h]
        if rp.budget - rp.trials.seconds < rp.unit:
            raise _Spent

    strategy = BayesianOptimization(n_init=10, fit_iterations=50)
    try:
        h = run_search(rp.space, strategy, ReplayEvaluator(rp.trials, E), budget=n, seed=rp.seed,
                       candidates=rp.space.candidates, on_batch=stop)  # fmt: skip
    except _Spent:
        h = last[0]
    best = h.best()
    return None if best is None else best.architecture


def _prior_model(rp: Replay, labels: bool = True) -> PoolPosterior | None:
    """The task prior over the candidates (``labels``: with the published columns of other image sets)."""
    prior = rp.table.meta.get("prior")
    if not prior:
        return None
    sources = [Source(s["name"], s["group"], np.asarray(s["reference"], dtype=float), bool(s["uses_labels"]))
               for s in prior["sources"] if labels or not s["uses_labels"]]  # fmt: skip
    rows = rp.table.usable()
    values = {s.name: np.asarray(prior["values"][s.name], dtype=float)[rows] for s in sources}
    return PoolPosterior(list(rp.space.candidates), values, sources)


def run_method(method: str, table: CurveTable, budget: float, seed: int, workers: int = 1) -> dict[str, Any]:
    """One replayed search: its returned cell, scored (module docstring), the seconds it spent, simulated wall."""
    rp = Replay(table, budget, seed, workers)
    E = table.epochs
    cell: str | None
    if method in ("c10-best", "c10-top5"):
        cells = rp.c10_cells(1 if method == "c10-best" else 5)
        if not cells:
            return {"skipped": "no CIFAR-10 cell has a complete training in the table yet"}
        cell = rp.train_once(cells)
    elif method == "random":
        cell = rp.search(SuccessiveHalving(), [E])
    elif method == "sh":
        cell = rp.search(SuccessiveHalving(eta=3), fidelities(E))
    elif method == "hyperband":
        cell = rp.search(Hyperband(eta=3), fidelities(E))
    elif method == "topk-1ep":
        k = max(1, round(budget / 2))
        n = max(2 * k, int(budget * E - k * (E - 1)))
        cell = rp.search(SuccessiveHalving(eta=max(2, n // k), n_first=n), [1, E])
    elif method == "optuna-tpe-hb":
        cell = rp.search(OptunaTPEHyperband(eta=3), fidelities(E))
    elif method == "bo-gp":
        cell = _bo(rp)
    elif method.removesuffix("-reversed") in PRIOR_METHODS:
        base = method.removesuffix("-reversed")
        model = _prior_model(rp, labels=not base.endswith("-zc"))
        if model is None:
            return {"skipped": "the table carries no prior (archgen bench curves --rankers)"}
        if method.endswith("-reversed"):
            model = ReversedPool(model)
        strategy = (PriorBand if base.startswith("priorband") else PriorSuccessiveHalving)(model, eta=3)
        cell = rp.search(strategy, fidelities(E))
    else:
        raise BenchInputError(f"unknown method {method!r}: one of {', '.join(METHODS)}")
    out: dict[str, Any] = {"spent": rp.trials.seconds / rp.unit, "wall": rp.trials.clock.now / rp.unit,
                           "cells": len(rp.trials.seed)}  # fmt: skip
    if cell is None:
        return out | {"cell": None, "test": None, "pct": None}
    score = float(table.mean_test()[table.row(cell)])
    return out | {"cell": cell, "test": score, "pct": float(table.percentile(score))}


def live_and_replay(data: Workspace, table: CurveTable, workdir: Path, seed: int, *, eta: int = 3,
                    budget_trainings: float = 1e6) -> dict[str, Any]:  # fmt: skip
    """The check that replay and live agree: successive halving over the table's candidates on the task's
    fidelities (epochs 1 and the schedule's), once with real trainings (the training evaluator, training seed 0,
    each fidelity an epoch of one run) and once replayed against the table with training seed 0; the choices
    (each batch's fidelity and cells) and the values they saw.

    ``budget_trainings``: both runs' budget in full trainings (the live one in its measured seconds: the table's
    median cost scaled, so the two may stop at different batches; the default runs both until the candidates are
    spent)."""
    E = table.epochs
    epochs = [1, E]
    space = CandidateSpace([table.cells[int(r)] for r in table.usable() if 0 in table.seeds_of(int(r))])
    sched = {k: v for k, v in table.schedule.items() if k != "epochs"}
    live_evs = [TrainingEvaluator(data, table.task, workdir=workdir, epochs=E, stop_epoch=e, seed=0, **sched)
                for e in epochs]  # fmt: skip
    live = run_multifidelity_search(space, SuccessiveHalving(eta=eta), live_evs, seed=seed,
                                    budget=budget_trainings * table.full_cost())  # fmt: skip
    trials = ReplayTrials(table, seed=seed, training_seed=0)
    replay = run_multifidelity_search(space, SuccessiveHalving(eta=eta), [ReplayEvaluator(trials, e) for e in epochs],
                                      seed=seed, budget=budget_trainings * table.full_cost())  # fmt: skip

    def choices(h: Any) -> list[tuple[int, int | None, str]]:
        return [(e.batch, e.fidelity, e.architecture) for e in h.evaluations]

    n = min(len(live.evaluations), len(replay.evaluations))
    diff = max((abs(a.value - b.value) for a, b in zip(live.evaluations, replay.evaluations, strict=False)),
               default=0.0)  # fmt: skip
    return {"seed": seed, "live": choices(live), "replay": choices(replay), "same": choices(live) == choices(replay),
            "compared": n, "max_value_diff": diff, "live_seconds": live.spent(), "replay_seconds": replay.spent()}  # fmt: skip


def live_default(
    data: Workspace, table: CurveTable, workdir: Path, seed: int, budget_trainings: float
) -> dict[str, Any]:
    """The default search (``priorband``, the task prior kept in the table, protect 5, replicates) run live over the
    table's candidates with real trainings (training seed 0, each fidelity an epoch of one run; a replicate with
    training seed 1) for ``budget_trainings`` x the table's median cost of one training in **measured** seconds:
    its returned cell scored by the table (the seed-mean test accuracy), what it spent and how many trainings."""
    E = table.epochs
    sched = {k: v for k, v in table.schedule.items() if k != "epochs"}
    rp = Replay(table, budget_trainings, seed)
    model = _prior_model(rp, labels=True)
    if model is None:
        raise BenchInputError("the table carries no prior (archgen bench curves --rankers)")
    epochs = fidelities(E)

    def live(epoch: int, trial: int) -> Evaluator:
        return TrainingEvaluator(data, table.task, workdir=workdir, epochs=E, stop_epoch=epoch, seed=trial, **sched)

    h = rp.history(PriorBand(model, eta=3), epochs, evaluator=live)
    best = h.best()
    cell = None if best is None else best.architecture
    score = None if cell is None else float(table.mean_test()[table.row(cell)])
    return {"seed": seed, "cell": cell, "test": score, "pct": None if score is None else float(table.percentile(score)),
            "spent": h.spent() / rp.unit, "evaluations": len(h.evaluations),
            "replicates": sum(1 for e in h.evaluations if e.fidelity == len(epochs))}  # fmt: skip


def run(tables: list[CurveTable], methods: list[str], budgets: list[float], seeds: int, *, workers: int = 1,
        first_seed: int = 0, say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:  # fmt: skip
    """Every method x budget x seed (``first_seed`` on: a method is designed on other seeds than those it is
    reported on) on every table; the runs and a summary (mean and standard error)."""
    runs: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    for table in tables:
        for m in methods:
            t0 = time.perf_counter()
            for b in budgets:
                for s in range(first_seed, first_seed + seeds):
                    r = run_method(m, table, b, s, workers)
                    runs.append({"task": table.task, "method": m, "budget": b, "seed": s} | r)
            seconds[m] = seconds.get(m, 0.0) + time.perf_counter() - t0
            say(f"{table.task}: {m} done ({seconds[m]:.1f} s)")
    return {"budgets": budgets, "seeds": seeds, "first_seed": first_seed, "workers": workers, "runs": runs, "method_seconds": seconds,
            "tables": [facts(t) for t in tables], "summary": summarize(tables, runs)}  # fmt: skip


def facts(table: CurveTable) -> dict[str, Any]:
    """What a table holds: its trainings, the cost of one, how noisy one training is, where CIFAR-10's best
    published cells stand by the table's seed-mean test accuracy."""
    done = table.complete()
    two = done.sum(1) >= 2
    final_test = np.where(done, table.test[:, :, -1], np.nan)
    mean = table.mean_test()
    c10 = [r for r, k in enumerate(table.kinds) if k == "c10-top" and done[r].any()]
    usable = table.usable()
    best = float(np.nanmax(mean[usable])) if len(usable) else float("nan")
    return {
        "task": table.task, "cells": len(table.cells), "usable": len(usable), "trainings": int(done.sum()),
        "epochs": table.epochs, "full_cost_s": table.full_cost() if done.any() else None,
        "seed_std": float(np.nanmean(np.nanstd(final_test[two], axis=1, ddof=1))) if two.any() else None,
        "best": best, "median": float(np.nanmedian(mean[usable])) if len(usable) else None,
        "c10": [{"cell": table.cells[r], "test": float(mean[r]), "pct": float(table.percentile(float(mean[r])))}
                for r in c10],
        "train_hours": float(np.nansum(table.seconds)) / 3600,
    }  # fmt: skip


def summarize(tables: list[CurveTable], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for table in tables:
        ref = table.mean_test()[table.usable()]
        keys = dict.fromkeys((r["method"], r["budget"]) for r in runs if r["task"] == table.task)
        for m, b in keys:
            sel = [r for r in runs if r["task"] == table.task and r["method"] == m and r["budget"] == b]
            if any("skipped" in r for r in sel):
                rows.append({"task": table.task, "method": m, "budget": b, "skipped": sel[0]["skipped"]})
                continue
            t = np.array([r["test"] for r in sel if r["test"] is not None], dtype=float)
            p = np.array([r["pct"] for r in sel if r["pct"] is not None], dtype=float)
            n = len(t)
            rows.append({
                "task": table.task, "method": m, "budget": b, "n": n, "transfer": is_transfer(m),
                "test_mean": float(t.mean()) if n else None,
                "test_se": float(t.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
                "pct_mean": float(p.mean()) if n else None,
                "spent_mean": float(np.mean([r["spent"] for r in sel])),
                "best_in_table": float(np.nanmax(ref)), "median_in_table": float(np.nanmedian(ref)),
            })  # fmt: skip
    return rows


def format_summary(doc: dict[str, Any]) -> str:
    lines = []
    for f in doc.get("tables", []):
        c10 = ", ".join(f"{c['test']:.2f} ({c['pct']:.0f}th pct)" for c in f["c10"]) or "none trained yet"
        lines.append(f"{f['task']}: {f['usable']}/{f['cells']} cells usable, {f['trainings']} trainings of "
                     f"{f['epochs']} epochs ({f['train_hours']:.2f} h), one training {f['full_cost_s'] or 0:.1f} s; "
                     f"seed std of a cell's final test accuracy {f['seed_std'] or float('nan'):.2f}; best cell "
                     f"{f['best']:.2f}, median {f['median'] or float('nan'):.2f}; CIFAR-10's best published cells: {c10}")  # fmt: skip
    lines += ["", "| task | method | budget (full trainings) | test acc of returned cell (mean ± s.e.) | percentile | "
             "spent |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in doc["summary"]:
        if "skipped" in r:
            lines.append(f"| {r['task']} | {r['method']} | {r['budget']:g} | skipped: {r['skipped']} | | |")
            continue
        name = f"{r['method']} (transfer)" if r["transfer"] else r["method"]
        lines.append(f"| {r['task']} | {name} | {r['budget']:g} | {r['test_mean']:.2f} ± {r['test_se']:.2f} | "
                     f"{r['pct_mean']:.1f} | {r['spent_mean']:.2f} |")  # fmt: skip
    lines.append("")
    lines.append("seconds per method (all tasks, budgets, seeds): "
                 + ", ".join(f"{m} {s:.1f}" for m, s in doc["method_seconds"].items()))  # fmt: skip
    return "\n".join(lines)


def write(doc: dict[str, Any], out: Path) -> None:
    """The runs as JSON at ``out`` and a PNG per task beside it (test accuracy of the returned cell vs budget)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc))
    plt = pyplot()
    for task in dict.fromkeys(r["task"] for r in doc["summary"]):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        rows = [r for r in doc["summary"] if r["task"] == task and "skipped" not in r]
        for m in dict.fromkeys(r["method"] for r in rows):
            pts = [r for r in rows if r["method"] == m]
            x = [r["budget"] for r in pts]
            ax.errorbar(x, [r["test_mean"] for r in pts], yerr=[r["test_se"] for r in pts], label=m, marker="o",
                        capsize=2)  # fmt: skip
        if rows:
            ax.axhline(rows[0]["best_in_table"], color="grey", ls=":", lw=1, label="best candidate")
        ax.set_xscale("log")
        ax.set_xlabel("budget (full trainings)")
        ax.set_ylabel("seed-mean test accuracy of returned cell (%)")
        ax.set_title(f"{task}: replayed searches")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out.with_name(f"{out.stem}-{task}.png"), dpi=120)
        plt.close(fig)


__all__ = [
    "METHODS",
    "PRIOR_METHODS",
    "Replay",
    "check_methods",
    "fidelities",
    "format_summary",
    "is_transfer",
    "live_and_replay",
    "live_default",
    "load_table",
    "parse_budgets",
    "run",
    "run_method",
    "summarize",
    "write",
]  # fmt: skip
