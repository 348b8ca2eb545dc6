"""A search as a request: its parameters, the checks done before any job exists, the run, its report.

The HTTP route (``POST /v1/searches``), the ``search`` job kind and the CLI
share :class:`SearchParams`, :func:`check_search` (milliseconds: names,
ranges, combinations), :func:`execute_search` (the search itself, on a
benchmark-table evaluator, with a checkpoint after every batch) and
:func:`report` (progress, best so far, a page of the history, the front).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from archgen.evaluators import BenchmarkEvaluator, TrainingEvaluator
from archgen.generators.diffusion import DiffusionGenerator
from archgen.plotting import pyplot
from archgen.search.loop import MAX_BUDGET, run_search
from archgen.search.priors import build_prior
from archgen.search.strategies import SearchInputError, get_strategy, list_strategies, strategy_class
from archgen.services.generate import shared_generator
from archgen.services.supernets import supernet_evaluator
from archgen.services.training_search import (
    MAX_BUDGET_MINUTES,
    MAX_BUDGET_TRAININGS,
    Fidelity,
    TrainingPlan,
    TrainingSchedule,
    check_training_search,
    run_training_search,
)
from archgen.tasks.resolve import resolve_task

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.evaluators import Evaluator
    from archgen.search.history import SearchHistory
    from archgen.search.parallel import Workers
    from archgen.search.priors import Prior

#: Evaluations a search pays for unless told otherwise.
DEFAULT_BUDGET = 100
#: Second objectives of a multi-objective search (minimised).
SECOND_OBJECTIVES = ("latency", "params", "flops")


class SearchParams(BaseModel):
    """One search (validated at the edge: CLI, HTTP, job).

    Attributes:
        space, task: The benchmark table searched, or a registered user task (evaluated by its supernet).
        metric: Objective column of the task (default: the predictors' target, e.g. NB201 CIFAR-10's
            ``cifar10-valid``/``val_acc``; ``test_acc`` is the published protocol of DiffusionNAG's table).
        strategy: ``bo``, ``mobo``, ``robot``, ``bananas``, ``re``, ``ls`` or ``random``.
        prior: ``zero-cost`` (label-free) or ``transfer`` (other tasks' labels), for bo/mobo/robot.
        acquisition: BO's acquisition function.
        budget: Evaluations to pay for (default :data:`DEFAULT_BUDGET`; a training search has ``budget_minutes``
            instead); batch_size: how many per batch (q).
        minimize: A second objective, minimised: ``latency`` (with ``device``), ``params`` or ``flops``.
        device: Device of the published latency.
        reference: mobo's reference point in the objectives' own units, e.g. ``(90.0, 12.0)``: only
            architectures above 90% accuracy and under 12 ms count toward the hypervolume (default:
            inferred from the observed values).
        generator: bo only: the space's diffusion generator (trained on its cells, no labels; on first use), guided
            by a surrogate of the search's own evaluations, adds cells to the candidate pool.
        seed: The search's seed.
        evaluator: What an evaluation pays: ``table`` (a benchmark task's published values; its default),
            ``supernet`` (a user task's newest supernet; its default) or ``training`` (each cell trained on the
            task's images at several fidelities: :mod:`archgen.services.training_search`; strategies ``priorband``,
            the default, ``prior-sh``, ``sh`` and ``hyperband``; ``prior``: ``transfer``, the default, ``zero-cost`` or ``none``).
        budget_minutes: A training search's budget: measured training minutes (instead of ``budget``).
        budget_trainings: A training search's budget in full trainings (instead of ``budget_minutes``): that many
            times the expected seconds of one training at the highest fidelity (:mod:`archgen.training.cost`,
            before any is measured); the budget is still a cap on measured seconds.
        fidelities: A training search's fidelities, cheapest first (default 2, 6 and 20 epochs).
        schedule: A training search's network and optimiser (default: C 8, N 1, 32x32, batch 128).
        final_epochs: A training search trains its best cell again for this many epochs, all training images.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field("nb201", min_length=1, max_length=64)
    task: str = Field("cifar10", min_length=1, max_length=64)
    metric: str | None = Field(None, min_length=1, max_length=64)
    strategy: str = Field("bo", min_length=1, max_length=32)
    prior: Literal["zero-cost", "transfer", "none"] | None = None
    acquisition: Literal["qlognei", "qucb", "ts"] = "qlognei"
    budget: int | None = Field(None, ge=1, le=MAX_BUDGET)
    batch_size: int = Field(4, ge=1, le=1024)
    minimize: Literal["latency", "params", "flops"] | None = None
    device: str | None = Field(None, min_length=1, max_length=64)
    reference: tuple[float, float] | None = None
    generator: bool = False
    seed: int = Field(0, ge=0, le=2**31 - 1)
    evaluator: Literal["table", "supernet", "training"] | None = None
    budget_minutes: float | None = Field(None, gt=0, le=MAX_BUDGET_MINUTES, allow_inf_nan=False)
    budget_trainings: float | None = Field(None, gt=0, le=MAX_BUDGET_TRAININGS, allow_inf_nan=False)
    fidelities: list[Fidelity] | None = Field(None, min_length=1, max_length=8)
    schedule: TrainingSchedule | None = None
    final_epochs: int | None = Field(None, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _training_defaults(cls, data: Any) -> Any:
        """A training search's own defaults (strategy ``priorband``, or ``sh`` without a prior; two trainings at
        once) and the fields that count evaluations, which it has not."""
        if not isinstance(data, dict) or data.get("evaluator") not in (None, "table", "supernet", "training"):
            return data  # an unknown evaluator: the field's own error names it
        if data.get("evaluator") != "training":
            given = [k for k in ("budget_minutes", "budget_trainings", "fidelities", "schedule", "final_epochs")
                     if data.get(k) is not None]  # fmt: skip
            if given:
                raise ValueError(f"{', '.join(given)} go with evaluator 'training'")
            return data if data.get("budget") is not None else {**data, "budget": DEFAULT_BUDGET}
        if data.get("budget") is not None:
            raise ValueError("a training search spends budget_minutes or budget_trainings, not budget (evaluations)")
        if data.get("budget_minutes") is not None and data.get("budget_trainings") is not None:
            raise ValueError("give budget_minutes or budget_trainings, not both")
        out = dict(data)
        if out.get("strategy") is None:
            out["strategy"] = "sh" if out.get("prior") == "none" else "priorband"
        if out.get("batch_size") is None:
            out["batch_size"] = 2
        return out


def _second(params: SearchParams, data: Workspace) -> tuple[str, str] | None:
    """``(task, metric)`` of the second objective."""
    if params.minimize is None:
        if params.device is not None:
            raise SearchInputError("device is the latency objective's: give minimize='latency' with it")
        return None
    table = data.table(params.space)
    if params.minimize == "latency":
        if params.device is None:
            raise SearchInputError("minimize='latency' needs a device (a published latency's)")
        return table.device_column(params.task, params.device)
    if params.device is not None:
        raise SearchInputError(f"device goes with minimize='latency', not {params.minimize!r}")
    col = table.published_column(params.task, params.minimize)
    if col is None:
        raise SearchInputError(f"{params.space}/{params.task} publishes no {params.minimize}")
    return col


def _check_user_task(params: SearchParams, data: Workspace) -> tuple[Evaluator, None]:
    """What a search of a user task (no table) may not ask for, beyond :func:`check_search`'s shared checks; its
    evaluator: the task's newest stored supernet, label-free throughout."""
    if params.space != "nb201":
        raise SearchInputError(f"a user task is searched in the nb201 space (its supernet's), not {params.space!r}")
    for field, why in (("metric", "its objective is the supernet's held-out accuracy"),
                       ("prior", "the priors read published columns of a benchmark table"),
                       ("minimize", "a second objective reads a benchmark table's published values"),
                       ("reference", "it has one objective")):  # fmt: skip
        if getattr(params, field) is not None:
            raise SearchInputError(f"{field} is not available for user task {params.task!r}: {why}")
    return supernet_evaluator(data, params.task), None


@dataclass(frozen=True)
class SearchPlan:
    """A checked search: its parameters, the evaluator it pays and its prior (:func:`check_search` makes it,
    :func:`execute_search` runs it, so nothing is checked or built twice); a training search's plan instead
    (``training``: its evaluators need the search's work directory)."""

    params: SearchParams
    evaluator: Evaluator | None
    prior: Prior | None
    training: TrainingPlan | None = None


def check_search(
    params: SearchParams, data: Workspace, *, max_memory: int | None = None, parallel: int | None = None
) -> SearchPlan:
    """Everything checkable before running: returns the plan (the evaluator and the prior).

    A benchmark task is evaluated by its table; a registered user task (no table) by its newest stored supernet
    (:func:`archgen.services.supernets.supernet_evaluator`: ``NoSupernetError`` until one is trained); with
    ``evaluator='training'`` any task with images by trainings (``max_memory``: bytes the trainings run at once
    may need together; ``parallel``: how many run at once, default a batch's).

    Raises:
        UnknownNameError: unknown space, task, metric, strategy or device.
        SearchInputError: batch larger than the budget, a prior the strategy takes not, several
            objectives for a one-objective strategy, a strategy that needs a prior without one.
    """
    if params.evaluator == "training":
        return _check_training(params, data, max_memory, parallel)
    resolved = resolve_task(data, params.space, params.task)  # unknown names raise listing the valid ones
    table, user = resolved.table, resolved.user
    if params.evaluator is not None and params.evaluator != ("supernet" if user else "table"):
        raise SearchInputError(
            f"{params.space}/{params.task} is evaluated by its {'supernet' if user else 'table'} or by training "
            f"(evaluator 'training'), not by {'a table' if user else 'a supernet'}"
        )
    if params.prior == "none":
        raise SearchInputError("prior 'none' is a training search's (evaluator 'training'); leave prior out here")
    cls = strategy_class(params.strategy)  # unknown names raise listing the valid ones
    budget = params.budget or DEFAULT_BUDGET
    if params.batch_size > budget:
        raise SearchInputError(f"batch_size ({params.batch_size}) is larger than the budget ({budget})")
    if params.prior is not None and not cls.takes_prior:
        raise SearchInputError(
            f"strategy {params.strategy!r} takes no prior (those that do: {', '.join(list_strategies(takes_prior=True))})"
        )
    if params.generator:
        if not cls.takes_generator:
            raise SearchInputError(
                f"generator adds candidates to {' or '.join(list_strategies(takes_generator=True))}'s pool, "
                f"not {params.strategy!r}'s"
            )
        if params.space not in DiffusionGenerator.capabilities.spaces:
            raise SearchInputError(
                f"the diffusion generator supports {', '.join(DiffusionGenerator.capabilities.spaces)}, not {params.space!r}"
            )
    if params.strategy == "robot" and params.prior != "zero-cost":
        raise SearchInputError("robot combines training-free metrics: it needs prior='zero-cost'")
    if user:
        return SearchPlan(params, *_check_user_task(params, data))
    if not table.enumerates:
        raise SearchInputError(
            f"{params.space!r}'s table is a sample ({table.num_rows} cells), not the whole space: a search proposes "
            "cells outside it, which nothing can evaluate; search nb201 or nasbench_graph, whose tables hold every "
            "cell"
        )
    t, m = table.default_target(params.task) if params.metric is None else (params.task, params.metric)
    second = _second(params, data)
    if params.reference is not None:
        if params.strategy != "mobo" or second is None:
            raise SearchInputError(
                "reference is mobo's hypervolume reference point: give it with strategy='mobo' and minimize"
            )
        if not all(np.isfinite(params.reference)):
            raise SearchInputError(f"reference must be finite, got {list(params.reference)}")
    if second is not None and not cls.multi_objective:
        raise SearchInputError(
            f"strategy {params.strategy!r} optimises one objective; with minimize use: "
            f"{', '.join(list_strategies(multi_objective=True))}"
        )
    if second is not None and second[0] != t:
        # the evaluator reads one task's columns: a latency published under a sibling task (cifar10 for
        # cifar10-valid) is of the same networks, so the search runs on that task's objective column too
        if m not in table.metrics(second[0]):
            raise SearchInputError(f"{second[0]}/{second[1]} and {t}/{m} are not published for one task")
        t = second[0]
    ev = BenchmarkEvaluator(table, t, m, extra_metrics=() if second is None else (second[1],))
    prior = None
    if params.prior is not None:  # built once per workspace: a batch of searches checks each one in the request
        kind = params.prior
        prior = data.memo(
            ("search-prior", params.space, params.task, kind), lambda: build_prior(table, params.task, kind)
        )
    return SearchPlan(params, ev, prior)


def _check_training(params: SearchParams, data: Workspace, max_memory: int | None, parallel: int | None) -> SearchPlan:
    """A training search's plan (:func:`archgen.services.training_search.check_training_search`)."""
    for field, default in (("metric", None), ("minimize", None), ("device", None), ("reference", None),
                           ("generator", False), ("acquisition", "qlognei")):  # fmt: skip
        if getattr(params, field) != default:
            raise SearchInputError(f"{field} is not available with evaluator 'training' (one objective: the trained "
                                   "accuracy on the task's held-out images)")  # fmt: skip
    plan = check_training_search(
        data, space=params.space, task=params.task, strategy=params.strategy, prior=params.prior,
        budget_minutes=params.budget_minutes, budget_trainings=params.budget_trainings, fidelities=params.fidelities, schedule=params.schedule,
        final_epochs=params.final_epochs, batch_size=params.batch_size, seed=params.seed, max_memory=max_memory,
        parallel=parallel, gpu=TrainingEvaluator.on_gpu(),
    )  # fmt: skip
    return SearchPlan(params, None, None, plan)


def strategy_of(params: SearchParams, prior: Prior | None, maximize: bool = True, generator: Any = None) -> Any:
    """The strategy of ``params`` (``maximize``: the direction of the evaluator's objective; ``generator``: the
    space's diffusion generator where ``params.generator``)."""
    kw: dict[str, Any] = {}
    if params.generator:
        if generator is None:
            raise SearchInputError("generator=True needs the space's diffusion generator")
        kw["generator"] = generator
    if params.strategy == "bo":
        kw["acquisition"] = params.acquisition
    if params.reference is not None:  # the loop signs the objectives (larger is better): the second is minimised
        kw["ref_point"] = [float(params.reference[0]) * (1 if maximize else -1), -float(params.reference[1])]
    if prior is not None:
        kw["prior"] = prior
    return get_strategy(params.strategy, **kw)


def execute_search(
    request: SearchParams | SearchPlan,
    data: Workspace,
    *,
    checkpoint: Path | None = None,
    on_batch: Callable[[SearchHistory], None] | None = None,
    workers: Workers | None = None,
    generator_epochs: int = 200,
    on_progress: Callable[[float, str], None] | None = None,
    check: Callable[[], None] | None = None,
    workdir: Path | None = None,
) -> SearchHistory:
    """Run the search (resuming from ``checkpoint`` where it holds an unfinished one).

    ``request`` is the search's parameters, or the plan :func:`check_search` made of them (not checked again).

    With ``params.generator`` the space's generator (``generator_epochs``, seed 0: the one ``/v1/generate`` uses)
    is loaded from the workspace's model store, or trained there first (``on_progress(fraction, message)``).
    A training search (:func:`archgen.services.training_search.run_training_search`) keeps its trainings in
    ``workdir`` (default: beside ``checkpoint``) and calls ``check`` inside them (it may raise to stop).
    """
    plan = request if isinstance(request, SearchPlan) else check_search(request, data)
    if plan.training is not None:
        return run_training_search(plan.training, data, checkpoint=checkpoint, on_batch=on_batch, workers=workers,
                                   on_progress=on_progress, check=check, workdir=workdir)  # fmt: skip
    params, ev, prior = plan.params, plan.evaluator, plan.prior
    assert ev is not None  # a table or supernet search has its evaluator
    generator = None
    if params.generator:
        generator, _ = shared_generator(
            data, data.models, params.space, epochs=generator_epochs, on_progress=on_progress
        )
    sp = data.space(params.space)
    cands = (
        [sp.from_index(i) for i in range(data.table(params.space).num_rows)]
        if data.table(params.space).enumerates
        else None
    )
    objectives = None
    extra: tuple[str, ...] = getattr(ev, "extra_metrics", ())  # a table evaluator's second objective
    if extra:
        (second,) = extra
        objectives = [(ev.objective, ev.maximize), (second, False)]
    return run_search(
        sp, strategy_of(params, prior, ev.maximize, generator), ev, budget=params.budget or DEFAULT_BUDGET, batch_size=params.batch_size, seed=params.seed,
        candidates=cands, checkpoint=checkpoint, on_batch=on_batch, objectives=objectives, workers=workers,
    )  # fmt: skip


def report(history: SearchHistory, *, offset: int = 0, limit: int = 100) -> dict[str, Any]:
    """A search's state: counts, best so far, the front (several objectives) and one page of evaluations."""
    best = history.best()
    evals = history.evaluations
    page = evals[offset : offset + limit]
    out: dict[str, Any] = {
        "evaluations": len(evals),
        "budget": history.budget,
        "batches": history.num_batches,
        "finished": history.finished,
        "cost": float(np.nansum([e.cost for e in evals])) if evals else 0.0,
        "best": None
        if best is None
        else {"architecture": best.architecture, "value": best.value, "at": history.evaluations_to(best.value)},
        "best_so_far": [None if not np.isfinite(v) else float(v) for v in history.best_so_far().tolist()],
        "history": {
            "offset": offset,
            "limit": limit,
            "total": len(evals),
            "items": [_item(offset + k, e) for k, e in enumerate(page)],
        },
    }
    if history.fidelities:  # a training search: budget in seconds, evaluations at fidelities
        out |= training_report(history)
        if best is not None:
            out["best"]["fidelity"] = history.fidelities[int(best.fidelity or 0)].get("label")
    if history.objectives:
        out["objectives"] = [{"name": n, "maximize": m} for n, m in history.objectives]
        out["front"] = [
            {"architecture": evals[i].architecture,
             "values": {n: _num(evals[i].value if j == 0 else evals[i].values.get(n, np.nan))
                        for j, (n, _m) in enumerate(history.objectives)}}
            for i in history.front()
        ]  # fmt: skip
    return out


def training_report(history: SearchHistory) -> dict[str, Any]:
    """A training search's own part of :func:`report`: seconds spent of the budget, trainings and best per
    fidelity, and what it returned (the best cell's run, the final training)."""
    per = []
    for k, f in enumerate(history.fidelities):
        top = history.best(k)
        per.append(f | {"trainings": sum(e.fidelity == k for e in history.evaluations),
                        "seconds": float(sum(e.cost for e in history.evaluations if e.fidelity == k)),
                        "best": None if top is None else {"architecture": top.architecture, "value": top.value}})  # fmt: skip
    return {"budget_unit": history.budget_unit, "spent_seconds": history.spent(), "overhead_seconds": history.overhead,
            "fidelities": per, "result": history.result}  # fmt: skip


def progress_message(history: SearchHistory) -> str:
    """A training search's progress in words: trainings per fidelity, the best so far and where, minutes spent."""
    counts = ", ".join(
        f"{sum(e.fidelity == k for e in history.evaluations)} at {f.get('label', k)}"
        for k, f in enumerate(history.fidelities)
    )
    best = history.best()
    where = (
        "" if best is None else f", best {best.value:.2f} at {history.fidelities[int(best.fidelity or 0)].get('label')}"
    )
    return (f"{len(history.evaluations)} trainings ({counts}){where}; {history.spent() / 60:.1f} of "
            f"{history.budget / 60:.1f} min spent")  # fmt: skip


def _item(index: int, e: Any) -> dict[str, Any]:
    values = {n: _num(v) for n, v in e.values.items()}
    out = {"index": index, "architecture": e.architecture, "value": _num(e.value), "values": values, "cost": e.cost,
           "batch": e.batch}  # fmt: skip
    if e.fidelity is not None:
        out["fidelity"] = e.fidelity
    return out


def _num(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def plot(history: SearchHistory, path: Path | BinaryIO) -> Path | BinaryIO:
    """The best-so-far curve, or the evaluated points and their front (several objectives), as PNG."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    if history.objectives:
        Y = history.objective_matrix()
        names = [n for n, _ in history.objectives]
        sign = np.array([1.0 if m else -1.0 for _, m in history.objectives])
        V = Y * sign
        ax.scatter(V[:, 1], V[:, 0], s=12, alpha=0.5, label="evaluated")
        F = V[history.front()]
        F = F[np.argsort(F[:, 1])]
        ax.step(F[:, 1], F[:, 0], where="post", color="C3", label="front")
        ax.scatter(F[:, 1], F[:, 0], color="C3", s=20)
        ax.set_xlabel(names[1])
        ax.set_ylabel(names[0])
    else:
        v = history.best_so_far()
        ax.plot(np.arange(1, len(v) + 1), v, label=history.strategy)
        ax.set_xlabel("evaluations")
        ax.set_ylabel(f"best {history.objective} so far")
    ax.set_title(f"{history.space} {history.strategy} seed {history.seed}: {len(history.evaluations)}/{history.budget}",
                 fontsize=9)  # fmt: skip
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return path


__all__ = [
    "SECOND_OBJECTIVES",
    "SearchParams",
    "SearchPlan",
    "check_search",
    "execute_search",
    "plot",
    "progress_message",
    "report",
    "strategy_of",
    "training_report",
]
