"""Learning-curve tables of a user's own task as a durable job (:mod:`archgen.curves.build`): every candidate cell
trained on the task's final schedule with two or three seeds, each epoch's validation and test accuracy and
seconds recorded; the table (``table.npz`` in the job's directory, rewritten after every training) is what
``archgen bench replay --table`` replays every search method against.

The job resumes where it stopped (finished trainings are in the table, one in flight continues from its
checkpoint), reports the share of its planned trainings done, and stops between trainings when cancelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from archgen.curves.build import CurveTableParams, build_table
from archgen.errors import TrainingInputError, UnknownNameError
from archgen.training.trainer import TrainingParams, check_training_request

if TYPE_CHECKING:
    from archgen.context import Workspace

#: The table's file in the job's work directory.
TABLE_FILE = "table.npz"


def schedule_of(params: CurveTableParams, data: Workspace) -> dict[str, Any]:
    """The job's final schedule: its epochs, width, cells a stage and batch size at the task's image size."""
    return params.schedule(data.tasks.record(params.task).image_size)


def check_curve_table(params: CurveTableParams, data: Workspace, max_memory: int) -> None:
    """What can be checked before the job exists, in milliseconds: the task (registered, with a test split), the
    schedule against its images and the memory of ``workers`` trainings at once.

    Raises:
        UnknownNameError: no such task of the key.
        TrainingInputError: a task without a test split, or a schedule too large.
    """
    if params.task not in data.tasks:  # cifar10 has images but no test split of ours: a table is a user task's
        raise UnknownNameError("registered task of yours (POST /v1/tasks, archgen tasks add)", params.task,
                               data.tasks.names())  # fmt: skip
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    check_training_request(TrainingParams(arch=cell, task=params.task, **schedule_of(params, data)), data,
                           max_memory // params.workers)  # fmt: skip
    rec = data.tasks.record(params.task)
    if not rec.test:
        raise TrainingInputError(f"task {params.task!r} has no test split, and a curve table scores cells by their "
                                 "test accuracy: register its images again with test_fraction > 0")  # fmt: skip


def build_curve_table(params: CurveTableParams, data: Workspace, workdir: Path, *, out: Path | None = None,
                      **kw: Any) -> dict[str, Any]:  # fmt: skip
    """Build (or continue) the table (``out``, default ``workdir/table.npz``; the trainings' checkpoints in
    ``workdir``; module docstring); its summary. ``kw``: :func:`~archgen.curves.build.build_table`'s ``on_progress``,
    ``check``, ``limit_seconds``, ``say``."""
    out = out or workdir / TABLE_FILE
    table = build_table(data, params.task, schedule_of(params, data), out, workdir, cells=params.cells,
                        c10_top=params.c10_top, top=params.top, seeds=params.seeds, seed=params.seed,
                        workers=params.workers, **kw)  # fmt: skip
    done = table.complete()
    return table.progress() | {
        "task": table.task,
        "epochs": table.epochs,
        "schedule": table.schedule,
        "complete": bool(done[:, :2].all()),
        "train_seconds": float(table.meta.get("train_seconds", 0.0)),
        "full_cost_s": table.full_cost() if done.any() else None,
        "file": out.name,
    }


__all__ = ["TABLE_FILE", "build_curve_table", "check_curve_table", "schedule_of"]
