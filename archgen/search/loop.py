"""The search loop: a free function, like BoTorch's ``optimize_acqf``.

``run_search`` asks a strategy for a batch, pays the evaluator for it, tells the
strategy the values and records everything in a :class:`SearchHistory`, until
the budget (a number of evaluations) is spent. With ``checkpoint``, the history
is written after every batch; a later call with the same checkpoint, seed and
settings resumes: the recorded batches are replayed into a fresh strategy (the
strategy is a function of its seed and of what it is told, so it proposes the
recorded batches again, which is checked), and only the rest is evaluated. The
result equals an uninterrupted run's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archgen.search.history import Evaluation, SearchHistory
from archgen.search.strategies import SearchInputError, Strategy, list_strategies

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.evaluators.base import Evaluator
    from archgen.search.parallel import Workers
    from archgen.spaces.base import SearchSpace

#: Most evaluations one search may spend.
MAX_BUDGET = 100_000


def run_search(
    space: SearchSpace,
    strategy: Strategy,
    evaluator: Evaluator,
    *,
    budget: int,
    batch_size: int = 1,
    seed: int = 0,
    candidates: Sequence[Arch] | None = None,
    checkpoint: Path | None = None,
    on_batch: Callable[[SearchHistory], None] | None = None,
    objectives: Sequence[tuple[str, bool]] | None = None,
    workers: Workers | None = None,
) -> SearchHistory:
    """Search ``space`` with ``strategy``, paying ``evaluator`` for ``budget`` evaluations in batches.

    Args:
        space: The search space (with rows where ``candidates`` come from its table).
        strategy: A fresh strategy (:func:`~archgen.search.strategies.get_strategy`).
        evaluator: What each evaluation is paid to (its objective is maximised
            or minimised as its ``maximize`` says).
        budget: Evaluations to spend (a repeat is never proposed).
        batch_size: Architectures proposed and evaluated together (q).
        seed: The search's one source of randomness.
        candidates: Every architecture of the space, where it is enumerated (strategies draw from them).
        checkpoint: JSON file written after every batch; an unfinished one with the
            same settings is resumed.
        on_batch: Called with the history after every batch (progress; may raise to stop the search,
            which keeps the checkpoint).
        objectives: A multi-objective search: ``(name, maximize)`` pairs, the evaluator's objective first,
            the others among the values it returns (e.g. a published latency); the strategy must
            handle several objectives (``Strategy.multi_objective``) and the history keeps the front.
        workers: Where a batch's evaluations run (:class:`~archgen.search.parallel.Workers`: threads
            of this process, or Ray tasks); default: one after the other here. The result is the same.

    Raises:
        SearchInputError: budget or batch size out of range, a checkpoint of another search, or a
            strategy that does not re-propose its recorded batches.
    """
    if not isinstance(budget, int) or not 1 <= budget <= MAX_BUDGET:
        raise SearchInputError(f"budget must be an integer in 1..{MAX_BUDGET}, got {budget!r}")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= budget:
        raise SearchInputError(f"batch_size must be an integer in 1..budget ({budget}), got {batch_size!r}")
    if evaluator.space != space.name:
        raise SearchInputError(f"the evaluator evaluates {evaluator.space!r}, not {space.name!r}")
    objs = _objectives(evaluator, strategy, objectives)
    signs = np.array([1.0 if m else -1.0 for _, m in objs])
    strategy.setup(space, np.random.default_rng(seed), candidates)
    history = SearchHistory(
        space.name, strategy.name, evaluator.objective, evaluator.maximize, seed, budget, batch_size
    )
    if len(objs) > 1:
        history.objectives = [[n, m] for n, m in objs]
    if checkpoint is not None and Path(checkpoint).exists():
        history = _replay(Path(checkpoint), history, space, strategy, signs)
    while len(history.evaluations) < budget:
        t0 = time.perf_counter()
        q = min(batch_size, budget - len(history.evaluations))
        archs = strategy.ask(q)
        if not archs:
            break  # the space is exhausted
        results = evaluator.evaluate(archs) if workers is None else workers.evaluate(evaluator, archs)
        b = history.num_batches
        for r in results:
            history.evaluations.append(Evaluation(space.format(r.arch), r.value, r.cost, b, dict(r.values)))
        strategy.tell(archs, _told(history.evaluations[-len(results) :], objs, signs))
        end_batch(history, t0, len(history.evaluations) >= budget, checkpoint, on_batch)
    return end_search(history, checkpoint)


def end_batch(
    history: SearchHistory,
    started: float,
    finished: bool,
    checkpoint: Path | None,
    on_batch: Callable[[SearchHistory], None] | None,
) -> None:
    """A batch's end in any search loop: its wall time (from ``started``, ``time.perf_counter``), whether the
    budget is spent, the checkpoint written, then ``on_batch`` (which may raise to stop the search)."""
    history.batch_seconds.append(time.perf_counter() - started)
    history.finished = finished
    if checkpoint is not None:
        history.save(Path(checkpoint))
    if on_batch is not None:
        on_batch(history)


def end_search(history: SearchHistory, checkpoint: Path | None) -> SearchHistory:
    """A search's end: marked finished, written to its checkpoint."""
    history.finished = True
    if checkpoint is not None:
        history.save(Path(checkpoint))
    return history


