"""Generators: models that propose architectures of a space, optionally guided toward good ones.

The built-in generators (registered by :mod:`archgen.composition`): uniform sampling
(``random``) and the score-based graph diffusion generator (``diffusion``,
DiffusionNAG-style; :mod:`archgen.generators.diffusion`).
"""

from archgen.generators.base import (
    Generator,
    GeneratorCapabilities,
    Guidance,
    generator_class,
    get_generator,
    list_generators,
    register_generator,
)
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
