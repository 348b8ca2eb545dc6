"""``archgen generate``: architectures for a task from the diffusion generator, guided toward accuracy."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit


def register(app: typer.Typer) -> None:
    """Add this module's command to the main app."""
    app.command("generate")(generate)


def generate(
    space: Annotated[str, typer.Option("--space", help="Search space (the diffusion generator supports nb201).")] = "nb201",
    task: Annotated[str, typer.Option("--task", help="Task whose accuracy guidance raises.")] = "cifar10",
    n: Annotated[int, typer.Option("-n", "--n", help="Architectures to return.")] = 100,
    guidance: Annotated[float, typer.Option("--guidance", help="Guidance scale (0: unguided).")] = 20.0,
    labelled: Annotated[int, typer.Option("--labelled", help="Table cells the guidance surrogate is trained on.")] = 156,
    max_params: Annotated[
        float | None, typer.Option("--max-params", help="Parameter budget in millions (every sample meets it).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Generator training epochs (trained once, then stored).")] = 200,
    steps: Annotated[int, typer.Option("--steps", help="Sampling steps.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Generate architectures for a task with the diffusion generator (DiffusionNAG-style).

    The space's generator is trained on first use (no labels) and kept in the
    model store; guidance trains a noise-aware surrogate on LABELLED cells of the
    task's table. Prints each architecture with the surrogate's predicted
    accuracy, its parameters and its measured accuracy from the table.
    """
    from pydantic import ValidationError

    from archgen.generators.base import GeneratorInputError
    from archgen.generators.pipeline import GenerateParams
    from archgen.generators.pipeline import generate as run

    try:
        params = GenerateParams(
            space=space, task=task, n=n, guidance_scale=guidance, labelled=labelled, max_params=max_params,
            seed=seed, epochs=epochs, steps=steps,
        )
    except ValidationError as e:
        err = e.errors()[0]
        raise GeneratorInputError(f"--{'-'.join(str(x) for x in err['loc']).replace('_', '-')}: {err['msg']}") from None
    result = run(params, _ctx.workspace(), _ctx.models(), log=lambda m: typer.echo(m, err=True))
    lines = [
        f"{len(result.items)} architectures for {result.space}/{result.task} (target {result.target}; "
        f"generator {result.generator_id}; {'guided' if result.guided else 'unguided'}; "
        f"{result.valid}/{result.drawn} draws valid; {result.uniqueness:.0%} distinct)",
        f"  {'predicted':>9} {'measured':>9} {'params M':>9}  architecture",
    ]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"
    for g in result.items:
        lines.append(f"  {fmt(g.predicted):>9} {fmt(g.measured):>9} {fmt(g.params_m):>9}  {g.architecture}")
    _emit(asdict(result) | {"uniqueness": result.uniqueness}, as_json, "\n".join(lines))
