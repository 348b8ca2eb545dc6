"""Gradient guidance through a noise-aware surrogate (DiffusionNAG's predictor guidance).

A predictor trained on clean architectures says little about a half-denoised
matrix ``x_t``, so guidance uses a **time-conditioned** surrogate
``y_hat(x_t, t)`` trained on noised versions of labelled architectures: for a
labelled ``(x_0, y)``, ``t ~ U(t_eps, 1)`` and ``x_t`` drawn from the SDE's
perturbation kernel, it minimises ``(y_hat(x_t, t) - y)^2`` (``y``
standardised). Sampling then follows

    score_guided(x, t) = score(x, t) + scale * grad_x y_hat(x, t),

the gradient of ``log p(y | x_t)`` under a Gaussian likelihood up to the scale,
as in classifier guidance (Dhariwal & Nichol, 2021) and DiffusionNAG. The
labels may come from a benchmark table or from any archgen predictor's
predictions on the architectures the generator was trained on. Where the
adjacency is diffused too (NB101), ``x`` is the whole state (see
:class:`~archgen.generators.diffusion.layout.Layout`) and the gradient moves
edges as well as operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from archgen.generators.diffusion.layout import Layout
from archgen.generators.diffusion.score_net import GraphScoreNet
from archgen.generators.diffusion.sde import SDE
from archgen.rng import init_parameters_, torch_generator


class NoiseAwareSurrogate(nn.Module):
    """``y_hat(x_t, t)``: the score network's transformer with a pooled scalar head."""

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
    ) -> None:  # adj_in: the adjacency is part of the (noised) state
        super().__init__()
        self.body = GraphScoreNet(num_nodes, num_types, dim, depth, heads, generator, adj_in=adj_in)
        self.body.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim))
        self.head = nn.Sequential(nn.GELU(), nn.Linear(dim, 1))

    def forward(self, x: torch.Tensor, adj: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x, adj, log_std).mean(dim=1)).squeeze(-1)


@dataclass
class FittedSurrogate:
    """A trained surrogate with the mean and std its labels were standardised with, and the state's layout."""

    net: NoiseAwareSurrogate
    mu: float
    sd: float
    layout: Layout

    def standardised(self, z: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        return self.net(*self.layout.split(z), log_std)

    def predict(self, z: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        """Prediction in label units."""
        return self.standardised(z, log_std) * self.sd + self.mu


class FitStopped(Exception):
    """A surrogate fit abandoned at its caller's request (``should_stop``)."""


def fit_surrogate(
    sde: SDE,
    z0: torch.Tensor,
    mask: torch.Tensor,
    layout: Layout,
    y: torch.Tensor,
    *,
    dim: int = 64,
    depth: int = 2,
    heads: int = 4,
    epochs: int = 300,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    t_eps: float = 1e-3,
    should_stop: Callable[[], bool] | None = None,
) -> FittedSurrogate:
    """Train the surrogate on noised copies of the states ``z0`` (see :class:`Layout`) labelled ``y`` ``[M]``.

    ``should_stop`` is asked after every epoch; :class:`FitStopped` is raised when it answers true (a fit that
    runs beside other work, abandoned when that work fails or is cancelled).

    Returns:
        The network (in eval mode) with the label mean and std it was standardised with.
    """
    gen = torch_generator(seed)
    _, n, _ = z0.shape
    net = NoiseAwareSurrogate(n, layout.types, dim, depth, heads, gen, adj_in=layout.diffuses_adjacency)
    init_parameters_(net, gen)
    mu, sd = float(y.mean()), float(y.std().clamp_min(1e-8))
    yz = (y - mu) / sd
    m = mask.to(z0.dtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(z0), generator=gen)
        for i in range(0, len(z0), batch_size):
            idx = order[i : i + batch_size]
            b = len(idx)
            t = torch.rand(b, generator=gen) * (1 - t_eps) + t_eps
            zt, _, std = sde.perturb(z0[idx], t, m, gen)
            loss = ((net(*layout.split(zt), torch.log(std)) - yz[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if should_stop is not None and should_stop():
            raise FitStopped("surrogate fit stopped")
    net.eval()
    return FittedSurrogate(net, mu, sd, layout)


def guidance_gradient(
    sde: SDE,
    objective: FittedSurrogate | None,
    scale: float,
    bounds: list[tuple[FittedSurrogate, float, float]],
    temperature: float = 0.1,
):
    """``grad(x, t)`` of the guidance log-density: objective raised, upper bounds kept.

    With ``u(x, t)`` the objective surrogate's standardised prediction and, per
    bound ``(surrogate, B, w)`` meaning ``c <= B`` kept at strength ``w``,
    ``v(x, t)`` its surrogate's standardised prediction and
    ``b = (B - mu) / sd``, the gradient of

        scale * u(x, t) - sum_bounds w * T * softplus((v(x, t) - b) / T)

    with temperature ``T`` (in the bound's std units), in one backward pass. The
    penalty's gradient is ``w * sigmoid((v - b) / T) * grad v``: nothing well
    inside the budget, a push of ``w`` toward it above it (a soft version of the
    likelihood of meeting the bound, as in constrained classifier guidance).
    """

    def grad(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, std = sde.marginal(torch.zeros(len(t), 1, 1), t)
        log_std = torch.log(std)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            total = torch.zeros((), dtype=x.dtype)
            if objective is not None and scale > 0:
                total = total + scale * objective.standardised(xg, log_std).sum()
            for sur, budget, weight in bounds:
                b = (budget - sur.mu) / sur.sd
                v = sur.standardised(xg, log_std)
                total = total - weight * temperature * torch.nn.functional.softplus((v - b) / temperature).sum()
            (g,) = torch.autograd.grad(total, xg)
        return g

    return grad
