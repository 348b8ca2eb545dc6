"""Pickle-free training checkpoints: a module's state, the optimiser's momentum buffers, JSON metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from archgen.errors import CheckpointError


def save_checkpoint(path: Path, module: nn.Module, opt: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    """Write ``module``'s state dict, ``opt``'s momentum buffers and ``meta`` to ``path`` (``.npz``, atomically)."""
    arrays = {f"net.{k}": v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
    ids = {id(p): n for n, p in module.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                arrays[f"opt.{ids[id(p)]}"] = buf.detach().cpu().numpy().copy()
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def read_meta(path: Path) -> dict[str, Any]:
    """A checkpoint's metadata alone."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(z["meta"].tobytes().decode())  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path.name} is not a checkpoint ({e})") from None


def load_checkpoint(
    path: Path, module: nn.Module, opt: torch.optim.Optimizer, expect: dict[str, Any]
) -> dict[str, Any]:
    """Restore ``module`` and ``opt`` from ``path`` and return its metadata.

    Raises:
        CheckpointError: not a checkpoint, or its ``meta`` differs from ``expect`` on one of ``expect``'s keys
            (another run: other parameters or data).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path.name} is not a checkpoint ({e})") from None
    if any(json.loads(json.dumps(v)) != meta.get(k) for k, v in expect.items()):
        raise CheckpointError(f"{path.name} is the checkpoint of another run (other parameters or training images)")
    module.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net.")})
    names = dict(module.named_parameters())
    for k, v in arrays.items():
        if k.startswith("opt."):
            opt.state[names[k[4:]]]["momentum_buffer"] = torch.from_numpy(v).clone().to(names[k[4:]].device)
    return meta  # type: ignore[no-any-return]


__all__ = ["CheckpointError", "load_checkpoint", "read_meta", "save_checkpoint"]
