"""The NAS-Bench-201 macro skeleton as a ``torch.nn.Module``.

Follows the network trained for NAS-Bench-201 (Dong & Yang, ICLR 2020,
Fig. 1): a 3x3 conv stem, three stages of ``N`` cells at widths ``C``, ``2C``,
``4C`` joined by residual reduction blocks (stride 2), BN-ReLU, global average
pooling and a linear classifier. Its parameter count matches the published
``params`` column for every cell (``archgen space check-params nb201``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from archgen.spaces.nb201_cell import EDGES, NUM_NODES, OPS


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d (affine)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class Zero(nn.Module):
    """The ``none`` operation: a zero tensor of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class AvgPool3x3(nn.Module):
    """3x3 average pooling, stride 1, padding 1, padded positions not counted (``nn.AvgPool2d(3, 1, 1,
    count_include_pad=False)``), as a separable box filter: the same values to float rounding, and two to five
    times faster on the CPU than PyTorch's pooling kernel at NB201's sizes (it dominated supernet scoring)."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[tuple[int, int, torch.dtype], torch.Tensor] = {}

    @staticmethod
    def _box(x: torch.Tensor) -> torch.Tensor:
        p = F.pad(x, (1, 1, 1, 1))
        h = p[..., :, :-2] + p[..., :, 1:-1] + p[..., :, 2:]
        return h[..., :-2, :] + h[..., 1:-1, :] + h[..., 2:, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.shape[-2], x.shape[-1], x.dtype)
        counts = self._counts.get(key)
        if counts is None or counts.device != x.device:
            counts = self._counts[key] = self._box(torch.ones(1, 1, *key[:2], dtype=x.dtype, device=x.device))
        return self._box(x) / counts


def make_op(name: str, channels: int) -> nn.Module:
    """The module for one cell operation (stride 1, same width in and out)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    raise ValueError(f"unknown NB201 operation {name!r}; valid: {', '.join(OPS)}")


class NB201Cell(nn.Module):
    """A cell: node ``j`` = sum of ``op_ij(node_i)`` over ``i < j``; the output is node 3.

    Args:
        ops: 6 op ids in :data:`~archgen.spaces.nb201.EDGES` order.
        channels: Width of every node.
    """

    def __init__(self, ops: Sequence[int], channels: int) -> None:
        super().__init__()
        self.edges = EDGES
        self.ops = nn.ModuleList(make_op(OPS[o], channels) for o in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NUM_NODES):
            nodes.append(sum(self.ops[k](nodes[i]) for k, (i, jj) in enumerate(self.edges) if jj == j))
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NB201's reduction block: a stride-2 ResNet basic block.

    ``conv_b(conv_a(x)) + downsample(x)``, with ``downsample`` = 2x2 average
    pooling followed by a 1x1 conv.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_channels, out_channels, 3, 2, 1)
        self.conv_b = ReLUConvBN(out_channels, out_channels, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


def skeleton(C: int, N: int, cell: Callable[[int], nn.Module]) -> tuple[nn.Sequential, list[nn.Module], int]:
    """NB201's stem, its stage layers (``N`` cells ``cell(width)`` per stage at ``C``, ``2C``, ``4C``, residual
    reductions between stages) and the last width (shared by the network and the supernet)."""
    stem = nn.Sequential(nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
    layers: list[nn.Module] = []
    widths = [C, 2 * C, 4 * C]
    for stage, width in enumerate(widths):
        if stage > 0:
            layers.append(ResidualReduction(widths[stage - 1], width))
        layers.extend(cell(width) for _ in range(N))
    return stem, layers, widths[-1]


class NB201Network(nn.Module):
    """Stem, 3 stages of ``N`` cells with reductions between them, BN-ReLU, pooling, classifier.

    Args:
        ops: The cell's 6 op ids.
        num_classes: Output classes.
        C: Width of the first stage.
        N: Cells per stage.

    Shapes:
        input ``[batch, 3, H, W]`` -> logits ``[batch, num_classes]``.
    """

    def __init__(self, ops: Sequence[int], num_classes: int, C: int = 16, N: int = 5) -> None:
        super().__init__()
        if num_classes < 1 or C < 1 or N < 1:
            raise ValueError(f"num_classes, C and N must be >= 1, got {num_classes}, {C}, {N}")
        self.stem, layers, width = skeleton(C, N, lambda w: NB201Cell(ops, w))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(h).flatten(1))


def build_network(ops: Sequence[int], num_classes: int, C: int = 16, N: int = 5) -> NB201Network:
    """Build the NB201 network for a cell given by its 6 op ids."""
    return NB201Network(ops, num_classes, C=C, N=N)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
