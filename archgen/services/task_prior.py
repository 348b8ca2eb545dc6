"""The label-free prior of a task without a table (:mod:`archgen.transfer.prior` on real sources).

Sources of an NB201 user task:

* ``transfer``: NB201's published test accuracy of the cell on each image set
  (CIFAR-10, CIFAR-100, ImageNet16-120), after 200 epochs and after 12
  (:data:`TRANSFER_COLUMNS`); reference: the whole space.
* ``zero-cost``: the proxies of :data:`PRIOR_PROXIES` computed on the task's
  images (cached per cell on disk); reference: :data:`REFERENCE_CELLS` random
  cells scored the same way.
* ``supernet``: the task's newest stored supernet, when it has one (each path's
  held-out accuracy); reference: the same random cells.

No label of the task is read. :func:`task_prior` builds it (memoised per task,
images and supernet); :meth:`TaskPrior.values` gives any cells' source values;
``prior.model`` ranks them and learns from evaluations (a search's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from archgen.arch import Arch
from archgen.errors import UnknownNameError
from archgen.predictors.zerocost import score_archs
from archgen.services.supernets import supernet_evaluator, supernet_records
from archgen.tasks.images import check_image_task, is_user_task
from archgen.transfer.prior import Source, SourcePrior

if TYPE_CHECKING:
    from archgen.context import Workspace

#: Published columns read as transfer sources (other tasks' labels: a "transfer" result).
TRANSFER_COLUMNS = (
    ("cifar10", "test_acc"),
    ("cifar10", "test_acc_12ep"),
    ("cifar100", "test_acc"),
    ("cifar100", "test_acc_12ep"),
    ("ImageNet16-120", "test_acc"),
    ("ImageNet16-120", "test_acc_12ep"),
)
#: Zero-cost proxies computed on the task's images: the label-free vote's (one per family, chosen a priori).
PRIOR_PROXIES = ("synflow", "jacov", "nwot", "params")
#: Random cells the computed sources are placed against (seed :data:`REFERENCE_SEED`).
REFERENCE_CELLS = 32
REFERENCE_SEED = 20260
SPACE = "nb201"


@dataclass
class TaskPrior:
    """The prior of one task: its sources, the model over them, and how to read any cells' source values."""

    data: Workspace
    task: str
    model: SourcePrior
    supernet_id: str | None

    @property
    def uses_labels(self) -> bool:
        """Whether other tasks' labels are read (the transfer sources are): a "transfer" result."""
        return any(s.uses_labels for s in self.model.sources)

    def values(self, archs: Sequence[Arch], on_cell: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
        """Every source's values for ``archs`` (the proxies are computed for cells not cached yet)."""
        return source_values(self.data, self.task, list(archs), self.model.names, on_cell=on_cell)

    def describe(self) -> str:
        groups = ", ".join(f"{g} {w:.2f}" for g, w in self.model.group_weights.items())
        return f"prior of {self.task} from {len(self.model.sources)} sources ({groups})"


def transfer_name(task: str, metric: str) -> str:
    """The name of the transfer source that is the table's ``task``/``metric`` column."""
    return f"table:{task}/{metric}"


def transfer_column(name: str) -> tuple[str, str]:
    """``(task, metric)`` of the transfer source ``name`` (:func:`transfer_name`'s inverse)."""
    task, metric = name.removeprefix("table:").split("/", 1)
    return task, metric


def transfer_sources(data: Workspace, target: str) -> list[Source]:
    """The transfer columns of other image sets than ``target``'s (a benchmark task's own labels never serve)."""
    table = data.table(SPACE)
    own = {target, *table.same_image_tasks(target)} if target in table.tasks() else {target}
    out = []
    for task, metric in TRANSFER_COLUMNS:
        if task not in own and task in table.tasks() and metric in table.metrics(task):
            col = np.asarray(table.column(task, metric), dtype=np.float64)
            out.append(Source(transfer_name(task, metric), "transfer", col[np.isfinite(col)], uses_labels=True))
    return out


def reference_cells(data: Workspace) -> list[Arch]:
    """The random cells the computed sources are placed against (the same for every task)."""
    return data.space(SPACE).sample_distinct(REFERENCE_CELLS, np.random.default_rng(REFERENCE_SEED))


def source_values(
    data: Workspace,
    task: str,
    archs: list[Arch],
    names: Sequence[str],
    *,
    on_cell: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """The values of the sources ``names`` (as :func:`task_prior` names them) for ``archs`` on ``task``."""
    out: dict[str, np.ndarray] = {}
    table = data.table(SPACE)
    proxies = [n.removeprefix("zc:") for n in names if n.startswith("zc:")]
    if proxies:
        scores = score_archs(archs, task, proxies, data=data, on_cell=on_cell) if archs else {}
        out |= {f"zc:{p}": np.asarray(scores.get(p, ()), dtype=np.float64) for p in proxies}
    for name in names:
        if name.startswith("table:"):
            out[name] = np.asarray(table.query(archs, *transfer_column(name)), dtype=np.float64)
        elif name.startswith("supernet:"):
            ev = supernet_evaluator(data, task, name.removeprefix("supernet:"))
            out[name] = np.array([r.value for r in ev.evaluate(archs)], dtype=np.float64)
    return out


def task_prior(
    data: Workspace,
    task: str,
    *,
    supernet: bool = True,
    sources: Sequence[str] | None = None,
    on_cell: Callable[[int, int], None] | None = None,
    **model: float,
) -> TaskPrior:
    """The prior of ``task`` (a task with images; see the module docstring), with no evaluation yet.

    The computed sources' references are scored once per task's images (about :data:`REFERENCE_CELLS` x 0.4 s on
    a CPU core; ``on_cell(done, total)`` follows it, and may raise to stop) and kept with the scores' cache.
    ``supernet``: use the task's newest stored supernet as a source when it has one. ``sources``: build exactly
    these sources (names as :attr:`TaskPrior.model` gives them, e.g. a search's recorded prior: its supernet by
    id, whatever was stored since) instead. ``model``: arguments of :class:`SourcePrior` (``rho0``, ``prior_sd``).

    Raises:
        UnknownNameError: a task without images, or a named source it has not (a deleted supernet).
    """
    check_image_task(data, task)  # the images themselves are read only where a source is computed on them
    user = is_user_task(data, task)
    images_key = f"task-{task}-{data.tasks.record(task).arrays_sha256[:12]}" if user else task
    if sources is not None:
        names = list(dict.fromkeys(sources))
        tables = [n for n in names if n.startswith("table:")]
        nets = [n.removeprefix("supernet:") for n in names if n.startswith("supernet:")]
        known = {r.id for r in supernet_records(data.owned, task)} if nets else set()
        for sid_ in nets:
            if sid_ not in known:
                raise UnknownNameError(f"supernet of task {task!r} (the prior was built with it)", sid_, sorted(known))
        groups = {n: "zero-cost" for n in names if n.startswith("zc:")} | {f"supernet:{i}": "supernet" for i in nets}
        sid = nets[0] if nets else None
    else:
        tables = None
        sid = None
        if supernet and user:
            recs = supernet_records(data.owned, task)
            sid = recs[0].id if recs else None
        groups = {f"zc:{p}": "zero-cost" for p in PRIOR_PROXIES} | ({f"supernet:{sid}": "supernet"} if sid else {})

    def build() -> list[Source]:
        vals = source_values(data, task, reference_cells(data), list(groups), on_cell=on_cell) if groups else {}
        table = [s for s in transfer_sources(data, task) if tables is None or s.name in tables]
        return table + [Source(name, group, vals[name]) for name, group in groups.items()]

    key = ("task-prior-sources", images_key, tuple(sorted(groups)), None if tables is None else tuple(tables),
           REFERENCE_CELLS)  # fmt: skip
    return TaskPrior(data, task, SourcePrior(data.memo(key, build), **model), sid)


__all__ = [
    "PRIOR_PROXIES",
    "REFERENCE_CELLS",
    "TRANSFER_COLUMNS",
    "TaskPrior",
    "reference_cells",
    "source_values",
    "task_prior",
    "transfer_column",
    "transfer_name",
    "transfer_sources",
]
