"""Searches replayed against a learning-curve table with simulated time (Syne Tune's blackbox simulator, for
archgen's evaluator interface).

One replayed search shares a :class:`ReplayTrials`: the table, the search's random draws of training seeds, the
epochs each cell has paid and a :class:`ReplayClock`. Each fidelity of the search gets a :class:`ReplayEvaluator`
(an epoch of the table's schedule) over it, so the real search loop
(:func:`~archgen.search.multifidelity.run_multifidelity_search`) runs unchanged, in milliseconds:

* a trial keeps its seed: a cell's first evaluation draws one of its complete trainings' seeds, and every later
  evaluation of that cell (a promotion) reads the same curve;
* an epoch's seconds are charged once: an evaluation at epoch ``e`` charges the seconds of the epochs past the
  ones the cell has paid (a promotion pays only its new epochs; asking again for a paid epoch costs nothing);
* the value is the curve's validation accuracy at ``e`` (the test accuracy is in ``values["test_acc"]``, never
  the value: the bench scores a returned cell by the table's seed-mean test accuracy,
  :meth:`~archgen.curves.table.CurveTable.mean_test`);
* the budget is a cap (``budget``): an evaluation that would pass it stops there, charged what is left;
* parallel workers' finish order is simulated (:class:`ReplayClock`): each evaluation of a batch starts on the
  worker free first, and the batch ends when its last evaluation does (the search loop is synchronous), so a
  search's simulated wall time is what ``workers`` machines would have taken.

A cell that is not a candidate of the table is refused (:class:`CandidateSpace` samples only candidates).
"""

from __future__ import annotations

import heapq
from typing import ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.curves.table import CurveTable
from archgen.errors import SearchInputError
from archgen.evaluators.base import EvalResult, Evaluator
from archgen.spaces.nb201 import NB201SearchSpace


class ReplayClock:
    """Simulated wall time of ``workers`` machines running a synchronous search's batches (module docstring)."""

    def __init__(self, workers: int = 1) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise SearchInputError(f"workers must be a positive integer, got {workers!r}")
        self.workers = workers
        self.now = 0.0
        #: ``(finish time, worker)`` of every evaluation, in the order they finished.
        self.finished: list[tuple[float, int]] = []

    def batch(self, costs: list[float]) -> list[float]:
        """Run evaluations of ``costs`` seconds, in order, each on the worker free first; returns each one's
        finish time and moves the clock to the last (the batch's end)."""
        free = [(self.now, w) for w in range(self.workers)]
        heapq.heapify(free)
        ends = []
        for c in costs:
            t, w = heapq.heappop(free)
            ends.append(t + c)
            heapq.heappush(free, (t + c, w))
            self.finished.append((t + c, w))
        self.finished.sort()
        self.now = max([self.now, *ends])
        return ends


