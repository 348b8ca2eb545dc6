"""Evaluation by benchmark-table lookup: the published value at a fidelity, with a simulated cost.

This is how NAS methods are compared on tabular benchmarks (NAS-Bench-201,
Dong & Yang, ICLR 2020): instead of training, a search looks up the value a
trained network reached, and is charged the training it would have cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.errors import UnknownNameError
from archgen.evaluators.base import EvalResult, Evaluator

if TYPE_CHECKING:
    from archgen.datasets.tables import BenchmarkTable


@dataclass(frozen=True)
class Fidelity:
    """A training budget a table publishes values for.

    Attributes:
        epochs: Training epochs.
        suffix: Appended to a metric name for this fidelity (``""`` for the full budget).
    """

    epochs: int
    suffix: str


#: Fidelities published per space, full budget first.
FIDELITIES: dict[str, tuple[Fidelity, ...]] = {
    "nb201": (Fidelity(200, ""), Fidelity(12, "_12ep")),
    "nb101": (Fidelity(108, ""),),
    "nasbench_graph": (Fidelity(200, ""),),
}


class BenchmarkEvaluator(Evaluator):
    """The published ``task``/``metric`` value of each architecture, at a fidelity.

    Args:
        table: The space's benchmark table.
        task: Task of the table.
        metric: Objective metric (e.g. ``"val_acc"``); with a low ``fidelity``
            the table's column for that budget is read (NB201: ``val_acc_12ep``).
        fidelity: Training epochs (default: the full budget of the space).
        cost_per_epoch: Simulated cost of one training epoch (the unit of
            :attr:`total_cost`; 1.0 counts epochs).
        extra_metrics: More columns of the same task returned in
            :attr:`EvalResult.values` (e.g. a latency for constrained searches); free.
        charge_repeats: Charge an architecture again when it is evaluated again
            (off: a search that re-queries what it has seen pays once).
        maximize: Whether larger is better (default: the metric's own direction).

    Raises:
        UnknownNameError: unknown task, metric or fidelity (lists the valid ones).
    """

    name: ClassVar[str] = "table"

    def __init__(
        self,
        table: BenchmarkTable,
        task: str,
        metric: str,
        fidelity: int | None = None,
        *,
        cost_per_epoch: float = 1.0,
        extra_metrics: tuple[str, ...] = (),
        charge_repeats: bool = False,
        maximize: bool | None = None,
    ) -> None:
        super().__init__()
        fids = FIDELITIES.get(table.space, (Fidelity(1, ""),))
        chosen = fids[0] if fidelity is None else next((f for f in fids if f.epochs == fidelity), None)
        if chosen is None:
            raise UnknownNameError(f"fidelity (epochs) of {table.space}", str(fidelity), [str(f.epochs) for f in fids])
        if not np.isfinite(cost_per_epoch) or cost_per_epoch < 0:
            raise ValueError(f"cost_per_epoch must be finite and >= 0, got {cost_per_epoch}")
        self.table = table
        self.space = table.space
        self.task = task
        self.fidelity = chosen.epochs
        self.objective = metric
        self.column_name = metric + chosen.suffix
        self._column = table.column(task, self.column_name)  # raises naming the task or metric
        self._extra = {m: table.column(task, m) for m in extra_metrics}
        self.extra_metrics = tuple(extra_metrics)
        info = table.info[(task, self.column_name)]
        if maximize is None:
            maximize = info.higher_is_better if info.higher_is_better is not None else True
        self.maximize = bool(maximize)
        self.cost_per_epoch = float(cost_per_epoch)
        self.charge_repeats = charge_repeats
        self._seen: set[Arch] = set()  # an architecture is its row: charged once
        self.source = f"table:{table.space}/{task}/{self.column_name}@{self.fidelity}ep"

    def _rows(self, archs: list[Arch]) -> np.ndarray:
        if "_index" in self.__dict__:  # a copy in another process (see __getstate__)
            return np.array([self._index[(a.ops, a.edges)] for a in archs], dtype=np.int64)
        return self.table.search_space.indices(archs)

    def __getstate__(self) -> dict:
        """A copy for another process (a Ray worker): the columns it reads and each cell's row, not the table
        and its workspace (a worker would otherwise load the whole table to look a few cells up)."""
        state = super().__getstate__()
        sp = self.table.search_space
        archs = [sp.from_index(i) for i in range(self.table.num_rows)]
        state["_index"] = {(a.ops, a.edges): i for i, a in enumerate(archs)}
        state["table"] = None
        return state

    def _evaluate(self, archs: list[Arch]) -> list[EvalResult]:
        rows = self._rows(archs)
        out = []
        for a, r in zip(archs, rows.tolist(), strict=True):
            value = float(self._column[r])
            values = {self.objective: value, **{m: float(c[r]) for m, c in self._extra.items()}}
            out.append(
                EvalResult(a, value, values, self.fidelity * self.cost_per_epoch, self.source, None, self.fidelity)
            )
        return out

    def account(self, results: list[EvalResult], archs: Sequence[Arch]) -> list[EvalResult]:
        """Charge each architecture once, unless ``charge_repeats`` (repeats cost 0)."""
        out = []
        for res, a in zip(results, archs, strict=True):
            with self._lock:
                repeat = a in self._seen
                self._seen.add(a)
            out.append(replace(res, cost=0.0) if repeat and not self.charge_repeats else res)
        return super().account(out, archs)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._seen.clear()
