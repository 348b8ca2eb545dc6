"""A search that pays for real trainings at several fidelities, on any task with images (a user's own above all).

``POST /v1/searches {task, evaluator: "training", budget_minutes, fidelities?, schedule?, prior?,
final_epochs?}`` and ``archgen search --evaluator training`` come here through
:func:`archgen.services.search.check_search` and :func:`~archgen.services.search.execute_search`:

* every fidelity is a training of the cell from scratch by the training evaluator
  (:class:`~archgen.evaluators.training.TrainingEvaluator`): :data:`DEFAULT_FIDELITIES` (2, 6 and 20 epochs)
  of the network and optimiser of :class:`TrainingSchedule` (C 8, N 1, 32x32, batch 128: the short schedule
  of BENCHMARKS.md's ground truth), on all of the task's training images or a stratified subset
  (``train_images``); each charged its measured seconds;
* the strategy (:mod:`archgen.search.multifidelity`): ``prior-sh`` draws new cells from the task's prior
  (:func:`archgen.services.task_prior.task_prior`) over a pool of candidate cells and learns from the
  trainings; ``sh`` draws them at random;
* the prior: ``transfer`` (the default: NB201's published accuracies on other image sets, zero-cost proxies
  on the task's images, its supernet when one is stored), ``zero-cost`` (the proxies and the supernet: no
  label of any task), ``none`` (with ``sh``). The pool: the best cells by the transfer sources (with
  ``transfer``; up to :data:`POOL_TOP`) and random ones (up to :data:`POOL_RANDOM`), as many as a tenth of the
  budget scores; scoring the pool's proxies is charged to the budget (``overhead``);
* the budget is the trainings' measured seconds (and the overhead); no batch of trainings starts once it is
  spent;
* the result: the best cell at the highest fidelity reached, its weights (the run's ``weights.npz``) and, with
  ``final_epochs``, the cell trained again on that schedule with all the task's training images (reported
  apart, outside the budget).

A search's work directory (the job's) holds its history (after every batch), each training's directory
(checkpoint, weights, provenance) under ``runs/`` and the final training under ``final/``: a search killed
at any moment resumes where it was, a training in flight from its checkpoint, and no training is paid twice.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from archgen.errors import SearchInputError
from archgen.evaluators.training import TrainingEvaluator
from archgen.search.multifidelity import (
    MAX_FIDELITIES,
    PriorSuccessiveHalving,
    get_multifidelity_strategy,
    list_multifidelity_strategies,
    multifidelity_strategy_class,
    run_multifidelity_search,
)
from archgen.services.task_prior import task_prior, transfer_column
from archgen.tasks.images import check_image_task, train_image_count
from archgen.training.trainer import TrainingParams, check_training_request
from archgen.transfer.prior import PoolPosterior, Source, SourcePrior

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace
    from archgen.search.history import SearchHistory
    from archgen.search.parallel import Workers

SPACE = "nb201"
#: Most minutes one training search may spend.
MAX_BUDGET_MINUTES = 7 * 24 * 60
#: The prior's candidate pool: the best cells by the transfer sources, and random ones (at most).
POOL_TOP = 64
POOL_RANDOM = 64
#: The pool's zero-cost scores should take about a tenth of the budget: a cell costs about this many seconds
#: on a CPU core (BENCHMARKS.md), so a pool has at most ``budget_seconds / 10 / POOL_CELL_SECONDS`` cells (at
#: least :data:`POOL_MIN`).
POOL_CELL_SECONDS = 0.4
POOL_MIN = 8
#: Directories of a training search's work directory.
RUNS, FINAL = "runs", "final"


class Fidelity(BaseModel):
    """One fidelity of a training search: the training's epochs and, optionally, a stratified subset of the
    task's training images."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(ge=1, le=1000)
    train_images: int | None = Field(None, ge=1, le=1_000_000)

    def label(self) -> str:
        return f"{self.epochs}ep" + ("" if self.train_images is None else f"/{self.train_images}img")


#: The default fidelities (eta 3; the highest is BENCHMARKS.md's short schedule).
DEFAULT_FIDELITIES = (Fidelity(epochs=2), Fidelity(epochs=6), Fidelity(epochs=20))


