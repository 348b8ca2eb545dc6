"""Images as training tensors (resized once) and the augmentation every archgen training loop uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from archgen.datasets.images import ImageArrayDataset


def auto_device() -> torch.device:
    """The device archgen trains on: the first CUDA GPU when one is present, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def prepare_images(ds: ImageArrayDataset, resolution: int, batch: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised images at ``resolution`` (area-averaged down, bilinear up) and their labels.

    Returns:
        ``x`` float32 ``[n, 3, resolution, resolution]``, ``y`` int64 ``[n]``.
    """
    xs = []
    for i in range(0, len(ds), batch):
        x = ds._tensor(np.arange(i, min(i + batch, len(ds))))
        if x.shape[-1] != resolution or x.shape[-2] != resolution:
            mode = "area" if x.shape[-1] > resolution else "bilinear"
            x = F.interpolate(x, size=(resolution, resolution), mode=mode)
        xs.append(x)
    return torch.cat(xs), torch.from_numpy(np.asarray(ds.labels, dtype=np.int64))


def augment(x: torch.Tensor, gen: torch.Generator, pad: int) -> torch.Tensor:
    """Random crop (zero padding ``pad``, one shift per batch) and a horizontal flip per image (``x`` ``[b, 3, h, w]``)."""
    if pad > 0:
        dx, dy = (int(v) for v in torch.randint(-pad, pad + 1, (2,), generator=gen))
        x = torch.roll(F.pad(x, (pad, pad, pad, pad)), shifts=(dy, dx), dims=(2, 3))[..., pad:-pad, pad:-pad]
    flip = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def cosine_lr(lr: float, step: int, total: int) -> float:
    """Cosine annealing from ``lr`` to 0 over ``total`` steps (NB201's schedule, without warm-up)."""
    return 0.5 * lr * (1 + float(np.cos(np.pi * step / max(total, 1))))


__all__ = ["augment", "auto_device", "cosine_lr", "prepare_images"]
