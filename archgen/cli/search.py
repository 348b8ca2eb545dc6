"""``archgen search`` (one search on a benchmark table) and ``archgen bench search`` (every strategy, many seeds)."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
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
from archgen.services.search import (
    SECOND_OBJECTIVES,
    SearchParams,
    SearchPlan,
    check_search,
    execute_search,
    progress_message,
    report,
)


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
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="bo (default), mobo, robot, bananas, re, ls or random; with --evaluator training: "
            "prior-sh (default) or sh.",
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
            "--workers", min=1, max=256, help="Threads evaluating a batch at once (at least the batch, training)."
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
    """Search a benchmark table for the best architecture (evaluations are table lookups, charged their epochs)."""
    try:
        ref = None if reference is None else tuple(float(v) for v in reference.split(","))
    except ValueError:
        raise SearchInputError(f"--reference takes two numbers separated by a comma, got {reference!r}") from None
    if batch_size is None and evaluator != "training":
        batch_size = 1  # one lookup at a time (a training search's default is two trainings at once)
    given = {"strategy": strategy, "budget": budget, "batch_size": batch_size, "evaluator": evaluator,
             "budget_minutes": budget_minutes, "fidelities": _fidelities(fidelities), "final_epochs": final_epochs,
             "schedule": _pairs(schedule)}  # fmt: skip
    params = build(
        SearchParams,
        SearchInputError,
        {"schedule": "schedule", "fidelities": "fidelities"},  # options holding several fields each
        space=space,
        task=task,
        metric=metric,
        prior=prior,
        acquisition=acquisition,
        minimize=minimize,
        device=device,
        seed=seed,
        reference=ref,
        generator=generator,
        **{k: v for k, v in given.items() if v is not None},
    )
    settings = _ctx.settings()
    plan = check_search(params, _ctx.workspace(), max_memory=settings.job_memory_bytes)  # before any work; once
    if plan.training is not None:
        _training_search(plan, checkpoint, workers, ray_address, as_json)
        return
    assert plan.evaluator is not None and params.budget is not None
    t0 = time.perf_counter()
    with (
        Workers(workers, ray_address=ray_address) as pool,
        tqdm(
            total=params.budget,
            desc=f"{params.strategy} search",
            unit="eval",
            disable=as_json or not sys.stderr.isatty(),
        ) as bar,
    ):
        h = execute_search(
            plan, _ctx.workspace(), checkpoint=checkpoint, workers=pool if workers > 1 or ray_address else None,
            on_batch=lambda h: bar.update(len(h.evaluations) - bar.n), generator_epochs=settings.generator_epochs,
        )  # fmt: skip
    best = h.best()
    strategy, batch_size = params.strategy, params.batch_size
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


def _fidelities(text: str | None) -> list[dict[str, int]] | None:
    """``--fidelities 2,6,20`` or ``1x1000,3x1000,20`` as fidelity objects."""
    if text is None:
        return None
    out = []
    for item in (t.strip() for t in text.split(",")):
        epochs, x, images = item.partition("x")
        try:
            out.append({"epochs": int(epochs)} | ({"train_images": int(images)} if x else {}))
        except ValueError:
            raise SearchInputError(
                f"--fidelities takes EPOCHS or EPOCHSxIMAGES separated by commas (e.g. 2,6,20), got {item!r}"
            ) from None
    return out


def _pairs(text: str | None) -> dict[str, str] | None:
    """``--schedule C=4,N=1`` as a dict (the request model converts and checks the values)."""
    if text is None:
        return None
    out = {}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SearchInputError(f"--schedule takes KEY=VALUE pairs separated by commas (e.g. C=8,N=1), got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _training_search(plan: SearchPlan, checkpoint: Path | None, workers: int, ray_address: str | None,
                     as_json: bool) -> None:  # fmt: skip
    """Run a training search from the CLI: progress on stderr, the result (and its weights' path) on stdout."""
    t0 = time.perf_counter()
    workdir = None if checkpoint is not None else Path(tempfile.mkdtemp(prefix="archgen-search-"))
    ckpt = checkpoint if checkpoint is not None else workdir / "history.json"  # type: ignore[operator]
    quiet = as_json or not sys.stderr.isatty()

    def say(message: str) -> None:
        if not quiet:
            typer.echo(message, err=True)

    with Workers(workers if ray_address else max(workers, plan.params.batch_size), ray_address=ray_address) as pool:
        h = execute_search(plan, _ctx.workspace(), checkpoint=ckpt, workers=pool,
                           on_batch=lambda h: say(progress_message(h)), on_progress=lambda _f, m: say(m))  # fmt: skip
    rep = report(h, limit=0)
    rep.pop("history")
    root = Path(ckpt).parent
    res = h.result
    for part in ("best", "final"):
        if part in res:
            res[part]["weights"] = str(root / res[part]["run"] / "weights.npz")
    summary = {"search": rep, "checkpoint": str(ckpt), "wall_s": time.perf_counter() - t0}
    best = res.get("best")
    text = progress_message(h) + f" ({summary['wall_s']:.0f} s wall)"
    if best is None:
        text += "\nno training returned a value"
    else:
        text += (
            f"\nbest: {best['value']:.2f}% at {best['fidelity']}: {best['architecture']}\n  weights {best['weights']}"
        )
        if "final" in res:
            f = res["final"]
            text += (
                f"\nfinal ({f['epochs']} epochs): {f['value']:.2f}% in {f['seconds']:.0f} s\n  weights {f['weights']}"
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
