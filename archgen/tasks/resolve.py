"""One resolver from a task name to what the task has, asked by prediction, generation, search, supernets,
training and zero-cost scoring instead of re-deriving it.

A task name is a benchmark task of a space's table (NB201's ``cifar10``, ``cifar100``, ``ImageNet16-120``,
NAS-Bench-Graph's ``cora``...), a registered user task (an image folder, no table), or unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archgen.errors import DataError, TaskError, UnknownNameError

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.datasets.tables import BenchmarkTable


#: Tasks whose images ship with the benchmark data.
BUILTIN_IMAGE_TASKS = ("cifar10", "cifar10-valid")


def image_task_names(data: Workspace) -> list[str]:
    """Every task with images here: the built-in ones, then the registered user tasks."""
    return [*BUILTIN_IMAGE_TASKS, *data.tasks.names()]


def is_user_task(data: Workspace, task: str) -> bool:
    """Whether ``task`` is a registered user task."""
    return task not in BUILTIN_IMAGE_TASKS and task in data.tasks


def check_image_task(data: Workspace, task: str, what: str = "task with images") -> None:
    """Raise :class:`UnknownNameError` (listing the valid ones) unless ``task`` has images here."""
    if task not in BUILTIN_IMAGE_TASKS and task not in data.tasks:
        raise UnknownNameError(what, task, image_task_names(data))


@dataclass(frozen=True)
class ResolvedTask:
    """What a task of a space has.

    Attributes:
        space, name: The space and the task.
        table: The space's benchmark table.
        published: Whether the table publishes the task's columns (a benchmark task).
        user: Whether it is a registered user task (images, no table).
        images: Whether the task has images here (CIFAR-10's two tasks and every user task).
    """

    space: str
    name: str
    table: BenchmarkTable
    published: bool
    user: bool
    images: bool

    @property
    def default_target(self) -> tuple[str, str] | None:
        """The ``(task, metric)`` column predictors target by default (``None`` without published columns)."""
        return self.table.default_target(self.name) if self.published else None

    @property
    def hardware_task(self) -> str:
        """The table task whose published hardware values (parameters, FLOPs, latency) apply to this task."""
        return self.table.hardware_task(self.name)

    def require_published(self) -> BenchmarkTable:
        """The table, for operations that read published values (a user task raises, naming the benchmark tasks)."""
        if not self.published:
            raise UnknownNameError(f"task of space {self.space!r} with published values", self.name, self.table.tasks())
        return self.table


def check_new_task_name(data: Workspace, name: str, spaces: list[str]) -> None:
    """Refuse a user task name that is one of ``spaces``' benchmark tasks (in any case): the name would shadow the
    benchmark task for its owner, and mean two things.

    Raises:
        TaskError: naming the space whose task it is.
    """
    for space in spaces:
        try:
            tasks = data.table(space).tasks()
        except DataError:  # a space whose data is missing here has no task to shadow
            continue
        clash = [t for t in tasks if t.lower() == name.lower()]
        if clash:
            raise TaskError(f"task name {name!r} is a benchmark task of {space!r} ({clash[0]}); choose another")


def resolve_task(data: Workspace, space: str, task: str) -> ResolvedTask:
    """What ``task`` of ``space`` has (see :class:`ResolvedTask`).

    Raises:
        UnknownNameError: an unknown space (listing those with tables), or a task that is neither one of the
            table's nor a registered user task (listing both).
    """
    table = data.table(space)
    published = task in table.tasks()
    user = not published and is_user_task(data, task)
    if not published and not user:
        raise UnknownNameError(f"task of space {space!r}", task, [*table.tasks(), *data.tasks.names()])
    return ResolvedTask(space, task, table, published, user, task in BUILTIN_IMAGE_TASKS or user)
