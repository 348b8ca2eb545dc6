"""A trained network a user can load: weights with everything needed to use them, as safetensors; ONNX on request.

Every training (:func:`archgen.training.trainer.train_architecture`) leaves, beside ``weights.npz``, a model in
its work directory:

* ``model.safetensors``: the network's state dict (Hugging Face's safetensors: tensors and a JSON header, no
  pickle), its header's metadata holding the model card under ``"archgen"``;
* ``model.json``: the same card (:class:`ModelCard`): the cell, the network's constructor arguments
  (``NB201Network(ops, num_classes, C, N)``), the class names in label order, and the input: images decoded to
  ``image_size`` square (RGB, bilinear), scaled to [0, 1], normalised per channel by ``mean`` and ``std`` (the
  task's training images'), resized to ``resolution`` (area down, bilinear up), NCHW float32;
* on request, ``model.onnx`` (:func:`export_onnx`: torch's exporter at its own opset, no version conversion;
  input ``images`` ``[batch, 3, R, R]``, output ``logits``), which ``onnxruntime`` runs without archgen or
  PyTorch.

As torchvision's weight enums carry their preprocessing and class names beside the weights, so does the card.
:func:`load_model` reads a model folder or its ``.safetensors`` file (checked: format, tensors' shapes against
the card) and :meth:`TrainedModel.predict_files` classifies image files as the training saw its images.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from archgen.datasets.images import ImageArrayDataset
from archgen.errors import ArtifactError
from archgen.spaces import get_space
from archgen.spaces.nb201_network import NB201Network
from archgen.tasks.store import decode_files
from archgen.training.data import prepare_images

#: Files of a model in a training's work directory.
MODEL_WEIGHTS = "model.safetensors"
MODEL_CARD = "model.json"
MODEL_ONNX = "model.onnx"
#: The card's format; a card of another format is refused.
MODEL_FORMAT = "archgen-model/1"


@dataclass(frozen=True)
class ModelCard:
    """What a trained network needs beside its weights (module docstring)."""

    architecture: str
    num_classes: int
    C: int
    N: int
    classes: list[str]
    image_size: int
    resolution: int
    mean: list[float]
    std: list[float]
    task: str = ""
    epochs: int = 0
    accuracy: dict[str, float] = field(default_factory=dict)
    format: str = MODEL_FORMAT

    @property
    def network(self) -> dict[str, Any]:
        """The network's constructor and its arguments."""
        ops = list(get_space("nb201").parse(self.architecture).ops)
        return {"class": "archgen.spaces.nb201_network.NB201Network", "ops": ops, "num_classes": self.num_classes,
                "C": self.C, "N": self.N}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"network": self.network, "input": {
            "layout": "NCHW float32", "channels": "RGB", "decode": f"resize to {self.image_size}x{self.image_size} "
            "(bilinear), scale to [0, 1], subtract mean, divide by std (per channel), then resize to "
            f"{self.resolution}x{self.resolution} (area when smaller, bilinear when larger)"}}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ModelCard:
        if d.get("format") != MODEL_FORMAT:
            raise ArtifactError(f"not an archgen model card (format {d.get('format')!r}, expected {MODEL_FORMAT!r})")
        try:
            names = set(cls.__dataclass_fields__)
            return cls(**{k: v for k, v in d.items() if k in names})
        except TypeError as e:
            raise ArtifactError(f"model card: {e}") from None


def save_model(net: torch.nn.Module, card: ModelCard, folder: Path) -> Path:
    """Write ``model.safetensors`` (the card in its metadata) and ``model.json`` into ``folder``; returns the
    former."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    text = json.dumps(card.to_json())
    tmp = folder / (MODEL_WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"archgen": text})
    tmp.replace(folder / MODEL_WEIGHTS)
    (folder / MODEL_CARD).write_text(json.dumps(card.to_json(), indent=1))
    return folder / MODEL_WEIGHTS


class TrainedModel:
    """A loaded model: the network (eval mode, CPU) and its card."""

    def __init__(self, net: NB201Network, card: ModelCard) -> None:
        self.net, self.card = net.eval(), card

    def preprocess(self, images: np.ndarray) -> torch.Tensor:
        """``uint8`` images ``[n, image_size, image_size, 3]`` as the network's input (module docstring)."""
        c = self.card
        if images.ndim != 4 or images.shape[1:] != (c.image_size, c.image_size, 3):
            raise ArtifactError(
                f"images must be [n, {c.image_size}, {c.image_size}, 3] uint8, got {list(images.shape)}"
            )
        ds = ImageArrayDataset(images, np.zeros(len(images), dtype=np.int64), c.classes, c.mean, c.std)
        return prepare_images(ds, c.resolution)[0]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x)

    def predict_files(self, paths: Sequence[Path]) -> list[dict[str, Any]]:
        """Each image file's predicted class and class probabilities (decoded as the task's images were)."""
        arr = decode_files(list(paths), self.card.image_size)
        probs = F.softmax(self.logits(self.preprocess(arr)), dim=1).numpy()
        return [{"file": str(p), "class": self.card.classes[int(np.argmax(pr))], "probability": float(pr.max()),
                 "probabilities": {c: float(v) for c, v in zip(self.card.classes, pr, strict=True)}}
                for p, pr in zip(paths, probs, strict=True)]  # fmt: skip


def load_model(path: Path) -> TrainedModel:
    """The model in ``path`` (a folder holding ``model.safetensors``, or that file).

    Raises:
        ArtifactError: no model there, a corrupt file, a card of another format, weights that do not fit it.
    """
    path = Path(path)
    file = path / MODEL_WEIGHTS if path.is_dir() else path
    if not file.is_file():
        raise ArtifactError(f"no model at {path}: expected a folder with {MODEL_WEIGHTS}, or that file")
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(f"{file} is not a readable safetensors file: {e}") from None
    if "archgen" not in meta:
        raise ArtifactError(f"{file} holds no archgen model card (its metadata has no 'archgen' entry)")
    try:
        card = ModelCard.from_json(json.loads(meta["archgen"]))
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{file}: its model card is not JSON: {e}") from None
    net = NB201Network(get_space("nb201").parse(card.architecture).ops, card.num_classes, C=card.C, N=card.N)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(f"{file}: the weights do not fit the card's network: {str(e)[:300]}") from None
    return TrainedModel(net, card)


def export_onnx(model: TrainedModel, path: Path) -> Path:
    """Write ``model`` as ONNX to ``path`` (a dynamic batch; module docstring) and return it."""
    x = torch.zeros(2, 3, model.card.resolution, model.card.resolution)
    tmp = path.with_name(path.name + ".tmp")
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)  # its notes on torchvision's operators, which these networks do not use
    try:
        with warnings.catch_warnings():  # and on the network's cached pooling counts
            warnings.simplefilter("ignore")
            torch.onnx.export(model.net, (x,), str(tmp), dynamo=True, verbose=False, input_names=["images"],
                              output_names=["logits"], dynamic_shapes=({0: batch},), external_data=False)  # fmt: skip
    finally:
        log.setLevel(level)
    tmp.replace(path)
    return path


__all__ = [
    "MODEL_CARD",
    "MODEL_FORMAT",
    "MODEL_ONNX",
    "MODEL_WEIGHTS",
    "ModelCard",
    "TrainedModel",
    "export_onnx",
    "load_model",
    "save_model",
]
