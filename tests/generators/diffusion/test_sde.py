"""The SDEs' closed-form perturbation kernels against simulation of the forward SDE."""

from __future__ import annotations

import math

import pytest
import torch

from archgen.generators.diffusion.sde import VESDE, VPSDE, make_sde


@pytest.mark.parametrize("sde", [VESDE(), VPSDE()], ids=["ve", "vp"])
@pytest.mark.parametrize("t_end", [0.3, 1.0])
def test_marginal_matches_euler_maruyama_simulation(sde, t_end: float) -> None:
    """Simulate dx = f dt + g dw from x0 with 1,000 small steps; compare mean and std with the closed form."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.full((20_000, 1), 0.7)
    steps = 1000
    dt = t_end / steps
    x = x0.clone()
    for i in range(steps):
        t = torch.full((len(x),), i * dt)
        f, g = sde.drift_diffusion(x, t)
        x = x + f * dt + g[:, None] * math.sqrt(dt) * torch.randn(x.shape, generator=gen)
    mean, std = sde.marginal(x0, torch.full((len(x),), t_end))
    assert float(x.mean()) == pytest.approx(float(mean.mean()), abs=0.03 * max(1.0, float(std[0])))
    assert float(x.std()) == pytest.approx(float(std[0]), rel=0.03)


def test_closed_forms() -> None:
    ve, vp = VESDE(0.1, 5.0), VPSDE(0.1, 20.0)
    t = torch.tensor([0.0, 0.5, 1.0])
    _, s = ve.marginal(torch.zeros(3, 1), t)
    torch.testing.assert_close(s, torch.sqrt(torch.clamp(ve.sigma(t) ** 2 - 0.01, min=1e-12)))
    assert ve.prior_std() == pytest.approx(math.sqrt(25 - 0.01))
    m, s = vp.marginal(torch.ones(3, 1), t)
    big = 0.1 * t + 0.5 * 19.9 * t**2
    torch.testing.assert_close(m[:, 0], torch.exp(-0.5 * big))
    torch.testing.assert_close(s, torch.sqrt(torch.clamp(1 - torch.exp(-big), min=1e-12)))
    assert float(m[-1, 0]) < 0.01 and float(s[-1]) == pytest.approx(1.0, abs=1e-3)  # VP ends at N(0, 1)


def test_probability_flow_has_no_noise_and_half_the_score_term() -> None:
    sde = VESDE()
    x, t, s = torch.ones(2, 3), torch.tensor([0.5, 0.5]), torch.full((2, 3), 2.0)
    d_sde, g = sde.reverse(x, t, s)
    d_ode, g0 = sde.reverse(x, t, s, ode=True)
    torch.testing.assert_close(d_ode * 2, d_sde)
    assert torch.all(g0 == 0) and torch.all(g > 0)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="sigma_min"):
        VESDE(5.0, 0.1)
    with pytest.raises(ValueError, match="valid: ve, vp"):
        make_sde("subvp")
