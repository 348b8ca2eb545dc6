"""The NB201 supernet: a path computes what the standalone network with the same weights computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.arch import Arch
from archgen.spaces import get_space
from archgen.supernets import NB201Supernet

SPACE = get_space("nb201")


def _cells() -> list[Arch]:
    edges = SPACE.sample(1, np.random.default_rng(0))[0].edges
    fixed = [Arch("nb201", (0,) * 6, edges), Arch("nb201", (0, 3, 0, 0, 0, 0), edges), Arch("nb201", (1,) * 6, edges)]
    return fixed + SPACE.sample(5, np.random.default_rng(3))


@pytest.mark.parametrize("arch", _cells(), ids=str)
def test_a_path_equals_the_standalone_network_with_its_weights(arch: Arch) -> None:
    torch.manual_seed(0)
    sn = NB201Supernet(10, C=4, N=2)
    for m in sn.modules():  # non-trivial batch-norm statistics, so that copying them is checked too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net = sn.path_network(arch.ops)
    sn.eval()
    net.eval()
    x = torch.randn(3, 3, 8, 8)
    torch.testing.assert_close(sn(x, arch.ops), net(x), rtol=1e-5, atol=1e-6)
    n_path = sum(p.numel() for m in sn.path_modules(arch.ops) for p in m.parameters())
    assert n_path == sum(p.numel() for p in net.parameters()), "the path holds exactly the standalone network's weights"


def test_bad_paths_are_refused() -> None:
    sn = NB201Supernet(10, C=4, N=1)
    with pytest.raises(ValueError, match="6 op ids"):
        sn(torch.randn(1, 3, 8, 8), [0, 1, 2])
    with pytest.raises(ValueError, match="op ids in 0..4"):
        sn(torch.randn(1, 3, 8, 8), [0, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=">= 1"):
        NB201Supernet(10, C=0)
