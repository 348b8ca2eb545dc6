"""A search's budget as a cap: what it has spent, the evaluations in flight included.

A :class:`CostMeter` is shared by a search loop and its evaluators. The loop settles it after every batch
(:meth:`CostMeter.settle`: the history's spent cost); an evaluator that pays by the second (the training
evaluator) registers each evaluation it starts (:meth:`CostMeter.begin` / :meth:`CostMeter.end`) and calls
:meth:`CostMeter.check` as it runs: once the settled cost and the seconds of every evaluation in flight reach the
budget, ``check`` raises :class:`~archgen.errors.BudgetSpentError` and the evaluation stops (a training writes its
checkpoint first) and is charged the seconds it used. Syne Tune, Ray Tune and Optuna treat a time budget the
same way: a stop condition checked while trials run, never a trial started past it.
"""

from __future__ import annotations

import itertools
import math
import threading
import time

from archgen.errors import BudgetSpentError


class CostMeter:
    """Seconds a search may spend (``budget``) and has spent (settled, plus the evaluations in flight)."""

    def __init__(self, budget: float, spent: float = 0.0) -> None:
        if not math.isfinite(budget) or budget <= 0:
            raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
        self.budget = float(budget)
        self.spent = float(spent)
        self._lock = threading.Lock()
        self._flight: dict[int, float] = {}
        self._ids = itertools.count()

    def settle(self, spent: float) -> None:
        """The cost charged so far (the history's): evaluations that ended, and any overhead."""
        with self._lock:
            self.spent = float(spent)

    def begin(self) -> int:
        """An evaluation starts now; returns its token for :meth:`end`."""
        with self._lock:
            token = next(self._ids)
            self._flight[token] = time.monotonic()
            return token

    def end(self, token: int) -> float:
        """The evaluation ``token`` ended; returns its seconds."""
        with self._lock:
            return time.monotonic() - self._flight.pop(token, time.monotonic())

    def charged(self) -> float:
        """The settled cost plus the seconds of every evaluation in flight."""
        now = time.monotonic()
        with self._lock:
            return self.spent + math.fsum(now - t for t in self._flight.values())

    def left(self) -> float:
        """Seconds left (0 when spent)."""
        return max(0.0, self.budget - self.charged())

    def check(self) -> None:
        """Raise :class:`~archgen.errors.BudgetSpentError` once the budget is spent."""
        charged = self.charged()
        if charged >= self.budget:
            raise BudgetSpentError(f"the budget of {self.budget:.0f} s is spent ({charged:.0f} s charged)")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for k in ("_lock", "_ids"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._ids = itertools.count()


__all__ = ["CostMeter"]
