"""Stochastic differential equations of score-based diffusion (Song et al., ICLR 2021).

A forward SDE ``dx = f(x, t) dt + g(t) dw`` on ``t in [0, 1]`` turns data into
noise; sampling integrates the reverse-time SDE

    dx = [f(x, t) - g(t)^2 * score(x, t)] dt + g(t) dw_bar

(or the probability-flow ODE ``dx = [f - g^2 score / 2] dt``) from ``t = 1`` to
``t ~ 0``, with ``score = grad_x log p_t(x)`` given by a trained network. Both
SDEs here are linear, so the perturbation kernel ``p_t(x_t | x_0)`` is a
Gaussian with the closed forms in :meth:`SDE.marginal`, which training uses
(denoising score matching) and the tests check against simulation.

All functions act elementwise on tensors of any shape; ``t`` has shape
``[B]`` and broadcasts over the trailing dimensions.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch


def _bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, *([1] * (like.dim() - 1)))


class SDE(ABC):
    """A linear forward SDE with a Gaussian perturbation kernel."""

    #: Name used in parameters and stored models.
    name: str

    @abstractmethod
    def drift_diffusion(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f(x, t), g(t))``; ``g`` has shape ``[B]``."""

    @abstractmethod
    def marginal(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of ``x_t | x_0`` (std of shape ``[B]``)."""

    @abstractmethod
    def prior_std(self) -> float:
        """Std of the prior ``x_1`` is drawn from (mean 0)."""

    def mean_coef(self, std: torch.Tensor) -> torch.Tensor:
        """The factor ``c`` with ``mean(x_0, t) = c x_0``, as a function of ``std(t)``."""
        return torch.ones_like(std)

    def perturb(
        self, x0: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A draw of ``x_t | x_0`` on the entries inside ``mask`` (the others kept at ``x_0``).

        Returns:
            ``(x_t, z, std)``: the noised tensor, the standard normal noise
            ``z`` (zero outside ``mask``) with ``x_t = mean + std z`` inside it, and
            ``std`` of shape ``[B]``. Denoising score matching and the guidance
            surrogate both train on these draws.
        """
        m = mask.to(x0.dtype)
        z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype) * m
        mean, std = self.marginal(x0, t)
        return x0 * (1 - m) + (mean + _bcast(std, x0) * z) * m, z, std

    def reverse(
        self, x: torch.Tensor, t: torch.Tensor, score: torch.Tensor, ode: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Drift and diffusion of the reverse-time SDE (``ode``: the probability-flow ODE, diffusion 0)."""
        f, g = self.drift_diffusion(x, t)
        g2 = _bcast(g, x) ** 2
        if ode:
            return f - 0.5 * g2 * score, torch.zeros_like(g)
        return f - g2 * score, g


class VESDE(SDE):
    """Variance exploding: ``dx = sigma(t) sqrt(2 ln(sigma_max / sigma_min)) dw``, ``sigma(t) = sigma_min (sigma_max / sigma_min)^t``.

    ``x_t | x_0 ~ N(x_0, sigma(t)^2 - sigma_min^2)`` (exactly: the integral of
    ``g(s)^2`` from 0 to ``t``). DiffusionNAG uses ``sigma`` from 0.1 to 5.0 on NB201.
    """

    name = "ve"

    def __init__(self, sigma_min: float = 0.1, sigma_max: float = 5.0) -> None:
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self._log_ratio = math.log(sigma_max / sigma_min)

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * torch.exp(t * self._log_ratio)

    def drift_diffusion(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros_like(x), self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def marginal(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x0, torch.sqrt(torch.clamp(self.sigma(t) ** 2 - self.sigma_min**2, min=1e-12))

    def prior_std(self) -> float:
        return math.sqrt(self.sigma_max**2 - self.sigma_min**2)


class VPSDE(SDE):
    """Variance preserving: ``dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw``, ``beta(t) = beta_min + t (beta_max - beta_min)``.

    With ``B(t) = beta_min t + (beta_max - beta_min) t^2 / 2`` (the integral of ``beta``):
    ``x_t | x_0 ~ N(x_0 exp(-B(t) / 2), 1 - exp(-B(t)))``.
    """

    name = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        if not 0 < beta_min < beta_max:
            raise ValueError(f"need 0 < beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = beta_min, beta_max

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integral(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def drift_diffusion(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.beta(t)
        return -0.5 * _bcast(b, x) * x, torch.sqrt(b)

    def marginal(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        big = self.integral(t)
        return _bcast(torch.exp(-0.5 * big), x0) * x0, torch.sqrt(torch.clamp(1 - torch.exp(-big), min=1e-12))

    def prior_std(self) -> float:
        return 1.0

    def mean_coef(self, std: torch.Tensor) -> torch.Tensor:
        """``exp(-B(t) / 2) = sqrt(1 - std^2)``."""
        return torch.sqrt(torch.clamp(1 - std**2, min=0.0))


def make_sde(name: str) -> SDE:
    """``"ve"`` (sigma 0.1..5, as DiffusionNAG) or ``"vp"`` (beta 0.1..20)."""
    if name == "ve":
        return VESDE()
    if name == "vp":
        return VPSDE()
    raise ValueError(f"unknown SDE {name!r}; valid: ve, vp")
