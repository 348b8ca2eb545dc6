"""``archgen generate``: architectures for a task from the diffusion generator, guided toward accuracy under constraints."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from archgen.cli.common import JsonOpt, _ctx, _emit, bench_app, build
from archgen.errors import GeneratorInputError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app (``generate``; ``bench generator`` on the bench group)."""
    app.command("generate")(generate)
    bench_app.command("generator")(bench_generator)


def generate(
    space: Annotated[str, typer.Option("--space", help="Search space: nb201, nb101 or nasbench_graph.")] = "nb201",
    task: Annotated[str, typer.Option("--task", help="Task whose accuracy guidance raises.")] = "cifar10",
    n: Annotated[int, typer.Option("-n", "--n", help="Architectures to return.")] = 100,
    guidance: Annotated[float, typer.Option("--guidance", help="Guidance scale (0: unguided).")] = 20.0,
    guide_by: Annotated[
        str | None,
        typer.Option(
            "--guide-by",
            help="table (a benchmark task's default): the task's published accuracy; zero-cost: no label, the "
            "zero-cost vote on the task's images; supernet: no label, the task's stored supernet's estimates; prior "
            "(a user task's default): no label of the task, its label-free prior (other tasks' published "
            "accuracies, proxies on its images, its supernet).",
        ),
    ] = None,
    labelled: Annotated[
        int | None,
        typer.Option(
            "--labelled", help="Cells the accuracy surrogate is trained on (default 156; 2,000 with --transfer-from)."
        ),
    ] = None,
    transfer_from: Annotated[
        str | None,
        typer.Option(
            "--transfer-from", help="Guide by these other tasks' labels only, comma-separated (none of TASK's)."
        ),
    ] = None,
    max_params: Annotated[float | None, typer.Option("--max-params", help="Parameter budget in millions.")] = None,
    max_flops: Annotated[float | None, typer.Option("--max-flops", help="FLOPs budget in millions.")] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option("--max-latency-ms", help="Latency budget in ms on --device.")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="Device of the latency budget (HW-NAS-Bench or HELP name, e.g. pixel3)."),
    ] = None,
    constraint_scale: Annotated[
        float, typer.Option("--constraint-scale", help="Strength of the constraints' gradient (0: rejection only).")
    ] = 30.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    epochs: Annotated[
        int, typer.Option("--epochs", help="Generator training epochs (trained once, then stored).")
    ] = 200,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Wait for the full generator (--epochs) when it is not trained yet, instead of answering with the "
            "quick one (a few epochs, seconds to train).",
        ),
    ] = False,
    steps: Annotated[int, typer.Option("--steps", help="Sampling steps.")] = 200,
    method: Annotated[
        str, typer.Option("--method", help="Sampler: pc (DiffusionNAG's), euler (fastest: --steps 20), ode.")
    ] = "pc",
    as_json: JsonOpt = False,
) -> None:
    """Generate architectures for a task with the diffusion generator (DiffusionNAG-style).

    The space's generator is trained on first use (no labels) and kept in the
    model store. Guidance trains a noise-aware surrogate on LABELLED cells of the
    task's table, on their zero-cost vote on the task's images with --guide-by
    zero-cost (no label), or of other tasks' tables only with --transfer-from (the pool
    is then ranked by a LightGBM on the same labels). Budgets on parameters,
    FLOPs and latency on a device are followed by gradient and met by every
    architecture printed. Prints each architecture with the surrogate's
    predicted accuracy, its published accuracy and constrained values.
    """
    import archgen.composition  # noqa: F401  # lazy: registers the kinds and imports torch; --help must not
    from archgen.services.generate import FULL_EPOCH_S, check_request, generator_ready  # lazy: as above
    from archgen.services.generate import generate as run  # lazy: as above
    from archgen.services.requests import GenerateRequest  # lazy: the services package imports torch

    params = build(
        GenerateRequest,
        GeneratorInputError,
        None,
        space=space,
        task=task,
        n=n,
        guidance_scale=guidance,
        guide_by=guide_by,
        labelled=labelled,
        transfer_from=transfer_from,
        constraints={  # validated inside build(), so that an error names the option (--max-params)
            "max_params": max_params,
            "max_flops": max_flops,
            "max_latency_ms": max_latency_ms,
            "device": device,
        },
        constraint_scale=constraint_scale,
        seed=seed,
        steps=steps,
        method=method,
    )
    plan = check_request(params, _ctx.workspace())  # bad input: its one-line error before any notice
    quick = None if full else (_ctx.settings().quick_generator_epochs or None)  # the service's setting too
    if quick is not None and quick < epochs and not generator_ready(_ctx.models(), space, epochs):
        took = epochs * FULL_EPOCH_S
        typer.echo(
            f"the full {space} generator ({epochs} epochs, about "
            f"{f'{took / 60:.0f} min' if took >= 90 else f'{took:.0f} s'} on an idle "
            f"2-core machine) is not trained yet: answering with the quick one ({quick} epochs); `archgen generate "
            "--full` trains the full one (so does `archgen serve`, in the background, on the same model store)",
            err=True,
        )
    with tqdm(total=100, desc="sampling", unit="%", disable=as_json or not sys.stderr.isatty()) as bar:

        def on_progress(fraction: float, message: str) -> None:
            bar.set_description(message.split(":")[0][:40], refresh=False)  # the phase: training, surrogates, sampling
            bar.update(max(0, int(fraction * 100) - bar.n))

        result = run(
            plan,
            _ctx.workspace(),
            _ctx.models(),
            generator_epochs=epochs,
            quick_epochs=quick,
            log=lambda m: typer.echo(m, err=True),
            on_progress=on_progress,
        )
    names = list(result.items[0].values) if result.items else []
    head = f"  {'predicted':>9} {'measured':>9}" + (f" {'score':>7}" if result.transfer_from else "")
    head += "".join(f" {k[:16]:>16}" for k in names) + "  architecture"
    met = (
        ""
        if result.met_before_rejection is None
        else f"; {result.met_before_rejection:.0%} met the constraints before rejection"
    )
    lines = [
        f"{len(result.items)} architectures for {result.space}/{result.task} (target {result.target}; "
        f"generator {result.generator_id}, {result.generator_stage}; "
        + (
            "guided by " + ",".join(result.transfer_from) + " labels (transfer)"
            if result.transfer_from
            else ("guided" if result.guided else "unguided")
        )
        + f"; {result.valid}/{result.drawn} draws valid; {result.uniqueness:.0%} distinct{met})",
        head,
    ]
    fmt = lambda v, w=9: f"{'-' if v is None else f'{v:.2f}':>{w}}"
    for g in result.items:
        row = f"  {fmt(g.predicted)} {fmt(g.measured)}" + (f" {fmt(g.score, 7)}" if result.transfer_from else "")
        row += "".join(f" {fmt(g.values.get(k), 16)}" for k in names)
        lines.append(f"{row}  {g.architecture}")
    _emit(result.summary(), as_json, "\n".join(lines))


