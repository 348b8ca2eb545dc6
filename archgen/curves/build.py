"""Building the learning-curve table of a task (:mod:`archgen.curves.table`): a resumable, cancellable build that
the ``curve_table`` job and ``archgen bench curves`` run.

The task is any registered task (a user's image folder, with its stratified validation and test splits; or one
of the built-in tasks of :data:`CURVE_TASKS`, written by :func:`make_curve_task`). Its candidates: ``cells``
uniform random NB201 cells (seeded) and CIFAR-10's ``c10_top`` best published cells (the NB201 table's
``cifar10``/``test_acc``, :func:`c10_best_cells`). Every candidate is trained on the task's final schedule
(recording after every epoch the validation and test accuracy and the epoch's seconds) with training seeds 0 and
1; then the ``top`` best by seed-mean validation accuracy (never by test) and the CIFAR-10 cells with seed 2 as
well (:func:`plan`).

The table is rewritten (atomically) after every training and each training keeps its checkpoint under ``work``:
building again continues (finished trainings are skipped, one cut short continues from its checkpoint). A
``check`` callback stops the build between trainings (a job's cancellation; the trainings in flight are dropped,
their checkpoints kept). Trainings run ``workers`` at a time (worker processes, one torch thread each: threads of
one process contend for the interpreter's lock on these small networks) on the first CUDA GPU when one is present,
else on the CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from archgen.context import workspace
from archgen.curves.synthetic import write_shapes, write_signals
from archgen.curves.table import CurveTable
from archgen.errors import BenchInputError
from archgen.training.trainer import TrainingParams, train_architecture

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace
    from archgen.paths import Paths

#: CIFAR-10 classes of the CIFAR-like curve task (the four of ``archgen bench new-task``'s ``gray4-16``).
GRAY4_CLASSES = ("automobile", "dog", "frog", "horse")


@dataclass(frozen=True)
class CurveRecipe:
    """A built-in task and its final schedule.

    Attributes:
        source: ``cifar`` (CIFAR-10 training images of ``classes``), ``shapes`` or ``signals``
            (:mod:`archgen.curves.synthetic`).
        per_class: Images of each class (before the validation and test splits take theirs).
        image_size: Side of the task's images.
        classes: CIFAR-10 classes (``cifar`` only).
        gray: Grayscale (``cifar`` only).
        epochs, C, N, batch_size: The final schedule (NB201's network at width ``C``, ``N`` cells a stage).
    """

    source: str
    per_class: int
    image_size: int
    classes: tuple[str, ...] = ()
    gray: bool = False
    epochs: int = 20
    C: int = 8
    N: int = 1
    batch_size: int = 64

    def schedule(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "C": self.C, "N": self.N, "batch_size": self.batch_size,
                "resolution": self.image_size}  # fmt: skip


#: The built-in tasks with curve tables: one like CIFAR (its photographs, gray and small) and two unlike it. Sized
#: so a table of 305 cells (2 seeds, 3 for 20) takes 20-35 minutes on 2 cores (BENCHMARKS.md).
CURVE_TASKS: dict[str, CurveRecipe] = {
    "cifar-gray4": CurveRecipe("cifar", 250, 16, GRAY4_CLASSES, gray=True),
    "shapes6": CurveRecipe("shapes", 250, 16),
    "signals6": CurveRecipe("signals", 250, 16),
    # a test's task: two classes, a few dozen 8x8 images, three epochs
    "tiny": CurveRecipe("shapes", 12, 8, epochs=3, C=4, batch_size=8),
}


class CurveTableParams(BaseModel):
    """Parameters of a ``curve_table`` job: the learning-curve table of a registered task (module docstring).

    ``epochs``, ``C``, ``N``, ``batch_size``: the final schedule every candidate is trained on (the resolution is
    the task's image size); ``workers``: trainings at once (worker processes of one thread each).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(min_length=1, max_length=64)
    cells: int = Field(300, ge=2, le=5000)
    c10_top: int = Field(5, ge=0, le=100)
    top: int = Field(15, ge=0, le=5000)
    seeds: int = Field(3, ge=2, le=3)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    epochs: int = Field(20, ge=1, le=200)
    C: int = Field(8, ge=1, le=64)
    N: int = Field(1, ge=1, le=5)
    batch_size: int = Field(64, ge=1, le=1024)
    workers: int = Field(1, ge=1, le=64)

    def schedule(self, image_size: int) -> dict[str, Any]:
        return {"epochs": self.epochs, "C": self.C, "N": self.N, "batch_size": self.batch_size,
                "resolution": image_size}  # fmt: skip


def curve_recipe(name: str) -> CurveRecipe:
    if name not in CURVE_TASKS:
        raise BenchInputError(f"unknown curve task {name!r}: one of {', '.join(CURVE_TASKS)}")
    return CURVE_TASKS[name]


def c10_best_cells(data: Workspace, k: int) -> list[Arch]:
    """CIFAR-10's ``k`` best published NB201 cells (the table's ``cifar10``/``test_acc``; ties in table order)."""
    sp, table = data.space("nb201"), data.table("nb201")
    c10 = np.asarray(table.column("cifar10", "test_acc"), dtype=float)
    return [sp.from_index(int(i)) for i in np.argsort(-np.nan_to_num(c10, nan=-1.0), kind="stable")[:k]]


def write_cifar_subset(data: Workspace, folder: Path, classes: tuple[str, ...], per_class: int, image_size: int,
                       gray: bool) -> None:  # fmt: skip
    """The first ``per_class`` CIFAR-10 training images of each of ``classes`` as ``folder/<class>/<index>.png``
    (grayscale, resized to ``image_size``)."""
    train = data.cifar10("train")
    for c in classes:
        if c not in train.classes:
            raise BenchInputError(f"class {c!r} is not a CIFAR-10 class ({', '.join(train.classes)})")
        (folder / c).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(train.labels == train.classes.index(c))[:per_class]:
            im = Image.fromarray(train.images[i])
            if gray:
                im = im.convert("L")
            if image_size != im.width:
                im = im.resize((image_size, image_size), Image.BILINEAR)
            im.save(folder / c / f"{i:05d}.png")


def make_curve_task(data: Workspace, name: str, recipe: CurveRecipe, folder: Path) -> None:
    """Write the recipe's image folder and register it as task ``name`` (kept when registered already)."""
    if name in data.tasks:
        return
    shutil.rmtree(folder, ignore_errors=True)
    if recipe.source == "cifar":
        write_cifar_subset(data, folder, recipe.classes, recipe.per_class, recipe.image_size, recipe.gray)
    else:
        (write_shapes if recipe.source == "shapes" else write_signals)(folder, recipe.per_class, seed=0)
        if recipe.source == "shapes" and recipe.per_class < 20:  # the tiny task: two classes
            for d in sorted(folder.iterdir())[2:]:
                shutil.rmtree(d)
    data.tasks.add(name, folder, image_size=recipe.image_size, test_fraction=0.2)


def candidates(data: Workspace, cells: int, c10_top: int, seed: int) -> tuple[list[str], list[str]]:
    """The candidate cells and their kinds: ``cells`` random ones (seeded), then CIFAR-10's ``c10_top`` best
    published cells not among them."""
    sp = data.space("nb201")
    out = [sp.format(a) for a in sp.sample_distinct(cells, np.random.default_rng(seed))]
    kinds = ["random"] * len(out)
    for a in c10_best_cells(data, c10_top):
        cell = sp.format(a)
        if cell in out:
            kinds[out.index(cell)] = "c10-top"
        else:
            out.append(cell)
            kinds.append("c10-top")
    return out, kinds


def plan(table: CurveTable, top: int) -> list[tuple[int, int]]:
    """The ``(row, seed)`` trainings still to run, in order: seed 0 of every cell, seed 1 of every cell, then
    seed 2 of the ``top`` best by seed-mean validation accuracy (once all have two) and of the CIFAR-10 cells."""
    done = table.complete()
    n = len(table.cells)
    todo = [(r, s) for s in range(min(2, table.seeds)) for r in range(n) if not done[r, s]]
    if table.seeds > 2:
        third = [r for r in range(n) if table.kinds[r] == "c10-top"]
        if not todo:  # the best by validation are known once every cell has two trainings
            third += [int(r) for r in np.argsort(-np.nan_to_num(table.mean_val(), nan=-1.0), kind="stable")[:top]]
        todo += [(r, 2) for r in dict.fromkeys(third) if not done[r, 2]]
    return todo


def planned(table: CurveTable, top: int) -> int:
    """Trainings the finished table will hold at most: two per cell, a third for the CIFAR-10 cells and the ``top``
    (fewer where the ``top`` by validation include CIFAR-10 cells, which :func:`plan` counts once)."""
    if table.seeds < 3:
        return 2 * len(table.cells)
    third = set(r for r in range(len(table.cells)) if table.kinds[r] == "c10-top")
    return 2 * len(table.cells) + len(third) + min(top, len(table.cells) - len(third))


def build_table(
    data: Workspace,
    task: str,
    schedule: dict[str, Any],
    out: Path,
    work: Path,
    *,
    cells: int = 300,
    c10_top: int = 5,
    top: int = 15,
    seeds: int = 3,
    seed: int = 0,
    workers: int = 2,
    limit_seconds: float | None = None,
    meta: dict[str, Any] | None = None,
    say: Callable[[str], None] = lambda _m: None,
    on_progress: Callable[[float, str], None] | None = None,
    check: Callable[[], None] | None = None,
) -> CurveTable:
    """Build (or continue) the curve table of the registered ``task`` into ``out`` (module docstring); stop after
    ``limit_seconds`` (the trainings in flight finish first), to continue later.

    Args:
        schedule: The final schedule (:class:`~archgen.training.trainer.TrainingParams` fields: ``epochs``,
            ``C``, ``N``, ``batch_size``, ``resolution``...).
        work: The trainings' checkpoints (``work/runs``).
        meta: Free header fields kept in a new table (e.g. the recipe).
        on_progress: Called after every finished training with the share of the planned trainings done.
        check: Called between trainings; raising stops the build (the table holds every finished training).

    Raises:
        BenchInputError: bad arguments, or ``out`` holding another task's table.
    """
    for what, v, lo, hi in (("cells", cells, 2, 5000), ("c10-top", c10_top, 0, 100), ("top", top, 0, 5000),
                            ("seeds", seeds, 2, 3), ("workers", workers, 1, 64)):  # fmt: skip
        if not lo <= v <= hi:
            raise BenchInputError(f"{what} must be in {lo}..{hi}, got {v}")
    if task not in data.tasks:
        raise BenchInputError(f"unknown task {task!r}: register its images first (archgen tasks add)")
    cand, kinds = candidates(data, cells, c10_top, seed)
    TrainingParams(arch=cand[0], task=task, **schedule)  # a bad schedule fails before any work
    rec = data.tasks.record(task)
    if out.is_file():
        table = CurveTable.load(out)
        if table.cells != cand or table.task != task or table.schedule != schedule:
            raise BenchInputError(f"{out} holds another table (task {table.task}, {len(table.cells)} cells): give "
                                  "another --out to start anew")  # fmt: skip
        if table.meta.get("images_sha256", rec.arrays_sha256) != rec.arrays_sha256:  # continued elsewhere
            raise BenchInputError(f"{out} was built on other images of {task} (sha256 {table.meta['images_sha256'][:12]}"
                                  f"..., these {rec.arrays_sha256[:12]}...): give another --out to start anew")  # fmt: skip
    else:
        table = CurveTable.empty(task, cand, kinds, seeds, int(schedule["epochs"]), dict(schedule), **(meta or {}),
                                 split={"train": rec.train, "validation": rec.validation, "test": rec.test},
                                 images_sha256=rec.arrays_sha256, cells_seed=seed)  # fmt: skip
    table.meta |= {"machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} "
                   f"cores", "workers": workers, "started": table.meta.get("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    total = planned(table, top)
    count = 0
    running: dict[Future, tuple[int, int]] = {}

    def one(row: int, s: int) -> Future:
        return pool.submit(train_one, data.paths, table.cells[row], task, s, dict(schedule),
                           str(work / "runs" / f"{row:04d}-s{s}"), data.owner)  # fmt: skip

    def collect(done: set[Future]) -> None:
        """Record finished trainings and rewrite the table."""
        nonlocal count
        for f in done:
            table.record(*running.pop(f), f.result())
            count += 1
        table.meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        table.save(out)
        p = table.progress()
        msg = f"{p['trainings']}/{total} trainings ({p['cells_with_two']}/{p['cells']} cells with two)"
        if count and count % 10 == 0:
            say(f"{msg}; {time.perf_counter() - t0:.0f} s this run")
        if on_progress is not None:
            on_progress(min(1.0, p["trainings"] / max(total, 1)), msg)

    def past_limit() -> bool:
        return limit_seconds is not None and time.perf_counter() - t0 >= limit_seconds

    pool: Executor = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 1
        else ThreadPoolExecutor(1)
    )
    try:
        while todo := plan(table, top):
            for r, s in todo:
                while len(running) >= workers:
                    collect(wait(running, return_when=FIRST_COMPLETED).done)
                if check is not None:
                    check()
                if past_limit():
                    break
                running[one(r, s)] = (r, s)
            collect(wait(running).done)
            if past_limit():
                say(f"stopped after {limit_seconds:.0f} s: run again to continue")
                break
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # a training in flight keeps its checkpoint
        raise
    pool.shutdown()
    table.meta["train_seconds"] = float(np.nansum(table.seconds))
    table.save(out)
    return table


def train_one(paths: Paths, arch: str, task: str, seed: int, schedule: dict[str, Any], workdir: str,
              owner: str | None = None) -> list[dict]:  # fmt: skip
    """One training of a table (in a worker process: one torch thread; ``owner``: the key whose task it is);
    its learning curve."""
    torch.set_num_threads(1)
    p = TrainingParams(arch=arch, task=task, seed=seed, **schedule)
    r = train_architecture(p, workspace(paths).for_owner(owner), Path(workdir), curve=True, checkpoint_every=30.0)
    shutil.rmtree(workdir, ignore_errors=True)  # the curve is in the table; the weights serve nothing here
    return list(r["curve"])


def build_curve_task(data: Workspace, name: str, out: Path, work: Path, **kwargs: Any) -> CurveTable:
    """Build (or continue) the table of the built-in task ``name`` (:data:`CURVE_TASKS`; registered as
    ``curves-<name>`` with its images under ``work/images``): :func:`build_table` with the recipe's schedule."""
    recipe = curve_recipe(name)
    work.mkdir(parents=True, exist_ok=True)
    task = f"curves-{name}"
    make_curve_task(data, task, recipe, work / "images")
    return build_table(data, task, recipe.schedule(), out, work, meta={"recipe": asdict(recipe)}, **kwargs)


__all__ = ["CURVE_TASKS", "CurveRecipe", "CurveTableParams", "build_curve_task", "build_table", "c10_best_cells",
           "candidates", "curve_recipe", "make_curve_task", "plan", "planned", "train_one", "write_cifar_subset"]  # fmt: skip
