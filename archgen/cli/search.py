"""``archgen search`` (one search on a benchmark table, or one that pays for trainings on a task's images) and
``archgen bench search`` (every strategy, many seeds): the options; the work is :mod:`archgen.cli.search_run`'s,
imported only when a command runs (``--help`` and usage errors answer without importing torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, bench_app


def register(app: typer.Typer) -> None:
    """Add ``search`` to the app and ``search`` to the bench group."""
    app.command("search")(search)
    bench_app.command("search")(bench_search)


def search(
    space: Annotated[
        str, typer.Option("--space", help="Search space with a table: nb201, nasbench_graph, nb101.")
    ] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="bo (default), mobo, robot, bananas, re, ls or random; with --evaluator training: "
            "priorband (default), prior-sh, sh or hyperband.",
        ),
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Evaluations (table lookups) to spend (default 100).")
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help="Architectures per batch (q; default 1, trainings at once: 2)."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Objective column of TASK (default: the predictors' target).")
    ] = None,
    prior: Annotated[
        str | None,
        typer.Option(
            "--prior",
            help="zero-cost (published label-free measurements) or transfer (other tasks' labels); with "
            "--evaluator training: transfer (default), zero-cost or none.",
        ),
    ] = None,
    evaluator: Annotated[
        str | None,
        typer.Option(
            "--evaluator",
            help="table (a benchmark task's default), supernet (a user task's default) or training: each cell "
            "trained on TASK's images at several fidelities, within --budget-minutes.",
        ),
    ] = None,
    budget_minutes: Annotated[
        float | None, typer.Option("--budget-minutes", help="--evaluator training: measured training minutes.")
    ] = None,
    budget_trainings: Annotated[
        float | None,
        typer.Option(
            "--budget-trainings",
            help="--evaluator training: the budget in full trainings (the expected seconds of one training at "
            "the highest fidelity, times N; instead of --budget-minutes).",
        ),
    ] = None,
    fidelities: Annotated[
        str | None,
        typer.Option(
            "--fidelities",
            help="--evaluator training: epochs of each fidelity, cheapest first, e.g. 2,6,20 (the default); "
            "EPOCHSxIMAGES trains on a subset, e.g. 1x1000,3x1000,20.",
        ),
    ] = None,
    final_epochs: Annotated[
        int | None,
        typer.Option("--final-epochs", help="--evaluator training: train the best cell again for this many epochs."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="--evaluator training: the trainings' network and optimiser as KEY=VALUE pairs, e.g. "
            "C=8,N=1,resolution=32,batch_size=128 (the default; also lr, momentum, weight_decay, augment).",
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
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Threads evaluating a batch at once (training: one per core, at most the batch).",
        ),
    ] = 1,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Evaluate on a Ray cluster (auto, ray://host:port, local).")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="JSON written after every batch; an unfinished one resumes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search for the best architecture: on a benchmark table, a task's supernet, or real trainings (--evaluator training).

    A table's evaluations are lookups, charged their epochs; with --evaluator training each cell is trained on the
    task's images within --budget-minutes (a cap; --checkpoint keeps the trainings beside it and resumes)."""
    from archgen.cli import search_run  # lazy: the search stack imports torch; --help and usage errors must not

    search_run.search(
        space=space,
        task=task,
        strategy=strategy,
        budget=budget,
        batch_size=batch_size,
        metric=metric,
        prior=prior,
        evaluator=evaluator,
        budget_minutes=budget_minutes,
        budget_trainings=budget_trainings,
        fidelities=fidelities,
        final_epochs=final_epochs,
        schedule=schedule,
        acquisition=acquisition,
        minimize=minimize,
        device=device,
        reference=reference,
        generator=generator,
        seed=seed,
        workers=workers,
        ray_address=ray_address,
        checkpoint=checkpoint,
        as_json=as_json,
    )


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
    from archgen.cli import search_run  # lazy: the search stack imports torch; --help and usage errors must not

    search_run.bench_search(
        space=space,
        task=task,
        strategies=strategies,
        budget=budget,
        batch_size=batch_size,
        seeds=seeds,
        first_seed=first_seed,
        metric=metric,
        out=out,
        minimize=minimize,
        device=device,
        generator_store=generator_store,
        as_json=as_json,
    )