def load_checkpoint(path: Path, fresh: SearchHistory, keys: Sequence[str]) -> SearchHistory:
    """The history in ``path``, checked to be of the search ``fresh`` starts (equal on ``keys``).

    Raises:
        SearchInputError: not a search history, or another search's.
    """
    try:
        old = SearchHistory.load(path)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise SearchInputError(f"checkpoint {Path(path).name} is not a search history: {e}") from None
    for key in keys:
        if getattr(old, key) != getattr(fresh, key):
            raise SearchInputError(
                f"checkpoint {path} is of another search ({key} {getattr(old, key)!r}, not {getattr(fresh, key)!r})"
            )
    return old


def _objectives(
    evaluator: Evaluator, strategy: Strategy, objectives: Sequence[tuple[str, bool]] | None
) -> list[tuple[str, bool]]:
    if not objectives:
        return [(evaluator.objective, evaluator.maximize)]
    objs = [(str(n), bool(m)) for n, m in objectives]
    if objs[0][0] != evaluator.objective:
        raise SearchInputError(
            f"the first objective must be the evaluator's ({evaluator.objective!r}), not {objs[0][0]!r}"
        )
    if len({n for n, _ in objs}) != len(objs):
        raise SearchInputError(f"objectives repeat a name: {[n for n, _ in objs]}")
    if len(objs) > 1 and not strategy.multi_objective:
        raise SearchInputError(
            f"strategy {strategy.name!r} optimises one objective; with several use one of: "
            f"{', '.join(list_strategies(multi_objective=True))}"
        )
    return objs


def _told(evals: Sequence[Evaluation], objs: Sequence[tuple[str, bool]], signs: np.ndarray) -> list[float] | np.ndarray:
    """What a strategy is told: the signed objective, or a ``[q, m]`` matrix of signed objectives."""
    if len(objs) == 1:
        return [float(signs[0] * e.value) for e in evals]
    Y = np.array([[e.value if j == 0 else e.values.get(n, np.nan) for j, (n, _) in enumerate(objs)] for e in evals])
    return Y * signs


def _replay(
    path: Path, fresh: SearchHistory, space: SearchSpace, strategy: Strategy, signs: np.ndarray
) -> SearchHistory:
    """Feed a checkpoint's batches to the fresh ``strategy`` (checking it proposes them again)."""
    old = load_checkpoint(path, fresh, ("space", "strategy", "objective", "maximize", "seed", "budget", "batch_size",
                                        "objectives"))  # fmt: skip
    objs = [(n, m) for n, m in old.objectives] or [(old.objective, old.maximize)]
    done = 0
    for b in range(old.num_batches):
        batch = [e for e in old.evaluations if e.batch == b]
        archs = strategy.ask(min(old.batch_size, old.budget - done))  # the loop's own call
        done += len(batch)
        if [space.format(a) for a in archs] != [e.architecture for e in batch]:
            raise SearchInputError(f"checkpoint {Path(path).name}: batch {b} is not what the strategy proposes again")
        strategy.tell(archs, _told(batch, objs, signs))
    return old
