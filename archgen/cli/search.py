"""``archgen search`` (one search on a benchmark table) and ``archgen bench search`` (every strategy, many seeds)."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.bench.search import benchmark_multiobjective, benchmark_search, format_summary, summarize, write_outputs
from archgen.cli.common import JsonOpt, _ctx, _emit, build
from archgen.cli.predictors import bench_app
from archgen.search import Workers, list_strategies
from archgen.search.strategies import SearchInputError
from archgen.services.search import SECOND_OBJECTIVES, SearchParams, check_search, execute_search


def register(app: typer.Typer) -> None:
    """Add ``search`` to the app and ``search`` to the bench group."""
    app.command("search")(search)
    bench_app.command("search")(bench_search)


def _strategy_names(text: str) -> list[str]:
    names = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    unknown = [n for n in names if n.partition("+")[0].partition("@")[0] not in list_strategies()]
    if not names or unknown:
        raise SearchInputError(
            f"unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; valid: {', '.join(list_strategies())}"
            " (bo and mobo take a prior: bo+zero-cost, bo+transfer; bo+generator adds the generator's cells)"
        )
    return names


def search(
    space: Annotated[
        str, typer.Option("--space", help="Search space with a table: nb201, nasbench_graph, nb101.")
    ] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    strategy: Annotated[str, typer.Option("--strategy", help="bo, mobo, robot, bananas, re, ls or random.")] = "bo",
    budget: Annotated[int, typer.Option("--budget", help="Evaluations (table lookups) to spend.")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Architectures per batch (q).")] = 1,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Objective column of TASK (default: the predictors' target).")
    ] = None,
    prior: Annotated[
        str | None,
        typer.Option(
            "--prior", help="zero-cost (published label-free measurements) or transfer (other tasks' labels)."
        ),
    ] = None,
    acquisition: Annotated[str, typer.Option("--acquisition", help="bo: qlognei, qucb or ts.")] = "qlognei",
    minimize: Annotated[
        str | None, typer.Option("--minimize", help="A second objective (mobo, random): latency, params or flops.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Device of the published latency (--minimize latency).")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="mobo's reference point in the objectives' units, e.g. 90,12 (accuracy, ms)."),
    ] = None,
    generator: Annotated[
        bool,
        typer.Option(
            "--generator",
            help="bo: the space's diffusion generator, guided by the search's evaluations, "
            "adds cells to the candidate pool (trained on first use).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Threads evaluating a batch at once.")] = 1,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Evaluate on a Ray cluster (auto, ray://host:port, local).")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="JSON written after every batch; an unfinished one resumes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search a benchmark table for the best architecture (evaluations are table lookups, charged their epochs)."""
    try:
        ref = None if reference is None else tuple(float(v) for v in reference.split(","))
    except ValueError:
        raise SearchInputError(f"--reference takes two numbers separated by a comma, got {reference!r}") from None
    params = build(
        SearchParams,
        SearchInputError,
        None,
        space=space,
        task=task,
        metric=metric,
        strategy=strategy,
        prior=prior,
        acquisition=acquisition,
        budget=budget,
        batch_size=batch_size,
        minimize=minimize,
        device=device,
        seed=seed,
        reference=ref,
        generator=generator,
    )
    plan = check_search(params, _ctx.workspace())  # names and combinations, before any work; once
    t0 = time.perf_counter()
    with (
        Workers(workers, ray_address=ray_address) as pool,
        tqdm(total=budget, desc=f"{strategy} search", unit="eval", disable=as_json or not sys.stderr.isatty()) as bar,
    ):
        h = execute_search(
            plan, _ctx.workspace(), checkpoint=checkpoint, workers=pool if workers > 1 or ray_address else None,
            on_batch=lambda h: bar.update(len(h.evaluations) - bar.n), generator_epochs=_ctx.settings().generator_epochs,
        )  # fmt: skip
    best = h.best()
    summary = h.to_dict() | {"best": None if best is None else best.architecture, "best_value": None if best is None else best.value,
                             "oracle": plan.evaluator.source, "wall_s": time.perf_counter() - t0}  # fmt: skip
    if h.objectives:
        summary["front"] = [h.evaluations[i].architecture for i in h.front()]
    text = (
        f"{len(h.evaluations)} evaluations of {plan.evaluator.source} ({strategy}, batch {batch_size}, seed {seed}, "
        f"{summary['wall_s']:.1f} s); best {best.value:.3f} after {h.evaluations_to(best.value)}: {best.architecture}"
        if best is not None
        else "no evaluation returned a value"
    )
    if h.objectives:
        text += f"\nPareto front ({' vs '.join(n for n, _ in h.objectives)}): {len(summary['front'])} architectures"
        for i in h.front():
            e = h.evaluations[i]
            text += (
                f"\n  {e.value:.3f}  "
                + "  ".join(f"{n} {e.values.get(n, float('nan')):.4g}" for n, _ in h.objectives[1:])
                + f"  {e.architecture}"
            )
    _emit(summary, as_json, text)


def bench_search(
    space: Annotated[str, typer.Option("--space")] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help="Comma-separated: random, re, ls, bananas, bo, robot; bo+zero-cost or bo+transfer add a prior, "
            "bo+generator the guided diffusion generator's cells to its pool.",
        ),
    ] = "bo,re,random,ls",
    budget: Annotated[int, typer.Option("--budget", min=1, max=10_000)] = 150,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 1,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1000)] = 20,
    first_seed: Annotated[int, typer.Option("--first-seed", min=0, help="Development used seeds 0-2.")] = 100,
    metric: Annotated[str | None, typer.Option("--metric", help="Oracle column of TASK (e.g. test_acc).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write runs.json, summary.csv and regret.png here.")] = None,
    minimize: Annotated[
        str | None,
        typer.Option(
            "--minimize", help="Multi-objective: latency (with --device), params or flops; reports hypervolume."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="Device of the published latency.")] = None,
    generator_store: Annotated[
        Path | None,
        typer.Option(
            "--generator-store",
            help="Model store holding the space's diffusion generator for +generator "
            "(default: the service's; trained there on first use).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every strategy in one harness: evaluations to the optimum, best value at 10-150, RI, wall time (with
    --minimize: the hypervolume of each run's front over the true front's)."""
    names = _strategy_names(strategies)
    t0 = time.time()
    common: dict = dict(budget=budget, seeds=seeds, first_seed=first_seed, batch_size=batch_size, metric=metric,
                        log=lambda m: typer.echo(m, err=True))  # fmt: skip
    if minimize is not None or device is not None:
        if minimize not in SECOND_OBJECTIVES:
            raise SearchInputError(f"--minimize must be latency, params or flops, got {minimize!r}")
        rows, meta = benchmark_multiobjective(
            _ctx.workspace(), space, task, names, minimize=minimize, device=device, **common
        )
    else:
        rows, meta = benchmark_search(_ctx.workspace(), space, task, names, store=generator_store,
                                      generator_epochs=_ctx.settings().generator_epochs, **common)  # fmt: skip
    meta["machine"] = (
        f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {time.time() - t0:.0f} s"
    )
    summary = summarize(rows, meta)
    files = write_outputs(rows, meta, out) if out is not None else []
    text = format_summary(summary, meta) + f"\n{meta['machine']}" + "".join(f"\nwrote {p}" for p in files)
    _emit({"meta": meta, "summary": summary, "files": [str(p) for p in files]}, as_json, text)
