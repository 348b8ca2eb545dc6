"""The evaluator interface and its registry.

An :class:`Evaluator` is what a search pays to learn how good an architecture
is: a table lookup that simulates training, a predictor, a supernet, or real
training. Each call evaluates a batch and returns, per architecture, the
value(s), the cost charged and where the value came from; the evaluator counts
its queries and the cost spent, so a search harness can hold every method to
the same budget. The contract suite (``tests/evaluators/test_contract.py``)
runs over every registered evaluator.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from archgen.arch import Arch
from archgen.errors import ArchitectureListError, InvalidArchitectureError
from archgen.registry import Registry
from archgen.spaces import get_space


@dataclass(frozen=True)
class EvalResult:
    """One architecture's evaluation.

    Attributes:
        arch: The architecture evaluated.
        value: The objective a search optimises (e.g. validation accuracy in %);
            NaN when the source has no value for it.
        values: Every value returned, the objective included (name -> value),
            e.g. ``{"val_acc": 91.2, "latency": 3.1}``.
        cost: What this evaluation charged against the budget (simulated or
            measured seconds; 0 for a repeat the evaluator does not charge).
        source: Where the value came from, e.g. ``table:nb201/cifar10-valid/val_acc@200ep``
            or ``predictor:stack-nb201-cifar10-n469-s0``.
        std: Uncertainty of ``value`` (``None`` for measured values).
        fidelity: Training epochs the value stands for (``None`` when not applicable).
    """

    arch: Arch
    value: float
    values: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    source: str = ""
    std: float | None = None
    fidelity: int | None = None


class Evaluator(ABC):
    """Interface of every evaluator.

    Subclasses set :attr:`name`, implement :meth:`_evaluate` and say which space
    they evaluate (:attr:`space`), the objective's name (:attr:`objective`) and
    its direction (:attr:`maximize`). :meth:`evaluate` validates input, calls
    :meth:`_evaluate` and keeps :attr:`queries` and :attr:`total_cost`.
    """

    name: ClassVar[str]
    #: Search space of the architectures it evaluates.
    space: str
    #: Name of :attr:`EvalResult.value`.
    objective: str
    #: Whether a larger objective is better.
    maximize: bool = True
    #: Whether an evaluation uses a GPU when one is present (a Ray task then asks the cluster for one).
    uses_gpu: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queries = 0
        self.total_cost = 0.0

    def evaluate(self, archs: Sequence[Arch]) -> list[EvalResult]:
        """Evaluate ``archs`` (one result per architecture, in order) and charge their cost.

        Raises:
            ArchitectureListError: an element is not an architecture of :attr:`space`
                or is invalid there (names its position).
        """
        archs = self.check(archs)
        if not archs:
            return []
        return self.account(self._evaluate(archs), archs)

    def check(self, archs: Sequence[Arch]) -> list[Arch]:
        """``archs`` as a list, each checked to be a valid architecture of :attr:`space` (see :meth:`evaluate`)."""
        archs = list(archs)
        space = get_space(self.space)
        for k, a in enumerate(archs):
            if not isinstance(a, Arch):
                raise ArchitectureListError(k, InvalidArchitectureError(a, f"expected an Arch, got {type(a).__name__}"))
            try:
                space.validate(a)
            except InvalidArchitectureError as e:
                raise ArchitectureListError(k, e) from None
        return archs

    def account(self, results: list[EvalResult], archs: Sequence[Arch]) -> list[EvalResult]:
        """Count checked ``archs``' results (computed here or by :meth:`_evaluate` on a copy elsewhere, e.g. a
        Ray worker) and charge their cost; returns them as charged (subclasses may waive repeats)."""
        if len(results) != len(archs):
            raise RuntimeError(f"{type(self).__name__} returned {len(results)} results for {len(archs)} architectures")
        with self._lock:
            self.queries += len(archs)
            self.total_cost += math.fsum(r.cost for r in results)
        return results

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lock", None)  # a copy sent to another process gets its own
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @abstractmethod
    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        """Results for validated architectures of :attr:`space` (one each, in order)."""

    def reset(self) -> None:
        """Forget the queries and cost counted so far (and any record of evaluated architectures)."""
        with self._lock:
            self.queries = 0
            self.total_cost = 0.0


E = TypeVar("E", bound=type[Evaluator])


#: Evaluators by name; :mod:`archgen.composition` registers the built-in ones.
_EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")


def register_evaluator(cls: E) -> E:
    """Class decorator adding an evaluator to the registry (duplicates raise)."""
    _EVALUATORS.add(cls.name, cls)
    return cls


def list_evaluators() -> list[str]:
    """Registered evaluator names."""
    return _EVALUATORS.names()


def evaluator_class(name: str) -> type[Evaluator]:
    """The registered class; unknown names raise :class:`UnknownNameError` listing the valid ones."""
    return _EVALUATORS.get(name)
