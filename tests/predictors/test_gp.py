"""The GP: posterior std grows away from the data; one deterministic fit per seed (no global generator)."""

from __future__ import annotations

import numpy as np
import torch

from archgen.predictors import get_predictor


def test_training_points_are_more_certain_than_far_ones(ws, split, heldout) -> None:
    tr, ytr, _, _ = split
    pred = get_predictor("gp", data=ws, task="cifar10").fit(tr, ytr)
    _, std_train = pred.predict_with_uncertainty(tr)
    _, std_far = pred.predict_with_uncertainty(heldout[0])
    assert np.median(std_train) < np.median(std_far)


def test_fitting_leaves_torchs_global_generator_alone(ws, split) -> None:
    tr, ytr, _, _ = split
    before = torch.random.get_rng_state()
    get_predictor("gp", data=ws, task="cifar10").fit(tr, ytr)
    assert torch.equal(torch.random.get_rng_state(), before)
