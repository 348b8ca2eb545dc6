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
  of its posterior (the coefficients drawn, not a new measurement's noise) fitted on every fidelity's
  evaluations, each ranked within its fidelity and weighted ``eta ** -(rungs above)``. The prior's ``protect``
  top cells are promoted through every rung of the first bracket, so the search never returns a cell worse,
  at the highest fidelity it reached, than the best of them.
* ``priorband``: Hyperband's brackets whose new cells come from PriorBand's mixture of the prior, the
  incumbent's neighbourhood and uniform sampling (:class:`PriorBand`); by default it trains the prior's 5 top
  cells fully and replicates its challengers (``replicate``: finalists compared on the mean of two trainings).
* ``optuna-tpe-hb`` (:mod:`archgen.search.libraries`): Optuna's TPE sampler with its Hyperband pruner.

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

    def draw(self, archs: Sequence[Arch], y: Sequence[float], rng: np.random.Generator,
             rungs: Sequence[int] | None = None, weights: Sequence[float] | None = None) -> np.ndarray:  # fmt: skip
        """One Thompson draw of every pool cell's score after the evaluations (``rungs``: each one's fidelity,
        values ranked within a rung; ``weights``: each one's weight in (0, 1])."""
        ...


class MultiFidelityStrategy(ABC):
    """Interface of a multi-fidelity strategy (see the module docstring)."""

    name: ClassVar[str]
    #: Whether the constructor takes a ``model`` (:class:`PoolModel`).
    takes_model: ClassVar[bool] = False
    #: Whether the last fidelity is a replicate of the one below it (:class:`SuccessiveHalving`'s ``replicate``):
    #: the search then passes the highest fidelity's training repeated with another seed as its last evaluator.
    replicate: bool = False

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
        replicate: Intensification (SMAC's, for one training's noise): the last fidelity is a **replicate** of
            the one below it (the same training with another seed, the value the mean of the two:
            :class:`~archgen.evaluators.replicate.Replicated`), not a rung of the brackets. A cell whose value at
            the highest rung beats the best replicated mean so far (any, before the first) is replicated before
            anything else is asked, so the search's best (the best at its highest fidelity) is the best mean of
            two trainings, never one training's luck.
    """

    name = "sh"

    def __init__(self, eta: int = 3, n_first: int | None = None, replicate: bool = False) -> None:
        if not isinstance(eta, int) or eta < 2:
            raise SearchInputError(f"eta must be an integer >= 2, got {eta!r}")
        if n_first is not None and (not isinstance(n_first, int) or n_first < 1):
            raise SearchInputError(f"n_first must be a positive integer, got {n_first!r}")
        self.eta, self.n_first_arg, self.replicate = eta, n_first, bool(replicate)

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        super().setup(space, rng, rungs)
        #: The replicate fidelity (:attr:`rungs` is one less: the brackets' rungs), its means and the cells queued.
        self.rep_rung: int | None = None
        self.replicated: dict[Arch, float] = {}
        self.rep_queue: list[Arch] = []
        self.top_values: dict[Arch, float] = {}
        if self.replicate:
            if rungs < 2:
                raise SearchInputError("replicate needs two fidelities at least: the highest and its replicate")
            self.rep_rung, self.rungs = rungs - 1, rungs - 1
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

    def _challengers(self) -> list[Arch]:
        """Queued cells whose value at the highest rung still beats the best replicated mean."""
        best = max(self.replicated.values(), default=-np.inf)
        return [a for a in self.rep_queue if self.top_values[a] > best or not self.replicated]

    def ask(self, q: int) -> tuple[int, list[Arch]]:
        if self.rep_rung is not None and (live := self._challengers()):
            batch = live[:q]
            self.rep_queue = [a for a in self.rep_queue if a not in batch]
            return self.rep_rung, batch
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
        if rung == self.rep_rung:
            for a, v in zip(archs, values, strict=True):
                if np.isfinite(v):
                    self.replicated[a] = float(v)
            return
        if rung == self.rung:
            for a, v in zip(archs, values, strict=True):
                if a in self.members:
                    self.results[a] = float(v)
        if self.rep_rung is not None and rung == self.rungs - 1:
            best = max(self.replicated.values(), default=-np.inf)
            for a, v in zip(archs, values, strict=True):
                if np.isfinite(v) and a not in self.replicated and a not in self.rep_queue and v > best:
                    self.top_values[a] = float(v)
                    self.rep_queue.append(a)


class Hyperband(SuccessiveHalving):
    """Hyperband (Li et al., JMLR 2018): successive-halving brackets that trade the number of new cells for the
    fidelity they start at, in turn. With ``R = rungs - 1``, bracket ``s = R, R-1, ..., 0`` (then again) starts
    ``ceil((R + 1) / (s + 1) * eta ** s)`` new random cells at rung ``R - s`` and keeps the best ``1/eta`` of each
    rung; the last bracket is random search at the highest fidelity.

    Args:
        eta, replicate: As :class:`SuccessiveHalving`'s.
    """

    name = "hyperband"

    def __init__(self, eta: int = 3, replicate: bool = False) -> None:
        super().__init__(eta, replicate=replicate)

    def _s(self) -> int:
        return (self.rungs - 1) - (max(self.bracket, 0) % self.rungs)

    def first_rung(self) -> int:
        return (self.rungs - 1) - self._s()

    def rung_size(self, rung: int) -> int:
        s = self._s()
        n = int(np.ceil(self.rungs / (s + 1) * self.eta**s))
        return max(1, n // self.eta ** (rung - self.first_rung()))


class _PosteriorDraws:
    """What a strategy with a pool model learns from its evaluations (:class:`PriorSuccessiveHalving`,
    :class:`PriorBand`)."""

    pool: list[Arch]
    model: PoolModel
    protect: int
    told: list[tuple[Arch, int, float]]
    eta: int
    rungs: int
    bracket: int
    rng: np.random.Generator

    def _take_model(self, model: PoolModel, protect: int) -> None:
        if not isinstance(protect, int) or protect < 0:
            raise SearchInputError(f"protect must be a non-negative integer, got {protect!r}")
        if not len(model.pool):
            raise SearchInputError("the prior's candidate pool is empty")
        self.model, self.protect = model, protect

    def _start_pool(self) -> np.ndarray:
        """The pool and the prior's ``protect`` top cells; returns the pool's order by the prior (best first)."""
        self.pool = list(self.model.pool)
        mean, _ = self.model.posterior([], [])
        order = np.argsort(-mean, kind="stable")
        self._top = [self.pool[int(i)] for i in order[: self.protect]]
        return order

    def protected(self) -> list[Arch]:
        """The prior's top cells, promoted through every rung of the first bracket."""
        return self._top if self.bracket == 0 else []

    def training_set(self) -> tuple[list[Arch], list[float], list[int], list[float]]:
        """The evaluations the model learns from: every rung's finite values of pool cells, with their rung
        (ranked within it) and weight ``eta ** -(top - rung)`` (``top``: the highest rung with a value; a
        replicate counts as the rung it repeats), so a cheap fidelity's accuracies say less than the full
        schedule's."""
        pool = set(self.pool)
        pts = [(a, r, v) for a, r, v in self.told if np.isfinite(v) and a in pool]
        if not pts:
            return [], [], [], []
        level = [min(r, self.rungs - 1) for _, r, _ in pts]
        top = max(level)
        return ([a for a, _, _ in pts], [v for _, _, v in pts], [r for _, r, _ in pts],
                [float(self.eta ** -(top - r)) for r in level])  # fmt: skip

    def draw(self) -> np.ndarray:
        """One Thompson draw of every pool cell's score given the evaluations so far (:meth:`training_set`)."""
        archs, y, rungs, weights = self.training_set()
        return self.model.draw(archs, y, self.rng, rungs, weights)


class PriorSuccessiveHalving(_PosteriorDraws, SuccessiveHalving):
    """Successive halving whose new cells a pool model proposes (module docstring).

    Args:
        model: The prior over a candidate pool (:class:`PoolModel`).
        protect: The prior's top cells promoted through every rung of the first bracket.
        eta, n_first, replicate: As :class:`SuccessiveHalving`'s.
    """

    name = "prior-sh"
    takes_model = True

    def __init__(self, model: PoolModel, protect: int = 1, eta: int = 3, n_first: int | None = None,
                 replicate: bool = False) -> None:  # fmt: skip
        super().__init__(eta, n_first, replicate)
        self._take_model(model, protect)

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        super().setup(space, rng, rungs)
        self._start_pool()

    def new_cells(self, n: int) -> list[Arch]:
        fresh = [k for k, a in enumerate(self.pool) if a not in self.drawn]
        if not fresh:
            return super().new_cells(n)  # the pool is spent: random cells
        if self.bracket == 0:
            score, _ = self.model.posterior([], [])  # the prior's top cells first
        else:
            score = self.draw()  # a posterior draw (coefficients, not noise): Thompson sampling
        order = sorted(fresh, key=lambda k: -score[k])
        out = [self.pool[k] for k in order[:n]]
        return out + super().new_cells(n - len(out)) if len(out) < n else out


class PriorBand(_PosteriorDraws, Hyperband):
    """Hyperband whose new cells come from a mixture of the prior, the incumbent's neighbourhood and uniform
    sampling, reweighted by how well each predicts the top of the rungs (PriorBand's ensemble sampling policy,
    Mallik et al., NeurIPS 2023, over a candidate pool):

    * uniform with probability ``p_u = 1 / (1 + eta ** r)`` (``r``: the rung the bracket starts at);
    * the rest split between the **prior** (a Thompson draw of the pool model's posterior fitted on every rung's
      evaluations, :meth:`_PosteriorDraws.training_set`) and the **incumbent** (a fresh pool cell nearest
      the best cell of the highest rung reached, by edges differing). Before the highest rung with at least
      ``eta`` values exists, all of it goes to the prior; then in proportion to each one's lift at that rung's
      top ``1 / eta`` cells: the prior's mean percentile of them over 0.5 (what uniform cells score), the
      incumbent's mean similarity to them (edges shared) over the pool's mean similarity to it.

    A misleading prior (one ranking cells backwards) gets a lift below one, so its share falls as the rungs fill,
    and its posterior moves the sources' weights with every evaluation. The first bracket starts from the prior's
    top ``protect`` cells, promoted through every rung, as :class:`PriorSuccessiveHalving`'s does (a transfer
    prior's top cells are CIFAR-10's best: the search trains them fully, as the transfer baseline would), and by
    default the search replicates its challengers (``replicate``, :class:`SuccessiveHalving`): its last fidelity
    is the highest one's training repeated with another seed. The defaults (``protect`` 5, ``replicate``) were
    chosen on replayed searches of seeds 1000-1019, reported on seeds 0-19 (BENCHMARKS.md).

    Args:
        model: The prior over a candidate pool (:class:`PoolModel`).
        protect: The prior's top cells promoted through every rung of the first bracket.
        eta, replicate: As :class:`SuccessiveHalving`'s.
    """

    name = "priorband"
    takes_model = True

    def __init__(self, model: PoolModel, protect: int = 5, eta: int = 3, replicate: bool = True) -> None:
        super().__init__(eta, replicate)
        self._take_model(model, protect)

    def setup(self, space: SearchSpace, rng: np.random.Generator, rungs: int) -> None:
        super().setup(space, rng, rungs)
        order = self._start_pool()
        self._ops = np.array([getattr(a, "ops", ()) for a in self.pool])
        self._prior_pct = np.empty(len(self.pool))
        self._prior_pct[order] = 1.0 - np.arange(len(self.pool)) / max(1, len(self.pool) - 1)  # 1: the prior's best
        self._index = {a: k for k, a in enumerate(self.pool)}
        #: Each share of the last mixture (``uniform``, ``prior``, ``incumbent``).
        self.shares: dict[str, float] = {}

    def _similarity(self, k: int) -> np.ndarray:
        """Share of edges each pool cell shares with pool cell ``k``."""
        return (self._ops == self._ops[k]).mean(axis=1)

    def mixture(self) -> tuple[dict[str, float], int | None]:
        """The sampling shares for the current bracket and the incumbent's pool index (class docstring)."""
        p_u = 1.0 / (1.0 + self.eta ** self.first_rung())
        pts = [(a, r, v) for a, r, v in self.told if np.isfinite(v) and a in self._index]
        counts = {r: sum(1 for _, q, _ in pts if q == r) for r in {r for _, r, _ in pts}}
        full = [r for r, c in counts.items() if c >= self.eta]
        if not full or self._ops.ndim != 2:
            return {"uniform": p_u, "prior": 1.0 - p_u, "incumbent": 0.0}, None
        rung = max(full)
        at = sorted(((v, self._index[a]) for a, r, v in pts if r == rung), reverse=True)
        inc = at[0][1]
        top = [k for _, k in at[: max(1, int(np.ceil(len(at) / self.eta)))]]
        sim = self._similarity(inc)
        lift_prior = float(np.mean(self._prior_pct[top])) / 0.5
        others = [k for k in top if k != inc]
        lift_inc = float(np.mean(sim[others])) / max(float(np.mean(sim)), 1e-9) if others else 1.0
        w = (1.0 - p_u) / (lift_prior + lift_inc)
        return {"uniform": p_u, "prior": w * lift_prior, "incumbent": w * lift_inc}, inc

    def new_cells(self, n: int) -> list[Arch]:
        fresh = {k for k, a in enumerate(self.pool) if a not in self.drawn}
        if not fresh:
            return SuccessiveHalving.new_cells(self, n)
        shares, inc = self.mixture()
        self.shares = shares
        names = list(shares)
        p = np.array([shares[k] for k in names])
        score: np.ndarray | None = None
        sim = None if inc is None else self._similarity(inc)
        out: list[Arch] = []
        if self.bracket == 0:  # the prior's top cells first, as prior-sh
            out += self._top
            fresh -= {self._index[a] for a in self._top}
        while len(out) < n and fresh:
            pick = names[int(self.rng.choice(len(names), p=p / p.sum()))]
            if pick == "uniform":
                k = sorted(fresh)[int(self.rng.integers(len(fresh)))]
            elif pick == "incumbent" and sim is not None:
                cand = sorted(fresh)
                best = max(sim[c] for c in cand)
                near = [c for c in cand if sim[c] == best]
                k = near[int(self.rng.integers(len(near)))]
            else:
                score = self.draw() if score is None else score
                k = max(fresh, key=lambda c: (score[c], -c))
            out.append(self.pool[k])
            fresh.discard(k)
        return out + SuccessiveHalving.new_cells(self, n - len(out)) if len(out) < n else out


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
    "PriorBand",
    "PriorSuccessiveHalving",
    "SuccessiveHalving",
    "expected_cost",
    "get_multifidelity_strategy",
    "list_multifidelity_strategies",
    "multifidelity_strategy_class",
    "register_multifidelity_strategy",
    "run_multifidelity_search",
]
