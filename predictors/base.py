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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import numpy as np

from archgen.arch import Arch
from archgen.artifacts import ArtifactRecord, ArtifactState
from archgen.errors import (
    ArchgenError,
    NotFittedError,
    PredictorInputError,
    UnsupportedOperationError,
    UnsupportedSpaceError,
)
from archgen.predictors.hyperparams import Param
from archgen.registry import Registry
from archgen.spaces import get_space

if TYPE_CHECKING:
    import torch

    from archgen.context import Workspace


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
        differentiable: The fitted predictor's mean is a torch function of the
            dense encoding (:meth:`Predictor.torch_mean`), so a generator can
            follow its gradient. May depend on the parameters (see
            :meth:`Predictor.is_differentiable`).
    """

    requires_fit: bool = True
    has_uncertainty: bool = False
    needs_images: bool = False
    spaces: tuple[str, ...] = ()
    min_train: int = 2
    differentiable: bool = False


class FitMonitor:
    """Hooks a caller hands to :meth:`Predictor.fit`: progress, checkpoints of finished parts, cancellation.

    The default does nothing. A job's monitor writes progress to the job row
    (where a cancel request raises out of ``fit``) and keeps the learned state
    of each finished part (an ensemble member, a stack member) so that a
    resumed fit skips the parts it had finished.

    Predictors call :meth:`progress` often (each epoch, bag or member), and for
    each independently fitted part check :meth:`restore` before fitting it and
    call :meth:`save` after.
    """

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Fraction of the fit done, in ``[0, 1]``; may raise to stop the fit (cancellation)."""

    def save(self, part: str, state: PredictorState) -> None:
        """Keep the learned state of a finished part (called once per part)."""

    def restore(self, part: str) -> PredictorState | None:
        """The state :meth:`save` kept for ``part`` in an earlier, interrupted fit, or ``None``."""
        return None

    def child(self, prefix: str, start: float, stop: float) -> FitMonitor:
        """A monitor for a sub-fit: its progress maps to ``[start, stop]``, its parts are named ``prefix/part``."""
        return _ChildMonitor(self, prefix, start, stop)


class _ChildMonitor(FitMonitor):
    def __init__(self, parent: FitMonitor, prefix: str, start: float, stop: float) -> None:
        self.parent, self.prefix, self.start, self.stop = parent, prefix, start, stop

    def progress(self, fraction: float, message: str | None = None) -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        self.parent.progress(self.start + (self.stop - self.start) * f, message and f"{self.prefix}: {message}")

    def save(self, part: str, state: PredictorState) -> None:
        self.parent.save(f"{self.prefix}/{part}", state)

    def restore(self, part: str) -> PredictorState | None:
        return self.parent.restore(f"{self.prefix}/{part}")


