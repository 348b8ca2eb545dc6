"""Multi-fidelity schedulers of well-kept libraries behind archgen's strategy interface
(:class:`~archgen.search.multifidelity.MultiFidelityStrategy`), so the same search loop runs them on real
trainings, on tables and in replay.

* ``optuna-tpe-hb``: Optuna's TPE sampler (Bergstra et al., 2011; Optuna's multivariate TPE) with its Hyperband
  pruner (Li et al., 2018). Each cell is an Optuna trial whose parameters are the cell's operations (one
  categorical per position); the trial reports its value at every rung it reaches, with the rung's resource
  ``eta ** rung`` (the fidelities are taken as a geometric ladder, as Hyperband's), and Optuna's pruner decides
  whether it goes on to the next rung; a trial that reaches the highest rung completes with that value. Where the
  space is a candidate set (a table's, :class:`~archgen.curves.replay.CandidateSpace`), a suggested cell outside
  it is mapped to the candidate with the fewest positions differing (ties: the first). A suggested cell already
  drawn is told to Optuna as pruned at its last value (Optuna learns from it; nothing is paid twice).

A strategy is a function of its seed and of what it is told (Optuna's sampler is seeded from the search's
generator), so a search resumed from its checkpoint replays to the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from archgen.arch import Arch
from archgen.errors import SearchInputError
from archgen.search.multifidelity import MultiFidelityStrategy

if TYPE_CHECKING:
    from archgen.spaces.base import SearchSpace

#: Suggestions tried for one new cell before the strategy says the space is spent.
MAX_SUGGESTIONS = 200


class OptunaTPEHyperband(MultiFidelityStrategy):
    """Optuna's TPE sampler with its Hyperband pruner (module docstring).

    Args:
        eta: Hyperband's reduction factor (each rung keeps about ``1/eta`` of its trials).
        n_startup_trials: Random trials before TPE models the completed and pruned ones.
    """

    name = "optuna-tpe-hb"

    def __init__(self, eta: int = 3, n_startup_trials: int = 10) -> None:
        if not isinstance(eta, int) or eta < 2:
            raise SearchInputError(f"eta must be an integer >= 2, got {eta!r}")
        if not isinstance(n_startup_trials, int) or n_startup_trials < 1:
            raise SearchInputError(f"n_startup_trials must be a positive integer, got {n_startup_trials!r}")
        self.eta, self.n_startup_trials = eta, n_startup_trials

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        super().setup(space, rng, rungs)
        choices = getattr(space, "op_names", None)
        (probe,) = space.sample(1, np.random.default_rng(0))
        if choices is None or probe.edges:
            raise SearchInputError(f"{self.name} searches spaces of operations on fixed positions (nb201), not "
                                   f"{space.name!r}")  # fmt: skip
        self.choices, self.positions = list(choices), len(probe.ops)
        cand = getattr(space, "candidates", None)
        self.candidates: list[Arch] | None = list(cand) if cand is not None else None
        self._cand_ops = None if cand is None else np.array([a.ops for a in cand])
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(
            study_name=self.name,  # Hyperband's brackets hash the study's name: a fixed one keeps them reproducible
            direction="maximize",
            sampler=optuna.samplers.TPESampler(
                seed=int(rng.integers(2**31 - 1)), n_startup_trials=self.n_startup_trials
            ),
            pruner=optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=self.eta ** (rungs - 1), reduction_factor=self.eta
            ),
        )
        self.trial_of: dict[Arch, Any] = {}
        self.last: dict[Arch, tuple[int, float]] = {}  # each cell's highest rung told and its value there
        self.waiting: dict[int, list[Arch]] = {}  # cells promoted to a rung, not asked yet
        self.spent = False

    def _cell(self, ops: Sequence[int]) -> Arch:
        if self._cand_ops is None or self.candidates is None:
            return Arch(self.space.name, tuple(int(o) for o in ops))
        return self.candidates[int(np.argmin((self._cand_ops != np.array(ops)).sum(axis=1)))]

    def _new(self) -> Arch | None:
        for _ in range(MAX_SUGGESTIONS):
            trial = self.study.ask()
            ops = [self.choices.index(trial.suggest_categorical(f"op{k}", self.choices)) for k in range(self.positions)]
            cell = self._cell(ops)
            if cell not in self.trial_of:
                self.trial_of[cell] = trial
                return cell
            rung, value = self.last.get(cell, (0, float("nan")))
            if np.isfinite(value):
                trial.report(value, self.eta**rung)
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # a cell already drawn: learnt, not paid
        self.spent = True
        return None

    def ask(self, q: int) -> tuple[int, list[Arch]]:
        for rung in sorted(self.waiting, reverse=True):  # promotions first, the highest rung first
            if self.waiting[rung]:
                batch, self.waiting[rung] = self.waiting[rung][:q], self.waiting[rung][q:]
                return rung, batch
        out: list[Arch] = []
        while len(out) < q and not self.spent:
            cell = self._new()
            if cell is not None:
                out.append(cell)
        return 0, out

    def tell(self, rung: int, archs: Sequence[Arch], values: Sequence[float]) -> None:
        super().tell(rung, archs, values)
        for a, v in zip(archs, values, strict=True):
            trial = self.trial_of[a]
            if not np.isfinite(v):
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            self.last[a] = (rung, float(v))
            trial.report(float(v), self.eta**rung)
            if rung == self.rungs - 1:
                self.study.tell(trial, float(v))
            elif trial.should_prune():
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                self.waiting.setdefault(rung + 1, []).append(a)


__all__ = ["OptunaTPEHyperband"]
