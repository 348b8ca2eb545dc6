"""ParZC-style proxy: Bayesian layers draw their noise from the predictor's own generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.predictors.parzc import BayesLinear, diff_kendall


def test_bayes_linear_needs_an_explicit_generator() -> None:
    layer = BayesLinear(3, 2, generator=torch.Generator().manual_seed(0))
    x = torch.ones(4, 3)
    layer.generator = torch.Generator().manual_seed(5)
    a = layer(x)
    layer.generator = torch.Generator().manual_seed(5)
    assert torch.equal(a, layer(x))
    layer.generator = None
    with pytest.raises(RuntimeError, match="Generator"):
        layer(x)


def test_diff_kendall_approaches_kendall_tau() -> None:
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert float(diff_kendall(y, y, alpha=100.0)) == pytest.approx(1.0, abs=1e-3)
    assert float(diff_kendall(-y, y, alpha=100.0)) == pytest.approx(-1.0, abs=1e-3)
    assert np.isfinite(float(diff_kendall(torch.zeros(3), torch.zeros(3))))
