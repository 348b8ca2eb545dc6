"""A search that pays for real trainings at several fidelities, on any task with images (a user's own above all).

``POST /v1/searches {task, evaluator: "training", budget_minutes, fidelities?, schedule?, prior?,
final_epochs?}`` and ``archgen search --evaluator training`` come here through
:func:`archgen.services.search.check_search` and :func:`~archgen.services.search.execute_search`:

* every fidelity is a training of the cell from scratch by the training evaluator
  (:class:`~archgen.evaluators.training.TrainingEvaluator`): :data:`DEFAULT_FIDELITIES` (2, 6 and 20 epochs)
  of the network and optimiser of :class:`TrainingSchedule` (C 8, N 1, 32x32, batch 128: the short schedule
  of BENCHMARKS.md's ground truth), on all of the task's training images or a stratified subset
  (``train_images``); each charged its measured seconds;
* the strategy (:mod:`archgen.search.multifidelity`): ``priorband`` (the default, chosen by ``archgen bench
  replay``) mixes the task's prior (:func:`archgen.services.task_prior.task_prior`, over a pool of candidate
  cells, learning from every fidelity's trainings), the incumbent's neighbours and uniform cells in Hyperband's
  brackets, trains the prior's 5 top cells fully and compares its finalists on the mean of two trainings (the
  highest fidelity's run and the same with the search's seed + 1: an extra fidelity, "mean of 2 seeds");
  ``prior-sh`` draws new cells from the prior alone; ``sh`` and ``hyperband`` at random;
* the prior: ``transfer`` (the default: NB201's published accuracies on other image sets, zero-cost proxies
  on the task's images, its supernet when one is stored), ``zero-cost`` (the proxies and the supernet: no
  label of any task), ``none`` (with ``sh``). The pool: the best cells by the transfer sources (with
  ``transfer``; up to :data:`POOL_TOP`) and random ones (up to :data:`POOL_RANDOM`), as many as
  :data:`POOL_SHARE` of the budget scores: the scoring stops at that share (fewer cells; with no time for the
  prior's reference cells, only its transfer sources, or no prior), and is charged to the budget (``overhead``).
  The pool and the sources are recorded in the history (``setup``): a resumed search rebuilds that prior, whatever
  was stored for the task meanwhile (a supernet);
* the budget is a cap on the trainings' measured seconds and the overhead: no training starts that the budget
  left cannot pay for at its expected cost (:mod:`archgen.training.cost` until trainings are measured), and the
  trainings in flight when it runs out stop, checkpointed and charged what they used
  (:class:`~archgen.evaluators.budget.CostMeter`); a budget that cannot pay for one training at the first
  fidelity is refused before any job exists;
* the bounds hold over the whole search: memory for all the trainings it runs at once (``parallel``), each
  fidelity's image subset at least a batch after its classes' rounding;
* fidelities are epochs of one run: a fidelity on the highest one's images is that run stopped at its epochs
  (:meth:`TrainingPlan.continues`), so a promoted cell continues from its checkpoint and pays only the new epochs
  (as ASHA and Hyperband with checkpoints do; a fidelity on a subset of the images is a training of its own);
* the result: the best cell at the highest fidelity reached (selected by validation accuracy), its validation and
  test accuracy (a task without a test split says so), its weights (the run's ``weights.npz``) and, with
  ``final_epochs``, the cell trained again on that schedule with all the task's training images (reported
  apart, outside the budget).

A search's work directory (the job's) holds its history (after every batch), each training's directory
(checkpoint, weights, provenance) under ``runs/`` and the final training under ``final/``: a search killed
at any moment resumes where it was, a training in flight from its checkpoint, and no training is paid twice.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from archgen.errors import SearchInputError, TrainingInputError
from archgen.evaluators.base import Evaluator
from archgen.evaluators.budget import CostMeter
from archgen.evaluators.replicate import Replicated
from archgen.evaluators.training import TrainingEvaluator
from archgen.search.history import SearchHistory
from archgen.search.multifidelity import (
    MAX_FIDELITIES,
    PriorBand,
    PriorSuccessiveHalving,
    get_multifidelity_strategy,
    list_multifidelity_strategies,
    multifidelity_strategy_class,
    run_multifidelity_search,
)
from archgen.services import task_prior as priors
from archgen.services.task_prior import task_prior, transfer_column, transfer_sources
from archgen.tasks.images import check_image_task, class_count, heldout_image_count, task_images, train_image_count
from archgen.training.cost import training_seconds
from archgen.training.memory import training_memory
from archgen.training.trainer import PROVENANCE, TrainingParams, check_training_request
from archgen.transfer.prior import PoolPosterior, Source, SourcePrior

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace
    from archgen.search.parallel import Workers

SPACE = "nb201"
#: Most minutes one training search may spend.
MAX_BUDGET_MINUTES = 7 * 24 * 60
#: Most full trainings a training search's budget may be given in (``budget_trainings``).
MAX_BUDGET_TRAININGS = 10_000
#: The prior's candidate pool: the best cells by the transfer sources, and random ones (at most).
POOL_TOP = 64
POOL_RANDOM = 64
#: The share of the budget the prior's scoring (its reference cells and the pool's proxies) may take.
POOL_SHARE = 0.1
#: A pool has at most ``budget_seconds * POOL_SHARE / POOL_CELL_SECONDS`` cells (at least :data:`POOL_MIN`): a
#: cell's proxies cost about this many seconds on a CPU core at 32x32 (0.7-0.8 s measured in searches, BENCHMARKS.md);
#: the share's deadline bounds it too.
POOL_CELL_SECONDS = 0.8
POOL_MIN = 8
#: Cells scored at a time between two looks at the pool's deadline.
POOL_CHUNK = 4
#: Most trainings in one batch of a training search.
MAX_TRAINING_BATCH = 32
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
    #: Trainings run at once (a batch's trainings beyond it wait): the bounds hold for all of them together.
    parallel: int = 1
    #: Expected seconds of one training at each fidelity (:mod:`archgen.training.cost`), before any is measured.
    expected_seconds: tuple[float, ...] = ()

    #: Expected seconds of the final training (0 without one): outside the budget, but spent all the same.
    final_seconds: float = 0.0
    #: The budget as given in full trainings (``None``: in minutes), each of :attr:`full_seconds` expected seconds.
    budget_trainings: float | None = None
    #: Expected seconds of one full training (the highest fidelity's run) before any is measured.
    full_seconds: float = 0.0

    @property
    def most_seconds(self) -> float:
        """What the search can spend: its budget (a cap, to within a training's stop) and its final training."""
        return self.budget_seconds + self.final_seconds

    @property
    def pool_seconds(self) -> float:
        """The most seconds the prior's scoring may take (its share of the budget; 0 without a prior)."""
        return 0.0 if self.prior == "none" else POOL_SHARE * self.budget_seconds

    def continues(self, fidelity: Fidelity) -> bool:
        """Whether ``fidelity`` is an epoch of the highest fidelity's run (same images, no more epochs): its
        training is that run stopped there, and a promotion continues it, paying only the new epochs."""
        top = self.fidelities[-1]
        return fidelity.train_images == top.train_images and fidelity.epochs <= top.epochs

    def evaluator(self, data: Workspace, workdir: Path, fidelity: Fidelity, *, replicate: int = 0,
                  **kw: Any) -> TrainingEvaluator:  # fmt: skip
        """The evaluator of ``fidelity`` (:meth:`continues`: the highest fidelity's run stopped at its epochs);
        ``replicate`` ``k``: the same training with the search's seed + ``k`` (another run)."""
        top = self.fidelities[-1]
        epochs, stop = (top.epochs, fidelity.epochs) if self.continues(fidelity) else (fidelity.epochs, None)
        return TrainingEvaluator(data, self.task, workdir=workdir, epochs=epochs, stop_epoch=stop,
                                 train_images=fidelity.train_images, seed=self.seed + replicate,
                                 **self.schedule.model_dump(), **kw)  # fmt: skip


def check_training_search(
    data: Workspace,
    *,
    space: str,
    task: str,
    strategy: str,
    prior: str | None,
    budget_minutes: float | None,
    budget_trainings: float | None = None,
    fidelities: Sequence[Fidelity] | None,
    schedule: TrainingSchedule | None,
    final_epochs: int | None,
    batch_size: int,
    seed: int,
    max_memory: int | None = None,
    parallel: int | None = None,
    gpu: bool = False,
) -> TrainingPlan:
    """Everything a training search can be checked for before any job exists (milliseconds).

    ``parallel``: trainings the search will run at once (default: a batch's); ``max_memory``: bytes all of them
    may need together; ``gpu``: the trainings run on a CUDA GPU (the first cost estimate).

    Raises:
        UnknownNameError: a task without images, an unknown strategy.
        SearchInputError: a space other than NB201, no budget or one that cannot pay for one training at the
            first fidelity, fidelities out of order or asking for more images than the task has, a prior the
            strategy takes not, a final schedule shorter than the highest fidelity, a batch over
            :data:`MAX_TRAINING_BATCH`.
        TrainingInputError: a training of the search that cannot run (batch larger than a fidelity's images),
            or the trainings run at once over ``max_memory``.
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
    if (budget_minutes is None) == (budget_trainings is None):
        raise SearchInputError("a training search needs budget_minutes (the trainings' measured minutes to spend) or "
                               "budget_trainings (full trainings' worth), one of them")  # fmt: skip
    if budget_minutes is not None and (not np.isfinite(budget_minutes) or not 0 < budget_minutes <= MAX_BUDGET_MINUTES):
        raise SearchInputError(f"budget_minutes must be in (0, {MAX_BUDGET_MINUTES}], got {budget_minutes!r}")
    if budget_trainings is not None and (not np.isfinite(budget_trainings)
                                         or not 0 < budget_trainings <= MAX_BUDGET_TRAININGS):  # fmt: skip
        raise SearchInputError(f"budget_trainings must be in (0, {MAX_BUDGET_TRAININGS}], got {budget_trainings!r}")
    if not 1 <= batch_size <= MAX_TRAINING_BATCH:
        raise SearchInputError(f"a training search's batch_size (trainings per batch) must be in 1..{MAX_TRAINING_BATCH}, "
                               f"got {batch_size}")  # fmt: skip
    fids = tuple(fidelities) if fidelities else DEFAULT_FIDELITIES
    if len(fids) > MAX_FIDELITIES:
        raise SearchInputError(f"at most {MAX_FIDELITIES} fidelities, got {len(fids)}")
    n_images, n_test, n_classes = (
        train_image_count(data, task),
        heldout_image_count(data, task),
        class_count(data, task),
    )
    for f in fids:
        if f.train_images is not None and f.train_images > n_images:
            raise SearchInputError(f"fidelity {f.label()} asks for {f.train_images} training images; task {task!r} "
                                   f"has {n_images}")  # fmt: skip
    costs = [f.epochs * (f.train_images or n_images) for f in fids]
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
    at_once = max(1, min(batch_size, parallel or batch_size))
    runs = [*fids, *([Fidelity(epochs=final_epochs)] if final_epochs else [])]
    for f in runs:
        k = f.train_images or n_images
        # a stratified subset rounds each class's share: it may hold up to half an image a class fewer
        least = k if f.train_images is None else int(np.ceil(k - n_classes / 2))
        if schedule.batch_size > least:
            raise SearchInputError(
                f"schedule.batch_size ({schedule.batch_size}) is larger than fidelity {f.label()}'s training images "
                f"({least if least > 0 else 0}{'' if f.train_images is None else f' of a stratified {k} over {n_classes} classes'})"
            )
        p = TrainingParams(arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", task=task, epochs=f.epochs,
                           train_images=f.train_images, seed=seed, **schedule.model_dump())  # fmt: skip
        if max_memory is not None:
            check_training_request(p, data, max_memory)
            one = training_memory(batch_size=p.batch_size, C=p.C, N=p.N, resolution=p.resolution, images=k + n_test)
            if one.total * at_once > max_memory:
                raise TrainingInputError(
                    f"{at_once} trainings at once (batch_size {batch_size}) need about "
                    f"{one.total * at_once / (1 << 30):.1f} GiB together ({one.total / (1 << 30):.2f} GiB each); the "
                    f"bound is {max_memory / (1 << 30):.1f} GiB (ARCHGEN_JOB_MAX_MEMORY_BYTES): lower batch_size, or "
                    "the schedule's batch_size, C, N or resolution"
                )
    full = [training_seconds(epochs=f.epochs, train_images=f.train_images or n_images, test_images=n_test,
                             C=schedule.C, N=schedule.N, resolution=schedule.resolution, gpu=gpu)
            for f in fids]  # fmt: skip
    # a fidelity that continues the run of the one below it (the same images) pays only its new epochs
    expected = tuple(
        c - full[k - 1] if k and fids[k - 1].train_images == f.train_images == fids[-1].train_images else c
        for k, (f, c) in enumerate(zip(fids, full, strict=True))
    )
    final = 0.0 if final_epochs is None else training_seconds(
        epochs=final_epochs, train_images=n_images, test_images=n_test, C=schedule.C, N=schedule.N,
        resolution=schedule.resolution, gpu=gpu)  # fmt: skip
    if budget_trainings is not None:
        seconds = float(budget_trainings) * full[-1]
        if seconds > 60.0 * MAX_BUDGET_MINUTES:
            raise SearchInputError(f"budget_trainings {budget_trainings:g} is about {seconds / 60:.0f} minutes, over "
                                   f"the {MAX_BUDGET_MINUTES} a search may spend")  # fmt: skip
    else:
        seconds = 60.0 * float(budget_minutes or 0.0)
    plan = TrainingPlan(task, strategy, prior, fids, schedule, seconds, batch_size, final_epochs, seed, at_once,
                        expected, final, budget_trainings, full[-1])  # fmt: skip
    left = plan.budget_seconds - plan.pool_seconds
    if left < expected[0]:
        raise SearchInputError(
            f"budget too small to train one cell at the first fidelity ({fids[0].label()}): about {expected[0]:.0f} s "
            f"expected, {left:.0f} s of the budget left for trainings"
            + (f" after the prior's share ({plan.pool_seconds:.0f} s)" if plan.pool_seconds else "")
            + f": give budget_minutes {np.ceil((expected[0] / (1 - (POOL_SHARE if plan.pool_seconds else 0))) / 6) / 10:g}"
            " or more (one full training is about " + f"{full[-1]:.0f} s), or a cheaper first fidelity"
        )
    return plan


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


def reported_accuracy(values: dict[str, Any], objective: str, note: str | None) -> dict[str, Any]:
    """What a user is shown of a training's accuracy: validation (what selection used) and test, each named; a
    task without a test split says so (``test_note``), never the validation figure in its place."""
    out: dict[str, Any] = {
        "selected_by": objective,
        "val_acc": values.get("val_acc"),
        "test_acc": values.get("test_acc"),
    }
    return out | ({"test_note": note} if out["test_acc"] is None and note else {})


def _kept_runs(history: SearchHistory) -> set[str]:
    """Run directories (relative to the search's root) its history serves: the best so far, the returned best,
    the final training."""
    res = history.result
    return {r for r in (res.get("best_run"), (res.get("best") or {}).get("run"), (res.get("final") or {}).get("run"))
            if r}  # fmt: skip


def prune_runs(root: Path, keep: set[str], *, unfinished: bool = False) -> int:
    """Delete the training directories under ``root`` (``runs/``, ``final/``) but ``keep`` (relative paths):
    finished ones (with their provenance) and, with ``unfinished``, those cut short too (checkpoints); returns
    the bytes freed. The search's disk stays at its batch's trainings and its best."""
    freed = 0
    for part in (RUNS, FINAL):
        folder = root / part
        if not folder.is_dir():
            continue
        for d in folder.iterdir():
            if not d.is_dir() or f"{part}/{d.name}" in keep or not (unfinished or (d / PROVENANCE).is_file()):
                continue
            freed += sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            shutil.rmtree(d, ignore_errors=True)
    return freed


def prune_search_files(workdir: Path) -> None:
    """A failed or cancelled search job's directory (``keeps_files``): its history and the best training its
    history serves stay, every other training (finished or cut short) goes."""
    path = workdir / "history.json"
    try:
        keep = _kept_runs(SearchHistory.load(path)) if path.is_file() else set()
    except (OSError, ValueError, TypeError, KeyError):
        keep = set()
    prune_runs(workdir, keep, unfinished=True)


class _ShareSpent(Exception):
    """The prior's scoring reached its share of the budget."""


def build_pool_model(
    data: Workspace,
    plan: TrainingPlan,
    on_cell: Callable[[int, int], None] | None = None,
    *,
    setup: dict[str, Any] | None = None,
) -> tuple[PoolPosterior | None, dict[str, Any]]:
    """The prior over the search's candidate pool (``None`` for a search without a prior, or whose share of the
    budget scored nothing it needs) and what it was built from (:attr:`SearchHistory.setup`: the pool, the
    sources, the cells scored, the seconds and the share).

    The scoring stops at :attr:`TrainingPlan.pool_seconds` (module docstring). ``setup``: a resumed search's
    record, rebuilt as it was (the proxies are cached; nothing is charged again).
    """
    if plan.prior == "none":
        return None, {}
    sp = data.space(SPACE)
    if setup:
        if not setup.get("sources"):
            return None, setup
        prior = task_prior(data, plan.task, sources=setup["sources"], on_cell=on_cell)
        pool = [sp.parse(a) for a in setup["pool"]]
        return PoolPosterior(pool, prior.values(pool, on_cell=on_cell), prior.model.sources), setup
    share, t0 = plan.pool_seconds, time.perf_counter()
    cells = [0]

    def guard(done: int, total: int) -> None:
        """After each cell scored: stop once the next cell (at the mean cost so far) would pass the share."""
        if on_cell is not None:
            on_cell(done, total)
        cells[0] += 1
        elapsed = time.perf_counter() - t0
        if elapsed + elapsed / cells[0] > share:
            raise _ShareSpent

    notes: list[str] = []
    sources: list[Source] = []
    least = (priors.REFERENCE_CELLS + POOL_MIN) * POOL_CELL_SECONDS  # the proxies of the references and a smallest pool
    if share < least:
        notes.append(f"no zero-cost scoring: the prior's share ({share:.0f} s) is under the {least:.0f} s it needs")
    else:
        try:
            prior = task_prior(data, plan.task, on_cell=guard)
            sources = [s for s in prior.model.sources if plan.prior == "transfer" or s.group != "transfer"]
        except _ShareSpent:
            notes.append(f"the prior's reference cells did not fit its share ({share:.0f} s)")
    if sources and len(sources) != len(prior.model.sources):
        prior = task_prior(data, plan.task, sources=[s.name for s in sources])
    size = min(POOL_TOP + POOL_RANDOM, max(POOL_MIN, int(share / POOL_CELL_SECONDS)))
    n_top = round(size * POOL_TOP / (POOL_TOP + POOL_RANDOM)) if plan.prior == "transfer" else 0
    top = _transfer_top(data, sources, n_top) if n_top and sources else []
    rng = np.random.default_rng([plan.seed, 20261206])
    rest = [a for a in sp.sample_distinct(size + len(top), rng) if a not in set(top)]
    candidates = top + rest[: size - len(top)]
    pool: list[Arch] = []
    values: dict[str, list[np.ndarray]] = {s.name: [] for s in sources}
    for i in range(0, len(candidates) if sources else 0, POOL_CHUNK):
        chunk = candidates[i : i + POOL_CHUNK]
        try:
            got = prior.values(chunk, on_cell=guard)
        except _ShareSpent:
            notes.append(f"{len(pool)} of {len(candidates)} pool cells scored within the prior's share ({share:.0f} s)")
            break
        pool += chunk
        for k in values:
            values[k].append(got[k])
    if len(pool) < POOL_MIN and plan.prior == "transfer":  # the transfer columns cost nothing: a pool of them alone
        transfer = transfer_sources(data, plan.task)
        if transfer:
            prior = task_prior(data, plan.task, sources=[s.name for s in transfer])
            sources, pool = list(prior.model.sources), candidates
            values = {k: [v] for k, v in prior.values(pool).items()}
            notes.append("the prior uses the published accuracies of other image sets alone")
    elapsed = time.perf_counter() - t0
    if len(pool) < 2:
        notes.append("cells are drawn at random")
        return None, {"pool": [], "sources": [], "seconds": elapsed, "share_seconds": share, "note": "; ".join(notes)}
    record = {"pool": [sp.format(a) for a in pool], "sources": [s.name for s in sources], "cells": len(pool),
              "seconds": elapsed, "share_seconds": share, "note": "; ".join(notes)}  # fmt: skip
    model = PoolPosterior(pool, {k: np.concatenate(v) for k, v in values.items()}, sources)
    return model, record


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
    recorded: dict[str, Any] = {}
    if checkpoint is not None and Path(checkpoint).is_file():
        try:
            recorded = SearchHistory.load(Path(checkpoint)).setup.get("prior", {})
        except (OSError, ValueError, TypeError, KeyError):
            recorded = {}  # not a history: the loop's replay says so
    t0 = time.perf_counter()

    def on_cell(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(0.0, f"scoring the prior's candidate pool: {done}/{total} cells")
        if check is not None:
            check()

    model, setup = build_pool_model(data, plan, on_cell=on_cell, setup=recorded or None)
    overhead = time.perf_counter() - t0  # a resumed search keeps the overhead its checkpoint was charged
    meter = CostMeter(plan.budget_seconds, overhead)
    hook = None if check is None else (lambda _f, _m: check())
    evaluators: list[Evaluator] = [plan.evaluator(data, root / RUNS, f, on_progress=hook, meter=meter)
                                   for f in plan.fidelities]  # fmt: skip
    kw: dict[str, Any] = {"model": model} if model is not None else {}
    name = plan.strategy if model is not None or plan.prior == "none" else "sh"  # no prior fitted its share
    strategy = get_multifidelity_strategy(name, **kw)
    sp = data.space(SPACE)
    fids = [f.model_dump(mode="json") | {"label": f.label()} for f in plan.fidelities]
    expected = list(plan.expected_seconds)
    if strategy.replicate:  # its last fidelity: the highest one's training with another seed
        again = plan.evaluator(data, root / RUNS, plan.fidelities[-1], replicate=1, on_progress=hook, meter=meter)
        evaluators.append(Replicated([evaluators[-1], again]))
        fids.append(fids[-1] | {"label": f"{fids[-1]['label']}, mean of 2 seeds", "replicate": True})
        expected.append(plan.full_seconds)  # a whole training: the highest rung's own cost is only its new epochs

    def runner(rung: int) -> TrainingEvaluator:
        """The training evaluator of a rung; a replicate's: its second training (the search's seed + 1), trained
        in the batch that made it the best, so its files are there (the first may have been dropped before)."""
        ev = evaluators[rung]
        return ev.evaluators[-1] if isinstance(ev, Replicated) else ev  # type: ignore[return-value]

    def batch_end(h: SearchHistory) -> None:
        """The best so far's run recorded, the other finished trainings' files dropped (the history holds their
        values; a lower fidelity's weights serve nothing), then the caller's ``on_batch``."""
        b = h.best()
        if b is not None:
            run = runner(int(b.fidelity or 0)).run_dir(sp.parse(b.architecture)).relative_to(root).as_posix()
            if h.result.get("best_run") != run:
                h.result["best_run"] = run
                if checkpoint is not None:
                    h.save(Path(checkpoint))
        prune_runs(root, _kept_runs(h))
        if on_batch is not None:
            on_batch(h)

    history = run_multifidelity_search(
        sp, strategy, evaluators, budget=plan.budget_seconds, batch_size=plan.batch_size,
        seed=plan.seed, fidelities=fids,
        overhead=overhead, checkpoint=checkpoint, on_batch=batch_end, workers=workers,
        expected_costs=expected or None, meter=meter, setup={"prior": setup} if setup else None,
    )  # fmt: skip
    best = history.best()
    result: dict[str, Any] = {"prior": plan.prior, "budget_seconds": plan.budget_seconds,
                              "spent_seconds": history.spent(), "full_training_seconds": plan.full_seconds,
                              "spent_trainings": history.spent() / plan.full_seconds if plan.full_seconds else None}  # fmt: skip
    if plan.budget_trainings is not None:
        result["budget_trainings"] = plan.budget_trainings
    for k in ("stop", "best_run"):
        if k in history.result:
            result[k] = history.result[k]
    if setup:
        result["prior_scoring"] = {k: setup.get(k) for k in ("cells", "seconds", "share_seconds", "note")}
    if best is None:
        result |= {"best": None, "note": (
            f"no training returned a value: the prior's pool took {history.overhead:.0f} s of the "
            f"{plan.budget_seconds:.0f} s budget" if not history.evaluations and history.overhead >= plan.budget_seconds
            else "no training returned a value")}  # fmt: skip
        history.result = result
        if checkpoint is not None:
            history.save(Path(checkpoint))
        prune_runs(root, set(), unfinished=True)
        return history
    arch = data.space(SPACE).parse(best.architecture)
    top = runner(int(best.fidelity or 0))
    note = task_images(data, plan.task).test_note
    result["best"] = {"architecture": best.architecture, "value": best.value,
                      "fidelity": str(fids[int(best.fidelity or 0)]["label"]),
                      "run": top.run_dir(arch).relative_to(root).as_posix(),
                      **reported_accuracy(best.values, top.objective, note)}  # fmt: skip
    if model is not None and isinstance(strategy, (PriorSuccessiveHalving, PriorBand)):  # told every evaluation
        fitted = model.fitted(*strategy.training_set())
        result["prior_weights"] = {k: round(v, 4) for k, v in fitted.group_weights.items()}
    if plan.final_epochs is not None:
        if on_progress is not None:
            on_progress(1.0, f"training the best cell on the final schedule ({plan.final_epochs} epochs)")
        final = plan.evaluator(data, root / FINAL, Fidelity(epochs=plan.final_epochs), on_progress=hook)
        (r,) = final.evaluate([arch])
        result["final"] = {"architecture": best.architecture, "epochs": plan.final_epochs, "value": r.value,
                           "seconds": r.cost, "run": final.run_dir(arch).relative_to(root).as_posix(),
                           **reported_accuracy(r.values, final.objective, note)}  # fmt: skip
    history.result = result
    if checkpoint is not None:
        history.save(Path(checkpoint))
    prune_runs(root, _kept_runs(history), unfinished=True)  # trainings the budget stopped: their checkpoints
    return history


__all__ = [
    "DEFAULT_FIDELITIES",
    "FINAL",
    "MAX_BUDGET_MINUTES",
    "MAX_BUDGET_TRAININGS",
    "MAX_TRAINING_BATCH",
    "POOL_CELL_SECONDS",
    "POOL_MIN",
    "POOL_RANDOM",
    "POOL_SHARE",
    "POOL_TOP",
    "RUNS",
    "Fidelity",
    "TrainingPlan",
    "TrainingSchedule",
    "build_pool_model",
    "check_training_search",
    "prune_runs",
    "prune_search_files",
    "run_training_search",
]
