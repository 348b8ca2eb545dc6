"""The measurement behind :mod:`archgen.training.memory`: what autograd keeps for the backward pass, per image.

For the worst NB201 cell (every edge a 3x3 convolution) at several widths, depths and resolutions, sums the bytes
of every tensor autograd saves (``torch.autograd.graph.saved_tensors_hooks``) in one forward and backward at two
batch sizes; the difference over the batch is the per-image activation memory. Prints it in units of ``4 C R^2``
bytes beside the estimate's ``10 + 32 N``, and the parameter count beside ``C^2 (1140 N + 300)``.

    python benchmarks/bench_memory_estimate.py
"""

from __future__ import annotations

import torch

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.spaces import get_space
from archgen.spaces.nb201_network import NB201Network
from archgen.training.memory import ACT_BASE, ACT_PER_CELL, PARAM_BASE, PARAM_PER_CELL

WORST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
CONFIGS = [(8, 1, 16), (8, 2, 16), (8, 3, 16), (16, 5, 32), (8, 1, 32), (16, 1, 16), (32, 2, 16)]


def saved_bytes(ops: tuple[int, ...], C: int, N: int, R: int, batch: int) -> tuple[int, int]:
    """Bytes autograd saves in one forward and backward of a batch, and the network's parameter count."""
    net = NB201Network(ops, 10, C=C, N=N)
    total = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(torch.randn(batch, 3, R, R))
        (out[1] if isinstance(out, tuple) else out).sum().backward()
    return total[0], sum(p.numel() for p in net.parameters())


def main() -> None:
    ops = get_space("nb201").parse(WORST).ops
    print(
        f"{'C':>3} {'N':>2} {'R':>3}  {'saved / image / 4CR^2':>22}  {'estimate':>8}  {'parameters':>10}  {'estimate':>10}"
    )
    for C, N, R in CONFIGS:
        two, params = saved_bytes(ops, C, N, R, 2)
        four, _ = saved_bytes(ops, C, N, R, 4)
        per_image = (four - two) / 2  # the weights autograd saves once per batch cancel out
        print(
            f"{C:>3} {N:>2} {R:>3}  {per_image / (4 * C * R * R):>22.1f}  {ACT_BASE + ACT_PER_CELL * N:>8.1f}  "
            f"{params:>10,}  {C * C * (PARAM_PER_CELL * N + PARAM_BASE):>10,.0f}"
        )


if __name__ == "__main__":
    main()
