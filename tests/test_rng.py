"""Explicit randomness: initialisation and dropout from a caller's generator, torch's global one untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archgen.rng import GeneratorDropout, init_parameters_, torch_generator


def test_init_is_reproducible_and_leaves_the_global_generator_alone() -> None:
    net = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Conv1d(1, 2, 3))
    state = torch.random.get_rng_state()
    a = [p.clone() for p in init_parameters_(net, torch_generator(1)).parameters()]
    b = [p.clone() for p in init_parameters_(net, torch_generator(1)).parameters()]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    c = [p.clone() for p in init_parameters_(net, torch_generator(2)).parameters()]
    assert not torch.equal(a[0], c[0])
    bound = 1 / 4**0.5  # kaiming_uniform(a=sqrt(5)) on fan_in 4, as nn.Linear does
    assert a[0].abs().max() <= bound and a[1].abs().max() <= bound
    assert torch.equal(a[2], torch.ones(8)) and torch.equal(a[3], torch.zeros(8))


def test_dropout_draws_from_its_generator_and_is_identity_in_eval() -> None:
    d = GeneratorDropout(0.5)
    x = torch.ones(1000)
    assert torch.equal(d(x), x)  # no generator: identity
    d.generator = torch_generator(0)
    y1 = d(x)
    d.generator = torch_generator(0)
    assert torch.equal(d(x), y1) and 300 < int((y1 == 0).sum()) < 700
    d.eval()
    assert torch.equal(d(x), x)
    with pytest.raises(ValueError, match="dropout"):
        GeneratorDropout(1.0)
