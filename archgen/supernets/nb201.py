"""The NAS-Bench-201 weight-sharing supernet: every operation on every edge of one network.

The macro skeleton is NB201's (:mod:`archgen.spaces.nb201_network`): stem,
three stages of ``N`` cells at widths ``C``, ``2C``, ``4C`` joined by residual
reductions, BN-ReLU, pooling, classifier. Each of a cell's six edges holds the
five candidate operations, each with its own weights (and batch norm); a
forward pass takes one path, the six op ids shared by every cell as in NB201,
so an architecture of the space is a path through the supernet (single-path
one-shot NAS: Guo et al., "Single Path One-Shot Neural Architecture Search
with Uniform Sampling", ECCV 2020).

:meth:`NB201Supernet.path_network` builds the standalone
:class:`~archgen.spaces.nb201_network.NB201Network` of a cell with the weights
the path inherits: both give the same outputs (``tests/supernets``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from archgen.spaces.nb201 import EDGES, NUM_NODES, OPS
from archgen.spaces.nb201_network import NB201Network, make_op, skeleton

#: Position of ``none`` in :data:`~archgen.spaces.nb201.OPS`: its output is zero, so it is skipped in sums.
NONE = OPS.index("none")


class MixedEdge(nn.Module):
    """One edge's candidate operations (one module per op of :data:`~archgen.spaces.nb201.OPS`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(make_op(name, channels) for name in OPS)

    def forward(self, x: torch.Tensor, op: int) -> torch.Tensor:
        return self.candidates[op](x)  # type: ignore[no-any-return]


class SupernetCell(nn.Module):
    """A cell whose edges hold every operation; ``forward(x, ops)`` runs the path ``ops`` (6 op ids).

    Node ``j`` is the sum of ``op_ij(node_i)`` over ``i < j`` (edges whose op is ``none`` add nothing; a node
    without any other input is zero), the output is node 3, as in :class:`~archgen.spaces.nb201_network.NB201Cell`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(channels) for _ in EDGES)

    def forward(self, x: torch.Tensor, ops: Sequence[int]) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NUM_NODES):
            terms = [self.edges[k](nodes[i], ops[k]) for k, (i, jj) in enumerate(EDGES) if jj == j and ops[k] != NONE]
            total = terms[0] if terms else torch.zeros_like(x)
            for t in terms[1:]:
                total = total + t
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The weight-sharing supernet of NB201 cells.

    Args:
        num_classes: Output classes.
        C: Width of the first stage (NB201: 16).
        N: Cells per stage (NB201: 5).

    Shapes:
        ``forward(x, ops)``: ``x`` ``[batch, 3, H, W]``, ``ops`` 6 op ids -> logits ``[batch, num_classes]``.
    """

    def __init__(self, num_classes: int, C: int = 16, N: int = 5) -> None:
        super().__init__()
        if num_classes < 1 or C < 1 or N < 1:
            raise ValueError(f"num_classes, C and N must be >= 1, got {num_classes}, {C}, {N}")
        self.num_classes, self.C, self.N = num_classes, C, N
        self.stem, layers, width = skeleton(C, N, SupernetCell)
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor, ops: Sequence[int]) -> torch.Tensor:
        if len(ops) != len(EDGES) or not all(0 <= int(o) < len(OPS) for o in ops):
            raise ValueError(f"ops must be {len(EDGES)} op ids in 0..{len(OPS) - 1}, got {list(ops)}")
        h = self.stem(x)
        for layer in self.cells:
            h = layer(h, ops) if isinstance(layer, SupernetCell) else layer(h)
        h = self.lastact(h)
        return self.classifier(self.global_pooling(h).flatten(1))  # type: ignore[no-any-return]

    def path_modules(self, ops: Sequence[int]) -> list[nn.Module]:
        """The modules a path runs through (shared ones and the chosen op of every edge of every cell)."""
        out: list[nn.Module] = [self.stem, self.lastact, self.classifier]
        for layer in self.cells:
            if isinstance(layer, SupernetCell):
                out.extend(edge.candidates[o] for edge, o in zip(layer.edges, ops, strict=True))  # type: ignore[union-attr]
            else:
                out.append(layer)
        return out

    def path_state_dict(self, ops: Sequence[int]) -> dict[str, torch.Tensor]:
        """The weights (and batch-norm buffers) of the path ``ops``, named as in
        :class:`~archgen.spaces.nb201_network.NB201Network`."""
        out: dict[str, torch.Tensor] = {}
        prefix = {}
        for i, layer in enumerate(self.cells):
            if isinstance(layer, SupernetCell):
                for k, o in enumerate(ops):
                    prefix[f"cells.{i}.edges.{k}.candidates.{o}."] = f"cells.{i}.ops.{k}."
        for name, t in self.state_dict().items():
            if not name.startswith("cells.") or not isinstance(self.cells[int(name.split(".")[1])], SupernetCell):
                out[name] = t
                continue
            for src, dst in prefix.items():
                if name.startswith(src):
                    out[dst + name[len(src) :]] = t
        return out

    def path_network(self, ops: Sequence[int]) -> NB201Network:
        """The standalone NB201 network of the cell ``ops`` with the weights this path inherits (a copy)."""
        net = NB201Network(ops, self.num_classes, C=self.C, N=self.N)
        net.load_state_dict({k: v.clone() for k, v in self.path_state_dict(ops).items()})
        return net


__all__ = ["NONE", "MixedEdge", "NB201Supernet", "SupernetCell"]
