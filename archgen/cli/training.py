"""``archgen train ARCH --task NAME``: train one architecture from scratch and keep its weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit, build, fraction_bar
from archgen.errors import TrainingInputError


def register(app: typer.Typer) -> None:
    """Add ``train`` to the app."""
    app.command("train")(train)


def train(
    arch: Annotated[
        str, typer.Argument(help="The NB201 cell, e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|...|'.")
    ],
    task: Annotated[
        str, typer.Option("--task", help="cifar10 (test accuracy) or cifar10-valid (held-out half).")
    ] = "cifar10",
    epochs: Annotated[int, typer.Option("--epochs", help="NB201's schedule: 200.")] = 200,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 256,
    lr: Annotated[float, typer.Option("--lr")] = 0.1,
    width: Annotated[int, typer.Option("--width", help="C: width of the first stage (NB201: 16).")] = 16,
    depth: Annotated[int, typer.Option("--depth", help="N: cells per stage (NB201: 5).")] = 5,
    resolution: Annotated[int, typer.Option("--resolution")] = 32,
    train_images: Annotated[int | None, typer.Option("--train-images", help="Train on a stratified subset.")] = None,
    no_augment: Annotated[bool, typer.Option("--no-augment", help="No random crops and flips.")] = False,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for weights.npz, provenance.json and the checkpoint (resumes).")
    ] = Path("archgen-training"),
    threads: Annotated[int | None, typer.Option("--threads", min=1, max=256)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train ARCH on TASK's images and keep its weights (numpy .npz, no pickle) with their provenance.

    A progress bar on a terminal; a checkpoint in --out resumes an interrupted run."""
    import torch  # lazy: `archgen train --help` and usage errors must not pay torch's import

    from archgen.training.trainer import TrainingParams, train_architecture  # lazy: imports torch, as above

    params = build(
        TrainingParams,
        TrainingInputError,
        {"C": "width", "N": "depth"},
        arch=arch,
        task=task,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        C=width,
        N=depth,
        resolution=resolution,
        train_images=train_images,
        augment=not no_augment,
        seed=seed,
    )
    if threads is not None:
        torch.set_num_threads(threads)
    with fraction_bar("training", as_json) as progress:
        result = train_architecture(params, _ctx.workspace(), out, on_progress=progress)
    acc = ", ".join(f"{name} accuracy {result[k]:.2f}%" for name, k in (("validation", "val_acc"), ("test", "test_acc"))
                    if result.get(k) is not None)  # fmt: skip
    if result.get("test_note"):
        acc += f" ({result['test_note']})"
    text = (f"{result['arch']} on {result['task']}: {acc} after {result['epochs']} "
            f"epochs ({result['seconds']:.0f} s, {result['params']:,} parameters)\nweights {out / result['weights']} "
            f"(sha256 {result['weights_sha256'][:16]}...), provenance {out / 'provenance.json'}\nmodel "
            f"{out / result['model']} (the weights with their classes, input size and normalisation: archgen "
            f"predict-images --model {out} IMAGES...)")  # fmt: skip
    _emit(result, as_json, text)