class TrainingSchedule(BaseModel):
    """The network and optimiser of every training of a search (:class:`~archgen.training.trainer.TrainingParams`'
    fields; by default the short schedule of BENCHMARKS.md's ground truth, not NB201's 200-epoch one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    C: int = Field(8, ge=1, le=128)
    N: int = Field(1, ge=1, le=10)
    resolution: int = Field(32, ge=8, le=64)
    batch_size: int = Field(128, ge=1, le=4096)
    lr: float = Field(0.1, gt=0, le=10)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0, le=1)
    augment: bool = True


@dataclass(frozen=True)
class TrainingPlan:
    """A checked training search (:func:`check_training_search`)."""

    task: str
    strategy: str
    prior: str
    fidelities: tuple[Fidelity, ...]
    schedule: TrainingSchedule
    budget_seconds: float
    batch_size: int
    final_epochs: int | None
    seed: int

    def evaluator(self, data: Workspace, workdir: Path, fidelity: Fidelity, **kw: Any) -> TrainingEvaluator:
        return TrainingEvaluator(data, self.task, workdir=workdir, epochs=fidelity.epochs,
                                 train_images=fidelity.train_images, seed=self.seed, **self.schedule.model_dump(),
                                 **kw)  # fmt: skip


def check_training_search(
    data: Workspace,
    *,
    space: str,
    task: str,
    strategy: str,
    prior: str | None,
    budget_minutes: float | None,
    fidelities: Sequence[Fidelity] | None,
    schedule: TrainingSchedule | None,
    final_epochs: int | None,
    batch_size: int,
    seed: int,
    max_memory: int | None = None,
) -> TrainingPlan:
    """Everything a training search can be checked for before any job exists (milliseconds).

    Raises:
        UnknownNameError: a task without images, an unknown strategy.
        SearchInputError: a space other than NB201, no budget, fidelities out of order, a prior the strategy
            takes not, a final schedule shorter than the highest fidelity.
        TrainingInputError: a training of the search that cannot run (batch larger than the images, memory).
    """
    if space != SPACE:
        raise SearchInputError(f"a training search trains NB201 cells (space 'nb201'), not {space!r}")
    check_image_task(data, task, "task with images to train on (the training evaluator's)")
    cls = multifidelity_strategy_class(strategy)  # unknown names list the valid ones
    prior = prior or ("transfer" if cls.takes_model else "none")
    if cls.takes_model and prior == "none":
        raise SearchInputError(
            f"strategy {strategy!r} draws from a prior: give prior 'transfer' or 'zero-cost', or use "
            f"{' or '.join(list_multifidelity_strategies(takes_model=False))} without one"
        )
    if not cls.takes_model and prior != "none":
        raise SearchInputError(
            f"strategy {strategy!r} takes no prior (those that do: {', '.join(list_multifidelity_strategies(takes_model=True))})"
        )
    if budget_minutes is None:
        raise SearchInputError("a training search needs budget_minutes (the trainings' measured minutes to spend)")
    if not np.isfinite(budget_minutes) or not 0 < budget_minutes <= MAX_BUDGET_MINUTES:
        raise SearchInputError(f"budget_minutes must be in (0, {MAX_BUDGET_MINUTES}], got {budget_minutes!r}")
    fids = tuple(fidelities) if fidelities else DEFAULT_FIDELITIES
    if len(fids) > MAX_FIDELITIES:
        raise SearchInputError(f"at most {MAX_FIDELITIES} fidelities, got {len(fids)}")
    n_images = train_image_count(data, task)
    costs = [f.epochs * min(n_images, f.train_images or n_images) for f in fids]
    if any(b <= a for a, b in pairwise(costs)):
        raise SearchInputError(
            "fidelities must cost more each, cheapest first (epochs x training images): got "
            + ", ".join(f.label() for f in fids)
        )
    schedule = schedule or TrainingSchedule()
    if final_epochs is not None and final_epochs < fids[-1].epochs:
        raise SearchInputError(
            f"final_epochs ({final_epochs}) is shorter than the highest fidelity ({fids[-1].epochs} epochs)"
        )
    runs = [*fids, *([Fidelity(epochs=final_epochs)] if final_epochs else [])]
    for f in runs:
        p = TrainingParams(arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", task=task, epochs=f.epochs,
                           train_images=f.train_images, seed=seed, **schedule.model_dump())  # fmt: skip
        if max_memory is not None:
            check_training_request(p, data, max_memory)
        elif p.batch_size > min(n_images, f.train_images or n_images):
            raise SearchInputError(f"schedule.batch_size ({p.batch_size}) is larger than fidelity {f.label()}'s images")
    return TrainingPlan(task, strategy, prior, fids, schedule, 60.0 * float(budget_minutes), batch_size,
                        final_epochs, seed)  # fmt: skip


def _transfer_top(data: Workspace, sources: Sequence[Source], n: int) -> list[Arch]:
    """The ``n`` best cells of the space by the transfer sources' vote (the published columns alone)."""
    table, sp = data.table(SPACE), data.space(SPACE)
    transfer = [s for s in sources if s.group == "transfer"]
    if not transfer:
        return []
    cols = {s.name: np.asarray(table.column(*transfer_column(s.name)), dtype=np.float64) for s in transfer}
    ok = np.flatnonzero(np.all([np.isfinite(c) for c in cols.values()], axis=0))
    mean, _ = SourcePrior(transfer).predict({k: c[ok] for k, c in cols.items()})
    rows = ok[np.argsort(-mean, kind="stable")[:n]]
    return [sp.from_index(int(r)) for r in rows]


