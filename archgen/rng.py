"""Explicit randomness for torch code.

Library code never calls ``torch.manual_seed`` nor reads torch's global
generator: a module built here is initialised from a ``torch.Generator`` the
caller owns, and stochastic layers take one too. Two fits with the same seed
in two threads therefore agree exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def torch_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    return torch.Generator().manual_seed(int(seed) % (2**63 - 1))


@torch.no_grad()
def init_parameters_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise ``module``'s parameters in place with PyTorch's default schemes, drawn from ``generator``.

    Weight matrices and kernels (``ndim >= 2``) get ``kaiming_uniform_(a=sqrt(5))``
    and the bias of the same layer ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as
    ``nn.Linear`` / ``nn.Conv2d`` do; normalisation layers get weight 1 and bias 0.
    Other parameters (e.g. GIN's ``eps``) are left as constructed.

    Returns:
        ``module``.
    """
    for sub in module.modules():
        params = dict(sub.named_parameters(recurse=False))
        weight = params.get("weight")
        if weight is not None and weight.ndim >= 2:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            bias = params.get("bias")
            if bias is not None:
                fan_in = weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(bias, -bound, bound, generator=generator)
        elif isinstance(sub, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
            if getattr(sub, "weight", None) is not None:
                nn.init.ones_(sub.weight)
            if getattr(sub, "bias", None) is not None:
                nn.init.zeros_(sub.bias)
    return module


class GeneratorDropout(nn.Module):
    """Dropout whose mask is drawn from an explicit ``torch.Generator``.

    Args:
        p: Drop probability.

    Set :attr:`generator` before training; without one (or in eval mode) the
    layer is the identity, so inference never touches a random generator.
    """

    def __init__(self, p: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or self.generator is None:
            return x
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)
