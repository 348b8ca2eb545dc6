"""Generators: models that propose architectures of a space, optionally guided toward good ones.

Importing this package registers the built-in generators: uniform sampling
(``random``) and the score-based graph diffusion generator (``diffusion``,
DiffusionNAG-style; :mod:`archgen.generators.diffusion`).
"""

from archgen.generators import random as _random  # noqa: F401  (registers)
from archgen.generators.base import (
    Generator,
    GeneratorCapabilities,
    Guidance,
    generator_class,
    get_generator,
    list_generators,
    register_generator,
)
from archgen.generators.diffusion import generator as _diffusion  # noqa: F401  (registers)
from archgen.generators.random import RandomGenerator

__all__ = [
    "Generator",
    "GeneratorCapabilities",
    "Guidance",
    "RandomGenerator",
    "generator_class",
    "get_generator",
    "list_generators",
    "register_generator",
]
