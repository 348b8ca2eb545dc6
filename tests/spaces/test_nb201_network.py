"""The NB201 network's own operations match PyTorch's reference modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archgen.spaces.nb201_network import AvgPool3x3


@pytest.mark.parametrize("shape", [(4, 3, 16, 16), (2, 8, 5, 7), (1, 2, 1, 1), (3, 4, 2, 9)])
def test_avg_pool_matches_pytorchs_without_counting_padding(shape: tuple[int, ...]) -> None:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    ref = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x)
    pool = AvgPool3x3()
    torch.testing.assert_close(pool(x), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pool(x * 2), ref * 2, rtol=1e-5, atol=1e-6)  # the cached counts are reused


def test_avg_pool_passes_gradients() -> None:
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    AvgPool3x3()(x).sum().backward()
    ref = torch.randn(2, 3, 6, 6).requires_grad_()
    ref.data.copy_(x.data)
    nn.AvgPool2d(3, 1, 1, count_include_pad=False)(ref).sum().backward()
    assert x.grad is not None and ref.grad is not None
    torch.testing.assert_close(x.grad, ref.grad)
