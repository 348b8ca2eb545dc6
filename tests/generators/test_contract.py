"""The generator contract, run over every registered generator and every space."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from archgen.errors import NotFittedError, UnknownNameError
from archgen.generators import Guidance, generator_class, get_generator, list_generators
from archgen.generators.base import GeneratorInputError
from archgen.spaces import get_space, list_spaces

NAMES = list_generators()
#: Fast settings per registered generator: a new generator must add itself here.
FAST: dict[str, dict[str, Any]] = {
    "random": {"pool": 8},
    "diffusion": {"epochs": 300, "steps": 20, "dim": 16, "depth": 1, "heads": 2, "batch_size": 8},
}


def make(name: str, space: str):
    train = get_space(space).sample(30, np.random.default_rng(0))
    return get_generator(name, **FAST[name]).fit(train)


def test_every_generator_has_fast_settings() -> None:
    assert sorted(FAST) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_declares_name_and_paper(name: str) -> None:
    cls = generator_class(name)
    assert cls.name == name and cls.paper


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("space", list_spaces())
def test_samples_are_valid_and_reproducible(name: str, space: str) -> None:
    cls = generator_class(name)
    if cls.capabilities.spaces and space not in cls.capabilities.spaces:
        pytest.skip(f"{name} does not support {space}")
    gen = make(name, space)
    sp = get_space(space)
    a = gen.sample(12, rng=np.random.default_rng(5))
    b = gen.sample(12, rng=np.random.default_rng(5))
    assert len(a) == 12 and a == b
    assert all(sp.is_valid(x) for x in a)
    assert gen.sample(0, rng=np.random.default_rng(0)) == []


@pytest.mark.parametrize("name", NAMES)
def test_guidance_score_raises_the_samples_and_constraints_hold(name: str) -> None:
    gen = make(name, "nb201")
    convs = lambda archs: np.array([sum(o in (2, 3) for o in a.ops) for a in archs], dtype=float)
    no_pool = lambda archs: np.array([4 not in a.ops for a in archs])
    plain = gen.sample(40, rng=np.random.default_rng(1))
    guided = gen.sample(40, rng=np.random.default_rng(1), guidance=Guidance(score=convs, constraint=no_pool))
    assert convs(guided).mean() > convs(plain).mean() + 0.5
    assert no_pool(guided).all()


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_typed(name: str) -> None:
    gen = get_generator(name, **FAST[name])
    with pytest.raises(NotFittedError):
        gen.sample(1, rng=np.random.default_rng(0))
    with pytest.raises(GeneratorInputError):
        gen.fit([])
    k = max(2, generator_class(name).capabilities.min_train)
    mixed = get_space("nb201").sample(k, np.random.default_rng(0)) + get_space("nb101").sample(
        k, np.random.default_rng(0)
    )
    with pytest.raises(GeneratorInputError, match="mix"):
        gen.fit(mixed)
    gen = make(name, "nb201")
    for bad_n in (-1, 2.5, True):
        with pytest.raises(GeneratorInputError, match="n must be"):
            gen.sample(bad_n, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(GeneratorInputError, match="rng"):
        gen.sample(2, rng=0)  # type: ignore[arg-type]
    with pytest.raises(GeneratorInputError, match="scale"):
        Guidance(scale=float("nan"))


def test_unknown_generator_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="random"):
        get_generator("gan")
