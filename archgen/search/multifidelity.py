"""Searches that pay for real evaluations at several fidelities (successive halving, guided by a prior).

A multi-fidelity search has an ordered list of fidelities, cheapest first (e.g. trainings of 2, 6 and 20
epochs), one evaluator each, and a budget in the evaluators' cost unit (measured training seconds). A
:class:`MultiFidelityStrategy` proposes, batch by batch, cells to evaluate at one fidelity
(:meth:`~MultiFidelityStrategy.ask` returns ``(rung, archs)``) and is told their values;
:func:`run_multifidelity_search` pays the rung's evaluator until the budget is spent and records every
evaluation, with its rung, in a :class:`~archgen.search.history.SearchHistory`. As with
:func:`~archgen.search.loop.run_search`, the history is written after every batch and a later call resumes it
by replay (a strategy is a function of its seed and of what it is told), so a resumed search ends as an
uninterrupted one; an evaluator that keeps its work (the training evaluator's checkpoints and finished runs)
makes a batch cut short by a kill cost nothing twice.

Built in (:func:`list_multifidelity_strategies`):

* ``sh``: successive halving (Jamieson & Talwalkar, AISTATS 2016; one Hyperband bracket, Li et al., JMLR
  2018), repeated: a bracket draws ``n_first`` new cells at random and evaluates them at the lowest fidelity,
  promotes the best ``1/eta`` to the next, and so on to the highest; then a new bracket starts. With one
  fidelity it is random search.
* ``hyperband``: Hyperband's brackets in turn (:class:`Hyperband`), each starting at another fidelity with
  fewer new cells the higher it starts.
* ``prior-sh``: the same brackets, new cells drawn from a :class:`PoolModel` (a prior over a candidate pool
  that learns from the evaluations): the first bracket takes the prior's top cells, later ones Thompson draws
  of its posterior fitted on the evaluations so far, at the highest fidelity with enough of them (BOHB's rule,
  Falkner et al., ICML 2018, with the prior in place of BOHB's density estimator). The prior's ``protect``
  top cells are promoted through every rung of the first bracket, so the search never returns a cell worse,
  at the highest fidelity it reached, than the best of them.

The best cell of a search is the best at the highest fidelity any cell reached
(:meth:`SearchHistory.best`): values of different fidelities are never compared.

The budget is a cap. Given each fidelity's expected cost (``expected_costs``: an estimate before any evaluation;
then the costs measured so far, :func:`expected_cost`), no evaluation starts that the budget left cannot pay for:
a batch is cut to the evaluations it can pay, and the search ends once the strategy's next evaluation does not
fit. With a :class:`~archgen.evaluators.budget.CostMeter` shared with the evaluators, an evaluation in flight when
the budget runs out stops (a training writes its checkpoint first), charged the seconds it used, with a NaN value
and ``values["stopped"] == 1``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from archgen.errors import SearchInputError
from archgen.registry import Registry
from archgen.search.history import Evaluation, SearchHistory
from archgen.search.loop import end_batch, end_search, load_checkpoint

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.evaluators.base import EvalResult, Evaluator
    from archgen.evaluators.budget import CostMeter
    from archgen.search.parallel import Workers
    from archgen.spaces.base import SearchSpace

#: Most fidelities of one search.
MAX_FIDELITIES = 8
#: Evaluations at a fidelity before the pool model learns from that fidelity (BOHB's minimum, for our model).
MIN_MODEL_POINTS = 4


class PoolModel(Protocol):
    """A prior over a pool of candidate cells that learns from evaluations (e.g.
    :class:`archgen.transfer.prior.PoolPosterior`)."""

    @property
    def pool(self) -> Sequence[Arch]: ...

    def posterior(self, archs: Sequence[Arch], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of every pool cell's score after the evaluations ``y`` (larger better) of ``archs``
        (pool cells; none: the prior)."""
        ...


