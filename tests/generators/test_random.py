"""The random generator: uniform without guidance, best-of-pool with it, distinct samples, impossible constraints refused."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.generators import Guidance, RandomGenerator
from archgen.generators.base import GeneratorInputError
from archgen.spaces import get_space


@pytest.fixture
def gen() -> RandomGenerator:
    return RandomGenerator(pool=8).fit(get_space("nb201").sample(5, np.random.default_rng(0)))


def test_unguided_samples_cover_the_ops_uniformly(gen: RandomGenerator) -> None:
    ops = np.array(
        [a.ops for a in RandomGenerator(unique=False).fit(gen_train()).sample(3000, rng=np.random.default_rng(2))]
    )
    freq = np.bincount(ops.ravel(), minlength=5) / ops.size
    np.testing.assert_allclose(freq, 0.2, atol=0.02)


def gen_train():
    return get_space("nb201").sample(3, np.random.default_rng(1))


def test_samples_are_distinct_functions(gen: RandomGenerator) -> None:
    space = get_space("nb201")
    out = gen.sample(300, rng=np.random.default_rng(3))
    assert len({space.canonical(a) for a in out}) == 300


def test_scale_zero_is_unguided(gen: RandomGenerator) -> None:
    score = lambda archs: np.array([a.ops[0] for a in archs], dtype=float)
    a = gen.sample(20, rng=np.random.default_rng(4))
    b = gen.sample(20, rng=np.random.default_rng(4), guidance=Guidance(score=score, scale=0.0))
    assert a == b


def test_an_impossible_constraint_is_an_error_not_a_hang(gen: RandomGenerator) -> None:
    impossible = Guidance(constraint=lambda archs: np.zeros(len(archs), dtype=bool))
    small = RandomGenerator(max_draws=500).fit(gen_train())
    with pytest.raises(GeneratorInputError, match="constraint"):
        small.sample(2, rng=np.random.default_rng(0), guidance=impossible)
