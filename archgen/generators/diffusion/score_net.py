"""The time-conditioned graph transformer that predicts the noise of a noised architecture.

Input: the dense node-type matrix ``x_t`` ``[B, N, T]`` of an op-on-node DAG
(entries outside the space's free-entry mask hold their fixed values), the
DAG's adjacency ``[B, N, N]`` and the diffusion time ``t`` ``[B]``. Output:
the predicted noise ``eps`` ``[B, N, T]``, from which the score is
``-eps / std(t)`` (the noise-prediction form of denoising score matching).

The network is a transformer over the N nodes whose attention logits get a
learned bias per head for each relation between two nodes (edge i -> j, edge
j -> i, the same node, no edge), so attention knows the DAG; a learned
embedding per node position (positions mean something in NB201's fixed DAG);
and the time as Gaussian Fourier features of ``log std(t)`` that shift and
scale every block (FiLM), as in the noise-conditional score networks of Song
et al. DiffusionNAG's score network is a transformer over the same 8 x 7 NB201
matrix.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierTime(nn.Module):
    """Gaussian Fourier features of a scalar (fixed random frequencies, drawn from ``generator``)."""

    def __init__(self, dim: int, generator: torch.Generator, scale: float = 4.0) -> None:
        super().__init__()
        self.register_buffer("w", torch.randn(dim // 2, generator=generator) * scale)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        p = s[:, None] * self.w[None, :] * 2 * math.pi
        return torch.cat([torch.sin(p), torch.cos(p)], dim=-1)


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.dh = heads, dim // heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.rel = nn.Parameter(torch.zeros(4, heads))  # edge i->j, edge j->i, self, none
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.film = nn.Linear(dim, 2 * dim)

    def forward(self, h: torch.Tensor, relation: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        b, n, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, n, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.dh)  # [B, H, N, N]
        bias = torch.einsum("bijr,rh->bhij", relation, self.rel)
        att = torch.softmax(logits + bias, dim=-1)
        h = h + self.proj((att @ v).transpose(1, 2).reshape(b, n, d))
        scale, shift = self.film(temb).unsqueeze(1).chunk(2, dim=-1)
        return h + self.ff(self.norm2(h) * (1 + scale) + shift)


class GraphScoreNet(nn.Module):
    """Noise prediction for noised op-on-node DAGs (see the module docstring).

    Args:
        num_nodes, num_types: Shape of the node-type matrix.
        dim, depth, heads: Width, blocks and attention heads.
        generator: Source of the initial weights and Fourier frequencies.
    """

    def __init__(
        self,
        num_nodes: int,
        num_types: int,
        dim: int,
        depth: int,
        heads: int,
        generator: torch.Generator,
        *,
        adj_in: bool = False,
        edge_head: bool = False,
    ) -> None:
        super().__init__()
        if dim % heads or dim % 2:
            raise ValueError(f"dim ({dim}) must be even and divisible by heads ({heads})")
        self.adj_in, self.edge_head = adj_in, edge_head
        self.inp = nn.Linear(num_types + (2 * num_nodes if adj_in else 0), dim)
        self.pos = nn.Parameter(torch.randn(num_nodes, dim, generator=generator) * 0.02)
        self.time = nn.Sequential(FourierTime(dim, generator), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(_Block(dim, heads) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_types))
        if edge_head:
            self.edge_out = nn.Sequential(
                nn.Linear(3 * dim + 1, dim), nn.GELU(), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 1)
            )

    @staticmethod
    def relations(adj: torch.Tensor) -> torch.Tensor:
        """One-hot relation of each node pair, ``[B, N, N, 4]``: edge i->j, edge j->i, the same node, none."""
        eye = torch.eye(adj.shape[-1], dtype=adj.dtype).expand_as(adj)
        fwd, bwd = adj, adj.transpose(-1, -2)
        none = torch.clamp(1 - fwd - bwd - eye, min=0)
        return torch.stack([fwd, bwd, eye, none], dim=-1)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, log_std: torch.Tensor):
        """Predicted noise ``[B, N, T]`` of ``x`` ``[B, N, T]`` at noise level ``log std(t)`` ``[B]``.

        With ``edge_head`` (the adjacency is diffused too: NB101), also the
        logit of each clean adjacency entry ``[B, N, N]`` (an x0-prediction: at
        small noise a 0/1 entry is read off its noised value far more easily
        than its noise; the generator turns it into the noise), from each node
        pair's embeddings, the time and its current entry; the pair is returned. A noised
        adjacency enters as node features (``adj_in``: each node's out- and
        in-row) and, clamped to [0, 1], as soft relations of the attention.
        """
        temb = self.time(log_std)
        feats = torch.cat([x, adj, adj.transpose(-1, -2)], dim=-1) if self.adj_in else x
        h = self.inp(feats) + self.pos
        rel = self.relations(adj.clamp(0, 1) if self.adj_in else adj)
        for block in self.blocks:
            h = block(h, rel, temb)
        if not self.edge_head:
            return self.out(h)
        b, n, d = h.shape
        pair = torch.cat(
            [
                h.unsqueeze(2).expand(b, n, n, d),
                h.unsqueeze(1).expand(b, n, n, d),
                temb[:, None, None, :].expand(b, n, n, d),
                adj.unsqueeze(-1),
            ],
            dim=-1,
        )
        return self.out(h), self.edge_out(pair).squeeze(-1)
