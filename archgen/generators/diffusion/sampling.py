"""Samplers for the reverse-time SDE: predictor-corrector and the probability-flow ODE (Song et al., ICLR 2021).

``score(x, t)`` is the model's estimate of ``grad_x log p_t(x)``, with any
guidance already added (see :mod:`archgen.generators.diffusion.guidance`).
Only entries inside ``mask`` are sampled; the others are held at ``fixed``
(for NB201 the input and output nodes' types) at every step.

* Predictor (reverse diffusion, Euler-Maruyama): from ``t`` to ``t - dt``,
  ``x <- x - [f(x, t) - g(t)^2 score] dt + g(t) sqrt(dt) z``.
* Corrector (annealed Langevin, Song et al.'s Algorithm 4/5): ``x <- x + e score
  + sqrt(2 e) z`` with ``e = 2 a (snr |z| / |score|)^2`` (``a = 1`` for VE,
  ``1 - beta(t) dt`` for VP), per sample.
* ODE: Euler steps of ``dx = [f - g^2 score / 2] dt``, no noise (deterministic
  given the prior draw).

Every draw comes from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from archgen.generators.diffusion.sde import SDE, VPSDE

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _norm(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).clamp_min(1e-12)


def sample(
    sde: SDE,
    score: ScoreFn,
    fixed: torch.Tensor,
    mask: torch.Tensor,
    *,
    steps: int,
    generator: torch.Generator,
    method: str = "pc",
    snr: float = 0.16,
    t_eps: float = 1e-3,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integrate from the prior at ``t = 1`` to ``t = t_eps``; returns the final mean ``[B, ...]``.

    Args:
        sde: The forward SDE the score was trained for.
        score: ``score(x, t)``.
        fixed: Values of the entries outside ``mask`` (and the batch shape).
        mask: Float or bool tensor broadcastable to ``fixed``: 1 where sampled.
        steps: Number of time steps (each costs one score call, two with the corrector).
        method: ``"pc"`` (predictor + one corrector step), ``"euler"`` (predictor
            only) or ``"ode"`` (probability flow).
        snr: Signal-to-noise ratio of the corrector.
        on_step: Called with the step index (progress, cancellation).
    """
    if method not in ("pc", "euler", "ode"):
        raise ValueError(f"unknown sampling method {method!r}; valid: pc, euler, ode")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    m = mask.to(fixed.dtype).expand_as(fixed)
    keep = fixed * (1 - m)
    noise = lambda: torch.randn(fixed.shape, generator=generator, dtype=fixed.dtype) * m
    x = keep + sde.prior_std() * noise()
    ts = torch.linspace(1.0, t_eps, steps + 1, dtype=fixed.dtype)
    b = fixed.shape[0]
    mean = x
    for i in range(steps):
        t, dt = ts[i].expand(b), float(ts[i] - ts[i + 1])
        if method == "pc":  # corrector first, as in Song et al.'s PC sampler
            s = score(x, t) * m
            z = noise()
            a = 1.0
            if isinstance(sde, VPSDE):
                a = float(1 - sde.beta(ts[i]) * dt)
            e = 2 * a * (snr * _norm(z) / _norm(s)) ** 2
            e = e.reshape(-1, *([1] * (x.dim() - 1)))
            x = keep + (x + e * s + torch.sqrt(2 * e) * z) * m
        s = score(x, t) * m
        drift, g = sde.reverse(x, t, s, ode=method == "ode")
        mean = keep + (x - drift * dt) * m
        if method == "ode":
            x = mean
        else:
            x = mean + g.reshape(-1, *([1] * (x.dim() - 1))) * (dt**0.5) * noise()
        if on_step is not None:
            on_step(i)
    return mean
