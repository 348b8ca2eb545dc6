"""``archgen search`` (one search on a benchmark table) and ``archgen bench search`` (every strategy, many seeds)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit


def register(app: typer.Typer) -> None:
    """Add ``search`` to the app and ``search`` to the bench group."""
    from archgen.cli.predictors import bench_app

    app.command("search")(search)
    bench_app.command("search")(bench_search)


def _strategy_names(text: str) -> list[str]:
    from archgen.search import list_strategies
    from archgen.search.strategies import SearchInputError

    names = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    unknown = [n for n in names if n not in list_strategies()]
    if not names or unknown:
        raise SearchInputError(
            f"unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; valid: {', '.join(list_strategies())}"
        )
    return names


def search(
    space: Annotated[str, typer.Option("--space", help="Search space with a table: nb201, nasbench_graph, nb101.")] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    strategy: Annotated[str, typer.Option("--strategy", help="random, re, ls, bananas or bo.")] = "bo",
    budget: Annotated[int, typer.Option("--budget", help="Evaluations (table lookups) to spend.")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Architectures per batch (q).")] = 1,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Objective column of TASK (default: the predictors' target).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="JSON written after every batch; an unfinished one resumes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search a benchmark table for the best architecture (evaluations are table lookups, charged their epochs)."""
    from tqdm import tqdm

    from archgen.search import get_strategy, run_search
    from archgen.search.benchmark import oracle

    (name,) = _strategy_names(strategy)
    ev, sp, cands = oracle(_ctx.workspace(), space, task, metric)
    t0 = time.perf_counter()
    with tqdm(total=budget, desc=f"{name} search", unit="eval", disable=as_json or not sys.stderr.isatty()) as bar:
        h = run_search(
            sp, get_strategy(name), ev, budget=budget, batch_size=batch_size, seed=seed, candidates=cands,
            checkpoint=checkpoint, on_batch=lambda h: bar.update(len(h.evaluations) - bar.n),
        )  # fmt: skip
    best = h.best()
    summary = h.to_dict() | {"best": None if best is None else best.architecture, "best_value": None if best is None else best.value,
                             "oracle": ev.source, "wall_s": time.perf_counter() - t0}  # fmt: skip
    text = (
        f"{len(h.evaluations)} evaluations of {ev.source} ({name}, batch {batch_size}, seed {seed}, "
        f"{summary['wall_s']:.1f} s); best {best.value:.3f} after {h.evaluations_to(best.value)}: {best.architecture}"
        if best is not None
        else "no evaluation returned a value"
    )
    _emit(summary, as_json, text)


def bench_search(
    space: Annotated[str, typer.Option("--space")] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    strategies: Annotated[str, typer.Option("--strategies", help="Comma-separated: random, re, ls, bananas, bo.")] = "bo,re,random,ls",
    budget: Annotated[int, typer.Option("--budget", min=1, max=10_000)] = 150,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 1,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1000)] = 20,
    first_seed: Annotated[int, typer.Option("--first-seed", min=0, help="Development used seeds 0-2.")] = 100,
    metric: Annotated[str | None, typer.Option("--metric", help="Oracle column of TASK (e.g. test_acc).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write runs.json, summary.csv and regret.png here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every strategy in one harness: evaluations to the optimum, best value at 10-150, RI, wall time."""
    import os
    import platform

    from archgen.search.benchmark import benchmark_search, format_summary, summarize, write_outputs

    names = _strategy_names(strategies)
    t0 = time.time()
    rows, meta = benchmark_search(
        _ctx.workspace(), space, task, names, budget=budget, seeds=seeds, first_seed=first_seed,
        batch_size=batch_size, metric=metric, log=lambda m: typer.echo(m, err=True),
    )  # fmt: skip
    meta["machine"] = f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {time.time() - t0:.0f} s"
    summary = summarize(rows, meta)
    files = write_outputs(rows, meta, out) if out is not None else []
    text = format_summary(summary, meta) + f"\n{meta['machine']}" + "".join(f"\nwrote {p}" for p in files)
    _emit({"meta": meta, "summary": summary, "files": [str(p) for p in files]}, as_json, text)
