"""One random split for training, benchmarks and ensembles."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.predictors.splits import random_split


def test_split_is_a_sorted_partition_and_reproducible() -> None:
    a, b = random_split(20, 7, 3)
    assert len(a) == 7 and len(b) == 13 and sorted([*a, *b]) == list(range(20))
    assert list(a) == sorted(a) and list(b) == sorted(b)
    a2, _ = random_split(20, 7, np.random.default_rng(3))
    np.testing.assert_array_equal(a, a2)
    with pytest.raises(ValueError, match="cannot take"):
        random_split(5, 6, 0)
