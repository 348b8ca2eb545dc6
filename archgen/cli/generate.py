"""``archgen generate``: architectures for a task from the diffusion generator, guided toward accuracy under constraints."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit


def register(app: typer.Typer) -> None:
    """Add this module's command to the main app."""
    app.command("generate")(generate)


def generate(
    space: Annotated[
        str, typer.Option("--space", help="Search space (the diffusion generator supports nb201 and nb101).")
    ] = "nb201",
    task: Annotated[str, typer.Option("--task", help="Task whose accuracy guidance raises.")] = "cifar10",
    n: Annotated[int, typer.Option("-n", "--n", help="Architectures to return.")] = 100,
    guidance: Annotated[float, typer.Option("--guidance", help="Guidance scale (0: unguided).")] = 20.0,
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
    steps: Annotated[int, typer.Option("--steps", help="Sampling steps.")] = 200,
    method: Annotated[
        str, typer.Option("--method", help="Sampler: pc (DiffusionNAG's), euler (fastest: --steps 20), ode.")
    ] = "pc",
    as_json: JsonOpt = False,
) -> None:
    """Generate architectures for a task with the diffusion generator (DiffusionNAG-style).

    The space's generator is trained on first use (no labels) and kept in the
    model store. Guidance trains a noise-aware surrogate on LABELLED cells of the
    task's table, or of other tasks' tables only with --transfer-from (the pool
    is then ranked by a LightGBM on the same labels). Budgets on parameters,
    FLOPs and latency on a device are followed by gradient and met by every
    architecture printed. Prints each architecture with the surrogate's
    predicted accuracy, its published accuracy and constrained values.
    """
    from pydantic import ValidationError
    from tqdm import tqdm

    from archgen.generators.base import GeneratorInputError
    from archgen.generators.pipeline import GenerateParams
    from archgen.generators.pipeline import generate as run

    try:
        params = GenerateParams(
            space=space,
            task=task,
            n=n,
            guidance_scale=guidance,
            labelled=labelled,
            transfer_from=transfer_from,
            max_params=max_params,
            max_flops=max_flops,
            max_latency_ms=max_latency_ms,
            device=device,
            constraint_scale=constraint_scale,
            seed=seed,
            epochs=epochs,
            steps=steps,
            method=method,
        )
    except ValidationError as e:
        err = e.errors()[0]
        raise GeneratorInputError(f"--{'-'.join(str(x) for x in err['loc']).replace('_', '-')}: {err['msg']}") from None
    with tqdm(total=100, desc="sampling", unit="%", disable=as_json or not sys.stderr.isatty()) as bar:

        def on_progress(fraction: float, _message: str) -> None:
            bar.update(max(0, int(fraction * 100) - bar.n))

        result = run(
            params, _ctx.workspace(), _ctx.models(), log=lambda m: typer.echo(m, err=True), on_progress=on_progress
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
        f"generator {result.generator_id}; "
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
