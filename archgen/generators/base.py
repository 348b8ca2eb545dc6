"""The generator interface and its registry.

A :class:`Generator` learns a distribution over the architectures of one space
from examples (``fit``) and draws new ones (``sample``), optionally guided
toward good ones by a :class:`Guidance`: a score to raise (a predictor's mean,
or its differentiable form for gradient guidance as in DiffusionNAG, An et
al., ICLR 2024) and constraints every sample must meet (e.g. a latency
budget). As with predictors, ``__init__`` stores typed keyword arguments,
``fit`` returns ``self`` and learned state ends in ``_``; randomness comes from
the ``rng`` passed to ``sample``. The contract suite
(``tests/generators/test_contract.py``) runs over every registered generator.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import numpy as np

from archgen.arch import Arch
from archgen.artifacts import ArtifactRecord, ArtifactState
from archgen.errors import (
    GeneratorInputError,
    InvalidArchitectureError,
    NotFittedError,
    UnsupportedOperationError,
    UnsupportedSpaceError,
)
from archgen.registry import Registry
from archgen.spaces import get_space

if TYPE_CHECKING:
    from archgen.predictors.base import Predictor


@dataclass(frozen=True)
class GeneratorCapabilities:
    """What a generator can do.

    Attributes:
        spaces: Search spaces it supports; empty means every registered space.
        gradient_guidance: It follows the gradient of a differentiable predictor
            (:attr:`Guidance.predictor`); otherwise guidance is by score alone.
        min_train: Fewest architectures ``fit`` accepts.
    """

    spaces: tuple[str, ...] = ()
    gradient_guidance: bool = False
    min_train: int = 1


@dataclass(frozen=True)
class Guidance:
    """Where samples should go.

    Attributes:
        score: ``score(archs) -> (n,)`` array, higher is better (e.g. a
            predictor's mean); ``None`` with only constraints.
        predictor: A fitted predictor whose mean is the score; generators with
            ``gradient_guidance`` use :meth:`Predictor.torch_mean` when it is
            differentiable.
        scale: Strength of the guidance (generator-specific; 0 turns it off).
        constraint: ``constraint(archs) -> (n,)`` bool array, ``True`` where an
            architecture is acceptable (e.g. latency under a budget). Every
            sample returned meets it.
        bounds: Upper bounds on named quantities a generator has differentiable
            surrogates for (e.g. ``{"params": 0.5}``), followed by gradient
            during sampling so that fewer samples are rejected; ``constraint``
            is still what every returned sample meets. Generators without such
            surrogates ignore them.
        bound_scale: Strength of the bounds' gradient.
    """

    score: Callable[[Sequence[Arch]], np.ndarray] | None = None
    predictor: Predictor | None = None
    scale: float = 1.0
    constraint: Callable[[Sequence[Arch]], np.ndarray] | None = None
    bounds: Mapping[str, float] = field(default_factory=dict)
    bound_scale: float = 10.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.scale) or self.scale < 0:
            raise GeneratorInputError(f"guidance scale must be finite and >= 0, got {self.scale}")
        if not np.isfinite(self.bound_scale) or self.bound_scale < 0:
            raise GeneratorInputError(f"bound scale must be finite and >= 0, got {self.bound_scale}")
        for k, v in self.bounds.items():
            if not np.isfinite(v):
                raise GeneratorInputError(f"bound on {k!r} must be finite, got {v}")

    def scores(self, archs: Sequence[Arch]) -> np.ndarray | None:
        """The guidance score of each architecture, shape ``(n,)`` (``None`` without a score)."""
        if self.score is not None:
            return np.asarray(self.score(archs), dtype=np.float64).reshape(len(archs))
        if self.predictor is not None:
            return self.predictor.predict(archs)
        return None

    def allowed(self, archs: Sequence[Arch]) -> np.ndarray:
        """Boolean mask of the architectures meeting the constraint, shape ``(n,)``."""
        if self.constraint is None:
            return np.ones(len(archs), dtype=bool)
        return np.asarray(self.constraint(archs), dtype=bool).reshape(len(archs))


class Generator(ABC):
    """Interface of every architecture generator.

    Subclasses set :attr:`name`, :attr:`capabilities` and :attr:`paper`, store
    typed keyword arguments in ``__init__`` and implement :meth:`_fit` and
    :meth:`_sample`; the public methods validate input and output.
    """

    name: ClassVar[str]
    capabilities: ClassVar[GeneratorCapabilities] = GeneratorCapabilities()
    #: The paper the method follows.
    paper: ClassVar[str] = ""

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as stored on the instance (JSON-serialisable)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    def fit(self, archs: Sequence[Arch]) -> Self:
        """Learn from architectures of one supported space.

        Raises:
            GeneratorInputError: empty or mixed-space input, fewer than ``min_train``.
            InvalidArchitectureError: an invalid architecture (names its position).
        """
        archs = list(archs)
        if len(archs) < max(1, self.capabilities.min_train):
            raise GeneratorInputError(
                f"{self.name} needs at least {max(1, self.capabilities.min_train)} training architectures, got {len(archs)}"
            )
        for k, a in enumerate(archs):
            if not isinstance(a, Arch):
                raise GeneratorInputError(f"training input at position {k} is {type(a).__name__}, not an Arch")
        spaces = {a.space for a in archs}
        if len(spaces) > 1:
            raise GeneratorInputError(f"training architectures mix search spaces: {', '.join(sorted(spaces))}")
        space = get_space(archs[0].space)
        supported = self.capabilities.spaces
        if supported and space.name not in supported:
            raise UnsupportedSpaceError(type(self).__name__, space.name, supported)
        for k, a in enumerate(archs):
            try:
                space.validate(a)
            except InvalidArchitectureError as e:
                raise InvalidArchitectureError(a, f"training architecture at position {k}: {e.reason}", k) from None
        self._fit(archs)
        self.space_ = space.name
        self.fitted_ = True
        return self

    def sample(self, n: int, *, rng: np.random.Generator, guidance: Guidance | None = None) -> list[Arch]:
        """``n`` valid architectures of the fitted space (meeting ``guidance.constraint`` when given).

        Args:
            n: Number of samples (``>= 0``).
            rng: The only source of randomness.
            guidance: Score to raise and constraints to meet.

        Raises:
            NotFittedError: before :meth:`fit`.
            GeneratorInputError: bad ``n`` or ``rng``, or a constraint that too few
                architectures meet to fill ``n`` samples.
        """
        if not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise GeneratorInputError(f"n must be an integer >= 0, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise GeneratorInputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if n == 0:
            return []
        out = self._sample(int(n), rng, guidance)
        if len(out) != n:
            raise RuntimeError(f"{type(self).__name__} returned {len(out)} samples for n={n}")
        return out

    def get_state(self) -> ArtifactState:
        """The learned state, pickle-free, for the artifact store (generators that persist override it).

        Raises:
            UnsupportedOperationError: this generator cannot be stored.
        """
        raise UnsupportedOperationError(f"generator {self.name!r} cannot be saved to the artifact store")

    def set_state(self, state: ArtifactState) -> None:
        """Restore what :meth:`get_state` returned (into an instance built with the same parameters)."""
        raise UnsupportedOperationError(f"generator {self.name!r} cannot be loaded from the artifact store")

    @abstractmethod
    def _fit(self, archs: list[Arch]) -> None:
        """Learn from validated architectures; set attributes ending in ``_``."""

    @abstractmethod
    def _sample(self, n: int, rng: np.random.Generator, guidance: Guidance | None) -> list[Arch]:
        """``n`` valid architectures of ``self.space_`` meeting ``guidance.constraint``."""


G = TypeVar("G", bound=type[Generator])


#: Generators by name; :mod:`archgen.composition` registers the built-in ones.
_GENERATORS: Registry[type[Generator]] = Registry("generator")


def restore_generator(
    kind: str, params: dict[str, Any], state: ArtifactState, record: ArtifactRecord, data: Any
) -> Generator:
    gen = get_generator(kind, **params)
    gen.set_state(state)
    gen.space_ = record.space
    gen.fitted_ = True
    return gen


def register_generator(cls: G) -> G:
    """Class decorator adding a generator to the registry (duplicates raise)."""
    _GENERATORS.add(cls.name, cls)
    return cls


def list_generators() -> list[str]:
    """Registered generator names."""
    return _GENERATORS.names()


def generator_class(name: str) -> type[Generator]:
    """The registered class; unknown names raise :class:`UnknownNameError` listing the valid ones."""
    return _GENERATORS.get(name)


def get_generator(name: str, **params: Any) -> Generator:
    """A new instance of generator ``name`` built with ``params``."""
    cls = generator_class(name)
    try:
        return cls(**params)
    except TypeError as e:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise GeneratorInputError(f"bad parameters for generator {name!r}: {e}; valid: {', '.join(valid)}") from None
