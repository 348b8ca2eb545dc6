"""The predictor interface and its registry.

A predictor maps architectures to a predicted score (usually accuracy in %).
It is an estimator in the scikit-learn sense: ``__init__`` only stores typed
keyword arguments, :meth:`Predictor.fit` returns ``self``, learned state ends
in ``_``. The contract suite (``tests/predictors/test_contract.py``) runs over
every registered predictor.

Persistence goes through :meth:`Predictor.get_state` / :meth:`Predictor.set_state`:
plain JSON, numpy arrays and text blobs (LightGBM models), so that the model
store never unpickles anything.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from archgen.arch import Arch
from archgen.errors import (
    ArchgenError,
    NotFittedError,
    PredictorInputError,
    UnsupportedSpaceError,
)
from archgen.registry import Registry


@dataclass(frozen=True)
class Capabilities:
    """What a predictor can do and needs.

    Attributes:
        requires_fit: ``fit`` must be called before ``predict`` (False for
            label-free proxies, whose ``fit`` is a no-op that returns ``self``).
        has_uncertainty: ``predict_with_uncertainty`` returns a meaningful,
            calibrated std (otherwise it returns zeros).
        needs_images: Scores are computed on networks fed real images.
        spaces: Search spaces it supports; empty means every registered space.
        min_train: Fewest training points ``fit`` accepts.
    """

    requires_fit: bool = True
    has_uncertainty: bool = False
    needs_images: bool = False
    spaces: tuple[str, ...] = ()
    min_train: int = 2


@dataclass
class PredictorState:
    """A predictor's learned state in pickle-free form.

    Attributes:
        meta: JSON-serialisable values.
        arrays: Named numpy arrays (stored in an ``.npz`` without pickle).
        texts: Named text blobs (e.g. LightGBM model strings).
    """

    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


class Predictor(ABC):
    """Interface of every accuracy predictor.

    Subclasses set :attr:`name`, :attr:`capabilities` and :attr:`paper`, take
    only typed keyword arguments in ``__init__`` (stored under the same name),
    and implement :meth:`_fit`, :meth:`_predict` and the state hooks. The
    public methods validate input, so subclasses can assume clean data.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: The paper the method follows.
    paper: ClassVar[str] = ""

    # -- hyperparameters -----------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as stored on the instance (JSON-serialisable)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- public API ----------------------------------------------------------
    def fit(self, archs: Sequence[Arch], y: np.ndarray | Sequence[float]) -> Self:
        """Fit on architectures and their targets.

        Args:
            archs: ``n`` architectures of one supported space.
            y: Targets, shape ``(n,)``, finite.

        Returns:
            ``self``.

        Raises:
            PredictorInputError: mismatched lengths, non-finite targets, fewer
                than ``capabilities.min_train`` points or mixed spaces.
            UnsupportedSpaceError: a space the predictor cannot handle.
        """
        archs = self._check_archs(archs, what="training")
        y_arr = np.asarray(y, dtype=np.float64)
        if y_arr.shape != (len(archs),):
            raise PredictorInputError(f"y must have shape ({len(archs)},), got {y_arr.shape}")
        bad = np.flatnonzero(~np.isfinite(y_arr))
        if bad.size:
            raise PredictorInputError(
                f"{bad.size} training target(s) are NaN or infinite (first at position {int(bad[0])})"
            )
        if len(archs) < self.capabilities.min_train:
            raise PredictorInputError(
                f"{self.name} needs at least {self.capabilities.min_train} training architectures, got {len(archs)}"
            )
        self._fit(list(archs), y_arr)
        self.space_ = archs[0].space
        self.fitted_ = True
        return self

    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        """Predicted scores, shape ``(n,)``."""
        return self._predict_checked(archs)[0]

    def predict_with_uncertainty(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted mean and standard deviation, each shape ``(n,)``, std >= 0.

        Predictors without uncertainty return a zero std.
        """
        mean, std = self._predict_checked(archs)
        if std is None:
            std = np.zeros_like(mean)
        return mean, np.maximum(std, 0.0)

    def _predict_checked(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        if self.capabilities.requires_fit and not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)
        archs = self._check_archs(archs, what="prediction", allow_empty=True)
        if archs and getattr(self, "space_", None) not in (None, archs[0].space):
            raise UnsupportedSpaceError(
                f"{type(self).__name__} fitted on {self.space_}",
                archs[0].space,
                [self.space_],
            )
        if not archs:
            return np.zeros(0), np.zeros(0)
        mean, std = self._predict(list(archs))
        mean = np.asarray(mean, dtype=np.float64).reshape(len(archs))
        std = None if std is None else np.asarray(std, dtype=np.float64).reshape(len(archs))
        return mean, std

    def _check_archs(self, archs: Sequence[Arch], *, what: str, allow_empty: bool = False) -> list[Arch]:
        archs = list(archs)
        if not archs and not allow_empty:
            raise PredictorInputError(f"no {what} architectures given")
        for k, a in enumerate(archs):
            if not isinstance(a, Arch):
                raise PredictorInputError(f"{what} input at position {k} is {type(a).__name__}, not an Arch")
        spaces = {a.space for a in archs}
        if len(spaces) > 1:
            raise PredictorInputError(f"{what} architectures mix search spaces: {', '.join(sorted(spaces))}")
        supported = self.capabilities.spaces
        if spaces and supported and archs[0].space not in supported:
            raise UnsupportedSpaceError(type(self).__name__, archs[0].space, supported)
        if archs:
            from archgen.spaces import get_space

            space = get_space(archs[0].space)
            for k, a in enumerate(archs):
                try:
                    space.validate(a)
                except ArchgenError as e:  # InvalidArchitectureError: re-raise with the position
                    raise PredictorInputError(f"{what} architecture at position {k} is invalid: {e}") from None
        return archs

    # -- what subclasses implement ------------------------------------------
    @abstractmethod
    def _fit(self, archs: list[Arch], y: np.ndarray) -> None:
        """Learn from validated input; set attributes ending in ``_``."""

    @abstractmethod
    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean and std (or ``None`` without uncertainty) for validated input."""

    @abstractmethod
    def get_state(self) -> PredictorState:
        """The learned state in pickle-free form (after ``fit``)."""

    @abstractmethod
    def set_state(self, state: PredictorState) -> None:
        """Restore what :meth:`get_state` returned (on an instance built with the same params)."""

    def _require_fitted(self) -> None:
        if self.capabilities.requires_fit and not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)


def _load_builtin() -> None:
    """Import the built-in predictor modules (they register on import)."""
    import archgen.predictors  # noqa: F401


P = TypeVar("P", bound=type[Predictor])
_PREDICTORS: Registry[type[Predictor]] = Registry("predictor", load=_load_builtin)


def register_predictor(cls: P) -> P:
    """Class decorator adding a predictor to the registry (duplicate names raise)."""
    _PREDICTORS.add(cls.name, cls)
    return cls


def list_predictors() -> list[str]:
    """Registered predictor names."""
    return _PREDICTORS.names()


def predictor_class(name: str) -> type[Predictor]:
    """The registered class; unknown names raise :class:`UnknownNameError`."""
    return _PREDICTORS.get(name)


def get_predictor(name: str, **params: Any) -> Predictor:
    """A new instance of the predictor ``name`` built with ``params``."""
    cls = predictor_class(name)
    try:
        return cls(**params)
    except TypeError as e:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise PredictorInputError(f"bad parameters for predictor {name!r}: {e}; valid: {', '.join(valid)}") from None

