"""Fixtures for predictor tests: real NB201 cells and their published accuracies."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.arch import Arch


@pytest.fixture(scope="session")
def nb201_data(data_dir) -> tuple[list[Arch], np.ndarray]:  # noqa: ANN001
    """Every NB201 cell with its cifar10-valid validation accuracy."""
    from archgen.predictors.benchmark import table_archs

    return table_archs("nb201", "cifar10-valid", "val_acc")


@pytest.fixture(scope="session")
def split(nb201_data) -> tuple[list[Arch], np.ndarray, list[Arch], np.ndarray]:  # noqa: ANN001
    """40 training and 30 test cells drawn with a fixed seed."""
    archs, y = nb201_data
    idx = np.random.default_rng(7).permutation(len(archs))
    tr, te = idx[:40], idx[40:70]
    return [archs[i] for i in tr], y[tr], [archs[i] for i in te], y[te]