def build_pool_model(
    data: Workspace, plan: TrainingPlan, on_cell: Callable[[int, int], None] | None = None
) -> PoolPosterior | None:
    """The prior over the search's candidate pool (``None`` for a search without a prior); the pool's zero-cost
    proxies are computed here (cached per cell)."""
    if plan.prior == "none":
        return None
    prior = task_prior(data, plan.task, on_cell=on_cell)
    sources = [s for s in prior.model.sources if plan.prior == "transfer" or s.group != "transfer"]
    size = min(POOL_TOP + POOL_RANDOM, max(POOL_MIN, int(plan.budget_seconds / 10 / POOL_CELL_SECONDS)))
    n_top = round(size * POOL_TOP / (POOL_TOP + POOL_RANDOM)) if plan.prior == "transfer" else 0
    top = _transfer_top(data, sources, n_top) if n_top else []
    rng = np.random.default_rng([plan.seed, 20261206])
    sp = data.space(SPACE)
    rest = [a for a in sp.sample_distinct(size + len(top), rng) if a not in set(top)]
    pool = top + rest[: size - len(top)]
    values = prior.values(pool, on_cell=on_cell)
    return PoolPosterior(pool, {s.name: values[s.name] for s in sources}, sources)


def run_training_search(
    plan: TrainingPlan,
    data: Workspace,
    *,
    workdir: Path | None = None,
    checkpoint: Path | None = None,
    on_batch: Callable[[SearchHistory], None] | None = None,
    workers: Workers | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    check: Callable[[], None] | None = None,
) -> SearchHistory:
    """Run the search (module docstring), then the final training where asked.

    ``workdir`` (default: ``checkpoint``'s directory, else a temporary one) holds the trainings; ``on_progress``
    follows the prior's pool scoring and the final training; ``check`` is called inside every training and may
    raise to stop it (its checkpoint is written first).
    """
    root = Path(workdir) if workdir is not None else (
        Path(checkpoint).parent if checkpoint is not None else Path(tempfile.mkdtemp(prefix="archgen-search-")))  # fmt: skip
    t0 = time.perf_counter()

    def on_cell(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(0.0, f"scoring the prior's candidate pool: {done}/{total} cells")
        if check is not None:
            check()

    model = build_pool_model(data, plan, on_cell=on_cell)
    overhead = time.perf_counter() - t0  # a resumed search keeps the overhead its checkpoint was charged
    hook = None if check is None else (lambda _f, _m: check())
    evaluators = [plan.evaluator(data, root / RUNS, f, on_progress=hook) for f in plan.fidelities]
    kw: dict[str, Any] = {"model": model} if model is not None else {}
    strategy = get_multifidelity_strategy(plan.strategy, **kw)
    history = run_multifidelity_search(
        data.space(SPACE), strategy, evaluators, budget=plan.budget_seconds, batch_size=plan.batch_size,
        seed=plan.seed, fidelities=[f.model_dump(mode="json") | {"label": f.label()} for f in plan.fidelities],
        overhead=overhead, checkpoint=checkpoint, on_batch=on_batch, workers=workers,
    )  # fmt: skip
    best = history.best()
    if best is None:
        history.result = {"best": None, "prior": plan.prior, "note": (
            f"no training returned a value: the prior's pool took {history.overhead:.0f} s of the "
            f"{plan.budget_seconds:.0f} s budget" if not history.evaluations and history.overhead >= plan.budget_seconds
            else "no training returned a value")}  # fmt: skip
        if checkpoint is not None:
            history.save(Path(checkpoint))
        return history
    arch = data.space(SPACE).parse(best.architecture)
    top = evaluators[int(best.fidelity or 0)]
    result: dict[str, Any] = {
        "best": {"architecture": best.architecture, "value": best.value, "fidelity": plan.fidelities[int(best.fidelity or 0)].label(),
                 "run": top.run_dir(arch).relative_to(root).as_posix()},
        "prior": plan.prior,
    }  # fmt: skip
    if model is not None and isinstance(strategy, PriorSuccessiveHalving):  # told every evaluation, replays too
        fitted = model.fitted(*strategy.training_set())
        result["prior_weights"] = {k: round(v, 4) for k, v in fitted.group_weights.items()}
    if plan.final_epochs is not None:
        if on_progress is not None:
            on_progress(1.0, f"training the best cell on the final schedule ({plan.final_epochs} epochs)")
        final = plan.evaluator(data, root / FINAL, Fidelity(epochs=plan.final_epochs), on_progress=hook)
        (r,) = final.evaluate([arch])
        result["final"] = {"architecture": best.architecture, "epochs": plan.final_epochs, "value": r.value,
                           "seconds": r.cost, "run": final.run_dir(arch).relative_to(root).as_posix()}  # fmt: skip
    history.result = result
    if checkpoint is not None:
        history.save(Path(checkpoint))
    return history


__all__ = [
    "DEFAULT_FIDELITIES",
    "FINAL",
    "MAX_BUDGET_MINUTES",
    "POOL_CELL_SECONDS",
    "POOL_MIN",
    "POOL_RANDOM",
    "POOL_TOP",
    "RUNS",
    "Fidelity",
    "TrainingPlan",
    "TrainingSchedule",
    "build_pool_model",
    "check_training_search",
    "run_training_search",
]