class MultiFidelityStrategy(ABC):
    """Interface of a multi-fidelity strategy (see the module docstring)."""

    name: ClassVar[str]
    #: Whether the constructor takes a ``model`` (:class:`PoolModel`).
    takes_model: ClassVar[bool] = False

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        """Start a search of ``space`` with ``rungs`` fidelities."""
        if not isinstance(rungs, int) or not 1 <= rungs <= MAX_FIDELITIES:
            raise SearchInputError(f"a multi-fidelity search has 1..{MAX_FIDELITIES} fidelities, got {rungs!r}")
        self.space, self.rng, self.rungs = space, rng, rungs
        #: ``(arch, rung, value)`` of every evaluation told, in order.
        self.told: list[tuple[Arch, int, float]] = []

    @abstractmethod
    def ask(self, q: int) -> tuple[int, list[Arch]]:
        """Up to ``q`` cells to evaluate at fidelity ``rung`` (none: nothing left to propose)."""

    def tell(self, rung: int, archs: Sequence[Arch], values: Sequence[float]) -> None:
        """Values (larger better; NaN: none) of the cells of the last :meth:`ask`."""
        for a, v in zip(archs, values, strict=True):
            self.told.append((a, rung, float(v)))


class SuccessiveHalving(MultiFidelityStrategy):
    """Successive-halving brackets over random cells (module docstring).

    Args:
        eta: Each rung keeps the best ``1/eta`` of the cells of the rung below.
        n_first: New cells a bracket evaluates at the lowest fidelity (default ``eta ** (rungs - 1)``, at
            least 4: one cell reaches the highest fidelity).
    """

    name = "sh"

    def __init__(self, eta: int = 3, n_first: int | None = None) -> None:
        if not isinstance(eta, int) or eta < 2:
            raise SearchInputError(f"eta must be an integer >= 2, got {eta!r}")
        if n_first is not None and (not isinstance(n_first, int) or n_first < 1):
            raise SearchInputError(f"n_first must be a positive integer, got {n_first!r}")
        self.eta, self.n_first_arg = eta, n_first

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        super().setup(space, rng, rungs)
        self.n_first = self.n_first_arg or max(4, self.eta ** (rungs - 1))
        self.drawn: set[Arch] = set()  # every cell a bracket has taken (never drawn again)
        self.bracket = -1
        self.rung = 0
        self.queue: list[Arch] = []  # the current rung's cells not asked yet
        self.members: list[Arch] = []  # the current rung's cells
        self.results: dict[Arch, float] = {}  # their values, as told

    def rung_size(self, rung: int) -> int:
        """Cells of a bracket at ``rung`` (before protected ones)."""
        return max(1, self.n_first // self.eta**rung)

    def first_rung(self) -> int:
        """The rung the current bracket starts at (its new cells' fidelity)."""
        return 0

    def protected(self) -> list[Arch]:
        """Cells promoted through every rung of the current bracket whatever their values."""
        return []

    def new_cells(self, n: int) -> list[Arch]:
        """``n`` cells never drawn before (fewer when the space runs out)."""
        out: list[Arch] = []
        taken: set[Arch] = set()
        for _ in range(100 * n):
            if len(out) == n:
                break
            (a,) = self.space.sample(1, self.rng)
            if a not in self.drawn and a not in taken:
                out.append(a)
                taken.add(a)
        return out

    def _start(self, rung: int, cells: list[Arch]) -> None:
        self.rung, self.members, self.queue, self.results = rung, list(cells), list(cells), {}

    def ask(self, q: int) -> tuple[int, list[Arch]]:
        if not self.queue and len(self.results) == len(self.members):  # the rung is done: promote or start anew
            if self.bracket >= 0 and self.rung + 1 < self.rungs and self.members:
                ranked = sorted(self.members, key=lambda a: -_finite(self.results[a]))
                keep = ranked[: self.rung_size(self.rung + 1)]
                keep += [a for a in self.protected() if a in self.results and a not in keep]
                self._start(self.rung + 1, keep)
            else:
                self.bracket += 1
                first = self.first_rung()
                cells = self.new_cells(self.rung_size(first))
                self.drawn.update(cells)
                self._start(first, cells)
        batch, self.queue = self.queue[:q], self.queue[q:]
        return self.rung, batch

    def tell(self, rung: int, archs: Sequence[Arch], values: Sequence[float]) -> None:
        super().tell(rung, archs, values)
        if rung == self.rung:
            for a, v in zip(archs, values, strict=True):
                if a in self.members:
                    self.results[a] = float(v)


class Hyperband(SuccessiveHalving):
    """Hyperband (Li et al., JMLR 2018): successive-halving brackets that trade the number of new cells for the
    fidelity they start at, in turn. With ``R = rungs - 1``, bracket ``s = R, R-1, ..., 0`` (then again) starts
    ``ceil((R + 1) / (s + 1) * eta ** s)`` new random cells at rung ``R - s`` and keeps the best ``1/eta`` of each
    rung; the last bracket is random search at the highest fidelity.

    Args:
        eta: Each rung keeps the best ``1/eta`` of the cells of the rung below.
    """

    name = "hyperband"

    def __init__(self, eta: int = 3) -> None:
        super().__init__(eta)

    def _s(self) -> int:
        return (self.rungs - 1) - (max(self.bracket, 0) % self.rungs)

    def first_rung(self) -> int:
        return (self.rungs - 1) - self._s()

    def rung_size(self, rung: int) -> int:
        s = self._s()
        n = int(np.ceil(self.rungs / (s + 1) * self.eta**s))
        return max(1, n // self.eta ** (rung - self.first_rung()))


class PriorSuccessiveHalving(SuccessiveHalving):
    """Successive halving whose new cells a pool model proposes (module docstring).

    Args:
        model: The prior over a candidate pool (:class:`PoolModel`).
        protect: The prior's top cells promoted through every rung of the first bracket.
        eta, n_first: As :class:`SuccessiveHalving`'s.
    """

    name = "prior-sh"
    takes_model = True

    def __init__(self, model: PoolModel, protect: int = 1, eta: int = 3, n_first: int | None = None) -> None:
        super().__init__(eta, n_first)
        if not isinstance(protect, int) or protect < 0:
            raise SearchInputError(f"protect must be a non-negative integer, got {protect!r}")
        if not len(model.pool):
            raise SearchInputError("the prior's candidate pool is empty")
        self.model, self.protect = model, protect

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        super().setup(space, rng, rungs)
        self.pool = list(self.model.pool)
        mean, _ = self.model.posterior([], [])
        order = np.argsort(-mean, kind="stable")
        self._top = [self.pool[int(i)] for i in order[: self.protect]]

    def protected(self) -> list[Arch]:
        return self._top if self.bracket == 0 else []

    def training_set(self) -> tuple[list[Arch], list[float]]:
        """The evaluations the model learns from: the highest rung with enough finite values (BOHB's rule)."""
        pool = set(self.pool)
        for rung in range(self.rungs - 1, -1, -1):
            pts = [(a, v) for a, r, v in self.told if r == rung and np.isfinite(v) and a in pool]
            if len(pts) >= MIN_MODEL_POINTS or (rung == 0 and pts):
                return [a for a, _ in pts], [v for _, v in pts]
        return [], []

    def new_cells(self, n: int) -> list[Arch]:
        fresh = [k for k, a in enumerate(self.pool) if a not in self.drawn]
        if not fresh:
            return super().new_cells(n)  # the pool is spent: random cells
        archs, y = self.training_set()
        mean, std = self.model.posterior(archs, y)
        if self.bracket == 0:
            score = mean  # the prior's top cells first
        else:
            score = mean + std * self.rng.standard_normal(len(mean))  # independent Thompson draws
        order = sorted(fresh, key=lambda k: -score[k])
        out = [self.pool[k] for k in order[:n]]
        return out + super().new_cells(n - len(out)) if len(out) < n else out


def _finite(v: float) -> float:
    return v if np.isfinite(v) else -np.inf


#: Multi-fidelity strategies by name; :mod:`archgen.composition` registers the built-in ones.
_MF_STRATEGIES: Registry[type[MultiFidelityStrategy]] = Registry("multi-fidelity strategy")


def register_multifidelity_strategy(cls: type[MultiFidelityStrategy]) -> type[MultiFidelityStrategy]:
    _MF_STRATEGIES.add(cls.name, cls)
    return cls


def list_multifidelity_strategies(*, takes_model: bool | None = None) -> list[str]:
    """Registered names (``takes_model``: only those that do, or do not, take a pool model)."""
    names = _MF_STRATEGIES.names()
    return [n for n in names if takes_model is None or _MF_STRATEGIES.get(n).takes_model == takes_model]


def multifidelity_strategy_class(name: str) -> type[MultiFidelityStrategy]:
    """The registered class (unknown names raise :class:`UnknownNameError` listing the valid ones)."""
    return _MF_STRATEGIES.get(name)


def get_multifidelity_strategy(name: str, **params: Any) -> MultiFidelityStrategy:
    """A new multi-fidelity strategy by registered name."""
    try:
        return _MF_STRATEGIES.get(name)(**params)
    except TypeError as e:
        raise SearchInputError(f"strategy {name!r}: {e}") from None


def run_multifidelity_search(
    space: SearchSpace,
    strategy: MultiFidelityStrategy,
    evaluators: Sequence[Evaluator],
    *,
    budget: float,
    batch_size: int = 1,
    seed: int = 0,
    fidelities: Sequence[dict[str, Any]] | None = None,
    overhead: float = 0.0,
    checkpoint: Path | None = None,
    on_batch: Callable[[SearchHistory], None] | None = None,
    workers: Workers | None = None,
    expected_costs: Sequence[float] | None = None,
    meter: CostMeter | None = None,
    setup: dict[str, Any] | None = None,
) -> SearchHistory:
    """Search ``space`` with ``strategy``, paying ``evaluators[rung]`` for each batch, until ``budget`` is spent.

    Args:
        space: The search space.
        strategy: A fresh multi-fidelity strategy.
        evaluators: One per fidelity, cheapest first, all of ``space`` with one objective and direction.
        budget: In the evaluators' cost unit (e.g. measured training seconds); no batch starts once the
            evaluations' costs and ``overhead`` reach it; with ``expected_costs`` no evaluation starts that the
            budget left cannot pay for (module docstring).
        batch_size: Most evaluations run together (one rung's cells; on ``workers`` in parallel).
        seed: The search's one source of randomness.
        fidelities: What each fidelity is (JSON objects kept in the history, e.g. ``{"epochs": 2}``).
        overhead: Cost already spent before the first evaluation (e.g. the prior's zero-cost scores).
        checkpoint: JSON file written after every batch; an unfinished one of the same search is resumed.
        on_batch: Called with the history after every batch (may raise to stop; the checkpoint is kept).
        workers: Where a batch runs (:class:`~archgen.search.parallel.Workers`); default: here, in turn.
        expected_costs: Each fidelity's expected cost of one evaluation before any is measured (module
            docstring); ``None``: batches are not cut.
        meter: Shared with the evaluators, which stop an evaluation in flight once the budget is spent; the loop
            settles it after every batch.
        setup: Kept in the history (:attr:`SearchHistory.setup`), e.g. a prior's pool; a resumed search keeps its
            checkpoint's.

    Raises:
        SearchInputError: budget, batch size or evaluators out of range, a checkpoint of another search, or a
            strategy that does not propose its recorded batches again.
    """
    if not np.isfinite(budget) or budget <= 0:
        raise SearchInputError(f"budget must be a positive number, got {budget!r}")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 1024:
        raise SearchInputError(f"batch_size must be an integer in 1..1024, got {batch_size!r}")
    if not evaluators:
        raise SearchInputError("a multi-fidelity search needs at least one evaluator")
    first = evaluators[0]
    for ev in evaluators:
        if ev.space != space.name or ev.objective != first.objective or ev.maximize != first.maximize:
            raise SearchInputError("every fidelity's evaluator must evaluate the space's cells for one objective")
    fids = [dict(f) for f in fidelities] if fidelities is not None else [{} for _ in evaluators]
    if len(fids) != len(evaluators):
        raise SearchInputError(f"{len(fids)} fidelities for {len(evaluators)} evaluators")
    strategy.setup(space, np.random.default_rng(seed), len(evaluators))
    sign = 1.0 if first.maximize else -1.0
    history = SearchHistory(space.name, strategy.name, first.objective, first.maximize, seed, int(np.ceil(budget)),
                            batch_size, fidelities=fids, budget_unit="seconds", overhead=float(overhead))  # fmt: skip
    if expected_costs is not None and len(expected_costs) != len(evaluators):
        raise SearchInputError(f"{len(expected_costs)} expected costs for {len(evaluators)} evaluators")
    history.setup = dict(setup or {})
    if checkpoint is not None and Path(checkpoint).exists():
        history = _replay(Path(checkpoint), history, space, strategy, sign)
        if history.finished:
            return history
    while history.spent() < budget:
        t0 = time.perf_counter()
        rung, archs = strategy.ask(batch_size)
        if not archs:
            break  # nothing left to propose
        last = False
        if expected_costs is not None:
            each = expected_cost(history, rung, expected_costs)
            fits = len(archs) if each <= 0 else min(len(archs), int((budget - history.spent()) // each))
            if fits < len(archs):
                history.result["stop"] = (
                    f"the {budget - history.spent():.0f} s left could not pay for the next "
                    f"{'training' if fits == 0 else f'{len(archs) - fits} trainings'} the strategy asked for "
                    f"(about {each:.1f} s each at {_label(fids[rung], rung)})"
                )
                archs, last = archs[:fits], True
            if not archs:
                break
        if meter is not None:
            meter.settle(history.spent())
        ev = evaluators[rung]
        results: list[EvalResult] = ev.evaluate(archs) if workers is None else workers.evaluate(ev, archs)
        b = history.num_batches
        for r in results:
            history.evaluations.append(
                Evaluation(space.format(r.arch), r.value, r.cost, b, dict(r.values), fidelity=rung)
            )
        strategy.tell(rung, archs, [sign * r.value for r in results])
        stopped = any(r.values.get("stopped") for r in results)
        if stopped:
            history.result["stop"] = "the budget ran out during a batch: its trainings in flight were stopped"
        done = last or stopped or history.spent() >= budget
        end_batch(history, t0, done, checkpoint, on_batch)
        if done:
            break
    return end_search(history, checkpoint)


def expected_cost(history: SearchHistory, rung: int, prior: Sequence[float]) -> float:
    """The expected cost of one evaluation at ``rung``: the mean of that rung's measured costs once there are two;
    before, ``prior[rung]`` scaled by how the measured costs of every rung compare with their ``prior``."""
    done = [(int(e.fidelity), e.cost) for e in history.evaluations
            if e.fidelity is not None and e.cost > 0 and np.isfinite(e.cost) and not e.values.get("stopped")]  # fmt: skip
    same = [c for f, c in done if f == rung]
    if len(same) >= 2:
        return float(np.mean(same))
    ratios = [c / prior[f] for f, c in done if prior[f] > 0]
    return float(prior[rung] * (np.mean(ratios) if ratios else 1.0))


def _label(fidelity: dict[str, Any], rung: int) -> str:
    return str(fidelity.get("label", f"fidelity {rung}"))


def _replay(path: Path, fresh: SearchHistory, space: SearchSpace, strategy: MultiFidelityStrategy,
            sign: float) -> SearchHistory:  # fmt: skip
    """Feed a checkpoint's batches to the fresh ``strategy`` (checking it proposes them again)."""
    old = load_checkpoint(path, fresh, ("space", "strategy", "objective", "maximize", "seed", "budget", "batch_size",
                                        "fidelities", "budget_unit"))  # fmt: skip
    for b in range(old.num_batches):
        batch = [e for e in old.evaluations if e.batch == b]
        rung, archs = strategy.ask(old.batch_size)
        archs = archs[: len(batch)]  # a batch cut to what the budget could pay for is a prefix of the proposal
        if rung != batch[0].fidelity or [space.format(a) for a in archs] != [e.architecture for e in batch]:
            raise SearchInputError(f"checkpoint {path.name}: batch {b} is not what the strategy proposes again")
        strategy.tell(rung, archs, [sign * e.value for e in batch])
    return old


__all__ = [
    "MAX_FIDELITIES",
    "Hyperband",
    "MultiFidelityStrategy",
    "PoolModel",
    "PriorSuccessiveHalving",
    "SuccessiveHalving",
    "expected_cost",
    "get_multifidelity_strategy",
    "list_multifidelity_strategies",
    "multifidelity_strategy_class",
    "register_multifidelity_strategy",
    "run_multifidelity_search",
]