def bench_generator(
    part: Annotated[
        str,
        typer.Option(
            "--part",
            help="quality (unguided quality and guided accuracy per task, a generator per draw on half the table), "
            "zero-cost (guidance without labels), constraints, transfer, timing (NB201 through the generate pipeline) "
            "or nb101.",
        ),
    ] = "quality",
    space: Annotated[
        str, typer.Option("--space", help="Space of the quality and constraints parts: nb201 or nasbench_graph.")
    ] = "nb201",
    tasks: Annotated[
        str, typer.Option("--tasks", help="Tasks of the quality part's guided rows, comma-separated.")
    ] = "cifar10",
    draws: Annotated[int, typer.Option("--draws", min=1, max=100, help="Draws (seeds).")] = 3,
    first_seed: Annotated[int, typer.Option("--first-seed", min=0, help="First draw's seed (development: 0-2).")] = 100,
    samples: Annotated[int, typer.Option("--samples", min=10, max=100_000, help="Unguided samples per draw.")] = 1000,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=2000, help="Generator training epochs.")] = 200,
    steps: Annotated[int, typer.Option("--steps", min=1, max=2000, help="Sampling steps (quality part).")] = 200,
    method: Annotated[str, typer.Option("--method", help="Sampler of the quality part: pc, euler or ode.")] = "pc",
    labelled: Annotated[
        int, typer.Option("--labelled", min=8, max=15_625, help="Cells the surrogate learns from.")
    ] = 156,
    scales: Annotated[str, typer.Option("--scales", help="Guidance scales, comma-separated.")] = "0,1,5,20",
    constraint_scale: Annotated[float, typer.Option("--constraint-scale", min=0)] = 30.0,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads.")] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Model store for the space's generator (default: the service's; trained once)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write PART_runs.json, PART_summary.csv and PART_summary.png here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Benchmark the diffusion generator on published tables (mean ± std over draws; see BENCHMARKS.md)."""
    import torch  # lazy: `archgen bench generator --help` and usage errors must not pay torch's import

    from archgen.bench import generators as bench  # lazy: as above

    if part not in bench.PARTS:
        raise GeneratorInputError(f"--part must be one of {', '.join(bench.PARTS)}, got {part!r}")
    if method not in ("pc", "euler", "ode"):
        raise GeneratorInputError(f"--method must be pc, euler or ode, got {method!r}")
    try:
        scale_list = tuple(float(v) for v in scales.split(",") if v.strip())
    except ValueError:
        raise GeneratorInputError(f"--scales must be numbers separated by commas, got {scales!r}") from None
    if not scale_list or any(not 0 <= v <= 1000 for v in scale_list):
        raise GeneratorInputError(f"--scales must be numbers in [0, 1000], got {scales!r}")
    opts = bench.BenchOptions(
        space=space,
        tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()),
        draws=draws,
        first_seed=first_seed,
        samples=samples,
        epochs=epochs,
        steps=steps,
        method=method,
        labelled=labelled,
        scales=scale_list,
        constraint_scale=constraint_scale,
        threads=threads or torch.get_num_threads(),
        store=store,
    )
    t0 = time.time()
    rows = bench.run(part, _ctx.workspace(), opts, log=lambda m: typer.echo(m, err=True))
    meta = (
        f"generator benchmark {part} ({space if part in ('quality', 'constraints') else 'nb101' if part == 'nb101' else 'nb201'}), "
        f"draws {first_seed}-{first_seed + draws - 1}, epochs {epochs}, {time.strftime('%Y-%m-%d')}, "
        f"{platform.node()}, {os.cpu_count()} cores, torch threads {opts.threads}, {time.time() - t0:.0f} s"
    )
    summary = bench.summarize(rows)
    files = bench.write_outputs(rows, out, part, meta) if out is not None else []
    text = bench.format_summary(summary) + f"\n{meta}" + "".join(f"\nwrote {p}" for p in files)
    _emit({"meta": meta, "summary": summary, "files": [str(p) for p in files]}, as_json, text)
