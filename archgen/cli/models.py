"""``archgen predict-images --model DIR IMAGES...`` and ``archgen export-onnx --model DIR``: use a trained model
(:mod:`archgen.training.model`) without the service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _emit


def register(app: typer.Typer) -> None:
    """Add ``predict-images`` and ``export-onnx`` to the app."""
    app.command("predict-images")(predict_images)
    app.command("export-onnx")(export)


ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model",
        help="A trained model: a training's folder (archgen train --out DIR, a search's run) holding "
        "model.safetensors, or that file (e.g. downloaded with ?what=model).",
    ),
]


def predict_images(
    images: Annotated[list[Path], typer.Argument(help="JPEG or PNG files to classify.")],
    model: ModelOpt,
    as_json: JsonOpt = False,
) -> None:
    """Classify images with a trained model: each file's class and probability (decoded as its task's were)."""
    from archgen.training.model import load_model  # lazy: imports torch; `--help` and usage errors must not

    m = load_model(model)
    out = m.predict_files(images)
    width = max(len(str(o["file"])) for o in out)
    text = "\n".join(f"{o['file']:<{width}}  {o['class']}  {o['probability']:.3f}" for o in out)
    _emit({"model": m.card.to_json(), "predictions": out}, as_json, text)


def export(
    model: ModelOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="The ONNX file (default: model.onnx beside the model).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a trained model as ONNX (input 'images' [batch, 3, R, R], output 'logits'; runs in onnxruntime)."""
    from archgen.training.model import MODEL_ONNX, export_onnx, load_model  # lazy: imports torch, as above

    m = load_model(model)
    path = out if out is not None else (model if model.is_dir() else model.parent) / MODEL_ONNX
    export_onnx(m, path)
    c = m.card
    _emit({"onnx": str(path), "input": [3, c.resolution, c.resolution], "classes": c.classes}, as_json,
          f"wrote {path}: input 'images' [batch, 3, {c.resolution}, {c.resolution}] normalised as {model} says "
          f"(mean {[round(v, 4) for v in c.mean]}, std {[round(v, 4) for v in c.std]}), output 'logits' over "
          f"{', '.join(c.classes)}")  # fmt: skip
