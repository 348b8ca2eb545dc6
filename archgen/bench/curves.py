"""``archgen bench curves``: the learning-curve table of a new task (:mod:`archgen.curves.table`).

A task (:data:`CURVE_TASKS`) is written as a labelled image folder and registered as a user task is, with its
stratified validation and test splits (``test_fraction`` 0.2). Its candidates: ``cells`` uniform random NB201
cells (seeded) and CIFAR-10's ``c10_top`` best published cells (the NB201 table's ``cifar10``/``test_acc``). Every
candidate is trained on the task's final schedule (:attr:`CurveRecipe.epochs`, recording after every epoch the
validation and test accuracy and the epoch's seconds) with training seeds 0 and 1; then the ``top`` best by
seed-mean validation accuracy (never by test) and the CIFAR-10 cells with seed 2 as well.

A resumable job: the table is rewritten (atomically) after every training, each training keeps its checkpoint
under ``work``, and running the command again continues: finished trainings are skipped, one cut short
continues from its checkpoint. Trainings run ``workers`` at a time (worker processes, one torch thread each:
threads of one process contend for the interpreter's lock on these small networks) on the first CUDA GPU
when one is present, else on the CPU.
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

from archgen.bench.new_task import RECIPES, Recipe, c10_best_cells, make_task, rankers, tau_of
from archgen.bench.synthetic import write_shapes, write_signals
from archgen.context import workspace
from archgen.curves.table import CurveTable
from archgen.errors import BenchInputError, DataError
from archgen.services.task_prior import PRIOR_PROXIES, task_prior
from archgen.training.trainer import TrainingParams, train_architecture

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.paths import Paths


@dataclass(frozen=True)
class CurveRecipe:
    """A new task and its final schedule.

    Attributes:
        source: ``cifar`` (CIFAR-10 training images of ``classes``), ``shapes`` or ``signals``
            (:mod:`archgen.bench.synthetic`).
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


#: The tasks with curve tables: one like CIFAR (its photographs, gray and small) and two unlike it. Sized so a
#: table of 305 cells (2 seeds, 3 for 20) takes 20-35 minutes on 2 cores (BENCHMARKS.md).
CURVE_TASKS: dict[str, CurveRecipe] = {
    "cifar-gray4": CurveRecipe("cifar", 250, 16, RECIPES["gray4-16"].classes, gray=True),
    "shapes6": CurveRecipe("shapes", 250, 16),
    "signals6": CurveRecipe("signals", 250, 16),
    # a test's task: two classes, a few dozen 8x8 images, three epochs
    "tiny": CurveRecipe("shapes", 12, 8, epochs=3, C=4, batch_size=8),
}


def curve_recipe(name: str) -> CurveRecipe:
    if name not in CURVE_TASKS:
        raise BenchInputError(f"unknown curve task {name!r}: one of {', '.join(CURVE_TASKS)}")
    return CURVE_TASKS[name]


def make_curve_task(data: Workspace, name: str, recipe: CurveRecipe, folder: Path) -> None:
    """Write the recipe's image folder and register it as task ``name`` (kept when registered already)."""
    if name in data.tasks:
        return
    if recipe.source == "cifar":
        make_task(data, name, Recipe(recipe.classes, recipe.per_class, recipe.image_size, recipe.gray), folder)
        return
    shutil.rmtree(folder, ignore_errors=True)
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