class CallbackMonitor(FitMonitor):
    """A monitor that forwards progress to ``on_progress(fraction, message)`` and keeps parts in memory."""

    def __init__(self, on_progress: Callable[[float, str | None], None] | None = None) -> None:
        self.on_progress = on_progress
        self.parts: dict[str, PredictorState] = {}

    def progress(self, fraction: float, message: str | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(fraction, message)

    def save(self, part: str, state: PredictorState) -> None:
        self.parts[part] = state

    def restore(self, part: str) -> PredictorState | None:
        return self.parts.get(part)


#: The monitor used when ``fit`` is given none.
NO_MONITOR = FitMonitor()


#: A predictor's learned state: the artifact store's pickle-free state (meta, arrays, texts).
PredictorState = ArtifactState


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
    #: Type and bounds of every constructor parameter but ``task`` and ``random_state``
    #: (:mod:`archgen.predictors.hyperparams`): what a training request may set.
    hyperparameters: ClassVar[Mapping[str, Param]] = {}
    #: The workspace whose tables and images give label-free features (see :meth:`bind`).
    data: Workspace | None = None

    def bind(self, data: Workspace | None) -> Self:
        """Attach the workspace that label-free features are read from (tables, images, caches); returns ``self``.

        Not a hyperparameter: it is not in :meth:`get_params` nor stored with a model.
        """
        self.data = data
        return self

    def is_differentiable(self) -> bool:
        """Whether :meth:`torch_mean` is available with these parameters."""
        return self.capabilities.differentiable

    def torch_mean(self, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The predicted mean as a differentiable function of dense encodings.

        Args:
            adj: ``[B, N, N]`` adjacency (as :meth:`SearchSpace.to_dense_batch`); may be relaxed to ``[0, 1]``.
            x: ``[B, N, T]`` node types; may be relaxed (e.g. a noised one-hot).

        Returns:
            ``[B]`` predicted means, on the target's scale.

        Raises:
            UnsupportedOperationError: the predictor is not differentiable (see ``capabilities.differentiable``).
        """
        raise UnsupportedOperationError(f"{type(self).__name__} has no differentiable mean")

    # -- hyperparameters -----------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as stored on the instance (JSON-serialisable)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- public API ----------------------------------------------------------
    def fit(self, archs: Sequence[Arch], y: np.ndarray | Sequence[float], *, monitor: FitMonitor | None = None) -> Self:
        """Fit on architectures and their targets.

        Args:
            archs: ``n`` architectures of one supported space.
            y: Targets, shape ``(n,)``, finite.
            monitor: Progress, checkpoint and cancellation hooks (:class:`FitMonitor`).

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
        mon = monitor or NO_MONITOR
        self._fit(list(archs), y_arr, mon)
        mon.progress(1.0)
        self.space_ = archs[0].space
        self.fitted_ = True
        return self

    def predict(self, archs: Sequence[Arch], *, validated: bool = False) -> np.ndarray:
        """Predicted scores, shape ``(n,)`` (``validated``: as for :meth:`predict_with_uncertainty`)."""
        return self._predict_checked(archs, validated)[0]

    def predict_with_uncertainty(
        self, archs: Sequence[Arch], *, validated: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted mean and standard deviation, each shape ``(n,)``, std >= 0.

        Predictors without uncertainty return a zero std.

        Args:
            archs: Architectures of the space the predictor was fitted on.
            validated: The caller has validated every architecture against its
                space already (e.g. :func:`archgen.services.inference.parse_batch`); skip
                the per-architecture check.
        """
        mean, std = self._predict_checked(archs, validated)
        if std is None:
            std = np.zeros_like(mean)
        return mean, np.maximum(std, 0.0)

    def _predict_checked(self, archs: Sequence[Arch], validated: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        if self.capabilities.requires_fit and not getattr(self, "fitted_", False):
            raise NotFittedError(type(self).__name__)
        archs = self._check_archs(archs, what="prediction", allow_empty=True, validate=not validated)
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

    def _check_archs(
        self, archs: Sequence[Arch], *, what: str, allow_empty: bool = False, validate: bool = True
    ) -> list[Arch]:
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
        if archs and validate:
            space = get_space(archs[0].space)
            for k, a in enumerate(archs):
                try:
                    space.validate(a)
                except ArchgenError as e:  # InvalidArchitectureError: re-raise with the position
                    raise PredictorInputError(f"{what} architecture at position {k} is invalid: {e}") from None
        return archs

    # -- what subclasses implement ------------------------------------------
    @abstractmethod
    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        """Learn from validated input; set attributes ending in ``_``; report through ``monitor``."""

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


def fit_part(
    monitor: FitMonitor,
    part: str,
    predictor: Predictor,
    archs: Sequence[Arch],
    y: np.ndarray,
    start: float,
    stop: float,
) -> Predictor:
    """Fit ``predictor`` as the independently checkpointed ``part`` of a larger fit.

    If ``monitor`` holds a state saved for ``part`` by an interrupted fit, the
    predictor is restored from it instead of fitted; otherwise it is fitted
    (its progress mapped to ``[start, stop]``) and its state saved.
    """
    saved = monitor.restore(part)
    if saved is not None:
        predictor.set_state(saved)
        predictor.space_ = archs[0].space
        predictor.fitted_ = True
        monitor.progress(stop, f"{part}: restored from checkpoint")
        return predictor
    predictor.fit(archs, y, monitor=monitor.child(part, start, stop))
    monitor.save(part, predictor.get_state())
    monitor.progress(stop, f"{part}: fitted")
    return predictor


P = TypeVar("P", bound=type[Predictor])
#: Predictors by name; :mod:`archgen.composition` registers the built-in ones.
_PREDICTORS: Registry[type[Predictor]] = Registry("predictor")


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


def get_predictor(name: str, *, data: Workspace | None = None, **params: Any) -> Predictor:
    """A new instance of the predictor ``name`` built with ``params``, bound to ``data``."""
    cls = predictor_class(name)
    try:
        return cls(**params).bind(data)
    except TypeError as e:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise PredictorInputError(f"bad parameters for predictor {name!r}: {e}; valid: {', '.join(valid)}") from None


def restore_predictor(
    kind: str, params: dict[str, Any], state: ArtifactState, record: ArtifactRecord, data: Workspace | None
) -> Predictor:
    predictor = get_predictor(kind, data=data, **params)
    predictor.set_state(state)
    predictor.bind(data)
    predictor.space_ = record.space
    predictor.fitted_ = True
    return predictor
