"""The tensor diffusion acts on: the node-type matrix alone, or with the adjacency beside it.

On NB201 the DAG is fixed and only the operations are diffused: the state is
the node-type matrix ``x`` ``[B, N, T]``. On NB101 both are: the state is
``z = [x | adj]`` ``[B, N, T + N]`` (the adjacency's rows appended to the node
rows), so that one SDE, one mask of free entries, one sampler and one
guidance gradient serve both; :class:`Layout` packs and splits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Layout:
    """How a state tensor splits into node types and adjacency.

    Attributes:
        types: Node types ``T`` (the first ``T`` columns of the state).
        adj: The fixed adjacency ``[N, N]`` when it is not diffused; ``None`` when it is.
    """

    types: int
    adj: torch.Tensor | None

    @property
    def diffuses_adjacency(self) -> bool:
        return self.adj is None

    def pack(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """The state of node types ``x`` ``[..., N, T]`` and adjacency ``adj`` ``[..., N, N]``."""
        return torch.cat([x, adj], dim=-1) if self.adj is None else x

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, adj)`` of a batch of states ``[B, N, ...]`` (the fixed adjacency expanded to the batch)."""
        if self.adj is None:
            return z[..., : self.types], z[..., self.types :]
        return z, self.adj.expand(len(z), -1, -1)