def run(
    data: Workspace,
    name: str,
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
    say: Callable[[str], None] = lambda _m: None,
) -> CurveTable:
    """Build (or continue) the curve table of task ``name`` into ``out`` (module docstring); stop after
    ``limit_seconds`` (the trainings in flight finish first), to continue later.

    Raises:
        BenchInputError: bad arguments, or ``out`` holding another task's table.
    """
    recipe = curve_recipe(name)
    for what, v, lo, hi in (("cells", cells, 2, 5000), ("c10-top", c10_top, 0, 100), ("top", top, 0, 5000),
                            ("seeds", seeds, 2, 3), ("workers", workers, 1, 64)):  # fmt: skip
        if not lo <= v <= hi:
            raise BenchInputError(f"{what} must be in {lo}..{hi}, got {v}")
    work.mkdir(parents=True, exist_ok=True)
    task = f"curves-{name}"
    make_curve_task(data, task, recipe, work / "images")
    cand, kinds = candidates(data, cells, c10_top, seed)
    if out.is_file():
        table = CurveTable.load(out)
        if table.cells != cand or table.task != task or table.schedule != recipe.schedule():
            raise BenchInputError(f"{out} holds another table (task {table.task}, {len(table.cells)} cells): give "
                                  "another --out to start anew")  # fmt: skip
        sha = data.tasks.record(task).arrays_sha256
        if table.meta.get("images_sha256", sha) != sha:  # a table continued elsewhere: the same images, made anew
            raise BenchInputError(f"{out} was built on other images of {task} (sha256 {table.meta['images_sha256'][:12]}"
                                  f"..., these {sha[:12]}...): give another --out to start anew")  # fmt: skip
    else:
        rec = data.tasks.record(task)
        table = CurveTable.empty(task, cand, kinds, seeds, recipe.epochs, recipe.schedule(), recipe=asdict(recipe),
                                 split={"train": rec.train, "validation": rec.validation, "test": rec.test},
                                 images_sha256=rec.arrays_sha256, cells_seed=seed)  # fmt: skip
    table.meta |= {"machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} "
                   f"cores", "workers": workers, "started": table.meta.get("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))}  # fmt: skip
    t0 = time.perf_counter()

    def one(row: int, s: int) -> Future:
        return pool.submit(train_one, data.paths, table.cells[row], task, s, recipe.schedule(),
                           str(work / "runs" / f"{row:04d}-s{s}"))  # fmt: skip

    count = 0
    running: dict[Future, tuple[int, int]] = {}

    def collect(done: set[Future]) -> None:
        """Record finished trainings and rewrite the table."""
        nonlocal count
        for f in done:
            table.record(*running.pop(f), f.result())
            count += 1
            if count % 10 == 0:
                p = table.progress()
                say(f"{p['trainings']} trainings ({p['cells_with_two']}/{p['cells']} cells with two); "
                    f"{time.perf_counter() - t0:.0f} s this run")  # fmt: skip
        table.meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        table.save(out)

    def past_limit() -> bool:
        return limit_seconds is not None and time.perf_counter() - t0 >= limit_seconds

    pool: Executor = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 1
        else ThreadPoolExecutor(1)
    )
    with pool:
        while todo := plan(table, top):
            for r, s in todo:
                while len(running) >= workers:
                    collect(wait(running, return_when=FIRST_COMPLETED).done)
                if past_limit():
                    break
                running[one(r, s)] = (r, s)
            collect(wait(running).done)
            if past_limit():
                say(f"stopped after {limit_seconds:.0f} s: run again to continue")
                break
    table.meta["train_seconds"] = float(np.nansum(table.seconds))
    table.save(out)
    return table


def train_one(paths: Paths, arch: str, task: str, seed: int, schedule: dict[str, Any], workdir: str) -> list[dict]:
    """One training of a table (in a worker process: one torch thread); its learning curve."""
    torch.set_num_threads(1)
    p = TrainingParams(arch=arch, task=task, seed=seed, **schedule)
    r = train_architecture(p, workspace(paths), Path(workdir), curve=True, checkpoint_every=30.0)
    shutil.rmtree(workdir, ignore_errors=True)  # the curve is in the table; the weights serve nothing here
    return list(r["curve"])


def rank(data: Workspace, out: Path, say: Callable[[str], None] = lambda _m: None) -> CurveTable:
    """Score every candidate of the table ``out`` with every label-free ranker
    (:func:`archgen.bench.new_task.rankers`: the published columns of other image sets, the prior's zero-cost
    proxies on the task's images, their vote, the task's prior) and keep, in the table's header, their values (``rankers``) and
    the task prior's sources and values (``prior``: what ``archgen bench replay``'s ``prior-sh`` draws from)."""
    table = load(out)
    sp = data.space("nb201")
    archs = [sp.parse(c) for c in table.cells]
    values = rankers(data, table.task, archs, say, proxies=PRIOR_PROXIES)
    prior = task_prior(data, table.task)
    pv = prior.values(archs)
    fin = lambda v: [None if not np.isfinite(x) else round(float(x), 6) for x in v]
    table.meta["rankers"] = {k: fin(v) for k, v in values.items()}
    table.meta["prior"] = {
        "sources": [{"name": src.name, "group": src.group, "uses_labels": src.uses_labels,
                     "reference": [float(x) for x in src.reference]} for src in prior.model.sources],
        "values": {k: fin(pv[k]) for k in prior.model.names},
    }  # fmt: skip
    table.save(out)
    return table


def ranker_tau(table: CurveTable) -> dict[str, dict[str, float | None]]:
    """Kendall tau of every ranker kept in the table (:func:`rank`) and of what a search buys cheaply (one
    training's validation accuracy after 1 and 3 epochs, and at the end), against each cell's seed-mean final
    validation accuracy: over all cells with a complete training and over the top 10% of them."""
    truth = table.mean_val()
    ok = np.isfinite(truth)
    top = ok & (truth >= np.nanpercentile(truth, 90)) if ok.any() else ok
    out: dict[str, dict[str, float | None]] = {}
    cheap = {f"one training, {e} epoch{'s' if e > 1 else ''}": table.val[:, 0, e - 1]
             for e in sorted({1, min(3, table.epochs), table.epochs})}  # fmt: skip
    kept = {k: np.array([np.nan if x is None else x for x in v], dtype=float)
            for k, v in table.meta.get("rankers", {}).items()}  # fmt: skip
    for name, v in {**kept, **cheap}.items():
        out[name] = {"all": tau_of(v[ok], truth[ok]), "top10": tau_of(v[top], truth[top])}
    return out


def load(path: Path) -> CurveTable:
    """A curve table, or a :class:`BenchInputError` naming what is wrong with the file."""
    try:
        return CurveTable.load(path)
    except DataError as e:
        raise BenchInputError(str(e)) from None


__all__ = ["CURVE_TASKS", "CurveRecipe", "candidates", "curve_recipe", "load", "make_curve_task", "plan", "rank",
           "ranker_tau", "run"]  # fmt: skip