class ReplayTrials:
    """What one replayed search has drawn and paid (module docstring).

    Args:
        table: The learning-curve table.
        seed: The search's seed of training-seed draws.
        workers: Simulated machines (:class:`ReplayClock`).
        training_seed: Every trial takes this training seed instead of a draw (to replay a live search that
            trained with it).
        budget: Seconds the search may spend, a cap: an evaluation that would pass it stops there, charged what
            is left, with a NaN value (as a live training stops at its search's
            :class:`~archgen.evaluators.budget.CostMeter`); the epochs it completed stay paid.
    """

    def __init__(self, table: CurveTable, seed: int = 0, workers: int = 1, training_seed: int | None = None,
                 budget: float | None = None) -> None:  # fmt: skip
        self.table = table
        self.training_seed = training_seed
        self.budget = budget
        self.rng = np.random.default_rng([seed, 0x5EED])
        self.clock = ReplayClock(workers)
        #: The training seed of each trial: a cell's first trial by its row, a replicate by ``(row, trial)``.
        self.seed: dict[int | tuple[int, int], int] = {}
        #: Epochs each trial has paid (keys as :attr:`seed`'s).
        self.paid: dict[int | tuple[int, int], int] = {}
        self.seconds = 0.0
        self._complete = table.complete()

    def seed_of(self, row: int, trial: int = 0) -> int:
        """The training seed of ``row``'s trial (drawn at its first evaluation, then kept); a replicate
        (``trial`` >= 1) draws among the seeds the cell's other trials have not taken."""
        key: int | tuple[int, int] = row if trial == 0 else (row, trial)
        if key not in self.seed:
            seeds = np.flatnonzero(self._complete[row])
            if self.training_seed is not None and trial == 0:
                seeds = seeds[seeds == self.training_seed]
            if trial:
                taken = {self.seed_of(row, t) for t in range(trial)}
                seeds = np.array([s for s in seeds if s not in taken], dtype=np.int64)
            if not len(seeds):
                raise SearchInputError(
                    f"cell {self.table.cells[row]} has no {'other ' if trial else ''}complete training in the table"
                    + ("" if self.training_seed is None or trial else f" of seed {self.training_seed}")
                )
            self.seed[key] = int(self.rng.choice(seeds))
        return self.seed[key]

    def pay(self, row: int, epoch: int, trial: int = 0) -> tuple[float, float, float]:
        """``(validation, test, cost)`` of ``row``'s trial at ``epoch``: the cost of the epochs not paid yet
        (NaN values when the budget stopped it, :attr:`budget`)."""
        s = self.seed_of(row, trial)
        key: int | tuple[int, int] = row if trial == 0 else (row, trial)
        done = self.paid.get(key, 0)
        each = np.asarray(self.table.seconds[row, s, done:epoch], dtype=np.float64) if epoch > done else np.zeros(0)
        cost = float(each.sum())
        if self.budget is not None and self.seconds + cost > self.budget:
            left = max(0.0, self.budget - self.seconds)
            self.paid[key] = done + int(np.searchsorted(np.cumsum(each), left, side="right"))
            self.seconds += left
            return float("nan"), float("nan"), left
        self.paid[key] = max(done, epoch)
        self.seconds += cost
        return float(self.table.val[row, s, epoch - 1]), float(self.table.test[row, s, epoch - 1]), cost


class ReplayEvaluator(Evaluator):
    """One fidelity (an epoch of the table's schedule) of a replayed search (module docstring).

    Args:
        trials: The search's shared state.
        epoch: The fidelity: the curve's epoch (1..``table.epochs``).
        trial: 0: each cell's trial; ``k`` >= 1: its ``k``-th replicate (another of its seeds: the same training
            repeated, as :class:`~archgen.evaluators.replicate.Replicated` asks for).
    """

    name: ClassVar[str] = "replay"
    space = "nb201"
    objective = "val_acc"

    def __init__(self, trials: ReplayTrials, epoch: int, trial: int = 0) -> None:
        super().__init__()
        if not isinstance(epoch, int) or not 1 <= epoch <= trials.table.epochs:
            raise SearchInputError(f"epoch must be in 1..{trials.table.epochs} (the table's), got {epoch!r}")
        if not isinstance(trial, int) or not 0 <= trial < trials.table.seeds:
            raise SearchInputError(f"trial must be in 0..{trials.table.seeds - 1} (the table's seeds), got {trial!r}")
        self.trials, self.epoch, self.trial = trials, epoch, trial
        self.source = f"replay:{trials.table.task}@{epoch}/{trials.table.epochs}ep" + (f"#{trial}" if trial else "")
        self._space = NB201SearchSpace()

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        rows = []
        for a in archs:
            try:
                rows.append(self.trials.table.row(self._space.format(a)))
            except KeyError as e:
                raise SearchInputError(str(e.args[0])) from None
        paid = [self.trials.pay(r, self.epoch, self.trial) for r in rows]
        self.trials.clock.batch([c for _, _, c in paid])
        return [EvalResult(a, v, {"val_acc": v, "test_acc": t} | ({"stopped": 1.0} if v != v else {}), c, self.source,
                           fidelity=self.epoch) for a, (v, t, c) in zip(archs, paid, strict=True)]  # fmt: skip


class CandidateSpace(NB201SearchSpace):
    """NB201 restricted to a table's candidates: :meth:`sample` draws them uniformly (every method of a replayed
    search searches within the table's candidate set)."""

    def __init__(self, cells: list[str]) -> None:
        super().__init__()
        self.candidates = [self.parse(c) for c in cells]

    def sample(self, n: int, rng: np.random.Generator) -> list[Arch]:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return [self.candidates[int(i)] for i in rng.integers(0, len(self.candidates), size=n)]

    def sample_distinct(self, n: int, rng: np.random.Generator) -> list[Arch]:
        return [self.candidates[int(i)] for i in rng.permutation(len(self.candidates))[:n]]


__all__ = ["CandidateSpace", "ReplayClock", "ReplayEvaluator", "ReplayTrials"]
