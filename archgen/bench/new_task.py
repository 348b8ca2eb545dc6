"""``archgen bench new-task``: a trained ground truth on a new task, and every label-free ranker against it.

A new task is made from CIFAR-10's training images by a :class:`Recipe` (a class subset, the first
``per_class`` images of each, optionally grayscale and smaller) and registered as a user task would be
(:meth:`archgen.tasks.store.TaskStore.add`: the task's own stratified validation split). Then:

1. **Ground truth**: ``cells`` random NB201 cells (seeded) trained by the training evaluator under the recipe's
   short schedule (training seed 0), each measured on the task's validation images;
2. **Retrained**: the ``top`` best of them and CIFAR-10's ``c10_top`` best published cells (the NB201 table's
   ``cifar10``/``test_acc``), each trained with ``seeds`` training seeds; their mean is their accuracy;
3. **Label-free rankers** (no label of the task), Kendall tau against the ground truth on all cells and on the
   top 10% of them: each transfer column of the table (:data:`~archgen.services.task_prior.TRANSFER_COLUMNS`),
   each zero-cost proxy computed on the task's images, the vote (mean percentile of the prior's proxies,
   :data:`~archgen.services.task_prior.PRIOR_PROXIES`), the task's supernet where one is stored, and the
   task's prior with no evaluation (:func:`archgen.services.task_prior.task_prior`).

It is a resumable job: every training is kept in the results file as soon as its batch ends (an atomic
rewrite), and each run's checkpoint under ``work``; running the command again skips what the results file
holds and continues a training cut short from its checkpoint. Trainings run ``workers`` at a time (threads,
one torch thread each), so two workers fill two cores.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import rankdata

from archgen.curves.build import GRAY4_CLASSES, c10_best_cells, write_cifar_subset
from archgen.errors import BenchInputError
from archgen.evaluators.training import TrainingEvaluator
from archgen.predictors.metrics import kendall_tau
from archgen.predictors.zerocost import PROXIES
from archgen.search.parallel import Workers
from archgen.services.task_prior import PRIOR_PROXIES, TRANSFER_COLUMNS, source_values, task_prior, transfer_name

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace


@dataclass(frozen=True)
class Recipe:
    """A new task made of CIFAR-10 training images, and the short schedule its cells are trained with."""

    classes: tuple[str, ...]
    per_class: int
    image_size: int
    gray: bool
    epochs: int = 20
    C: int = 8
    N: int = 1
    batch_size: int = 128

    def schedule(self) -> dict[str, Any]:
        """The training evaluator's schedule (the resolution is the task's image size)."""
        return {
            "epochs": self.epochs,
            "C": self.C,
            "N": self.N,
            "batch_size": self.batch_size,
            "resolution": self.image_size,
        }


#: The new tasks. ``cifar5-32``: the 5-class task of BENCHMARKS.md ("A new task from an image folder"), colour,
#: 32x32, 1,000 images a class. ``gray4-16``: four other classes, grayscale, 16x16, 400 images a class.
RECIPES: dict[str, Recipe] = {
    "cifar5-32": Recipe(("airplane", "bird", "cat", "deer", "ship"), 1000, 32, False),
    "gray4-16": Recipe(GRAY4_CLASSES, 400, 16, True),
}
#: Zero-cost proxies ranked on the task's images: every one but GRASP (a second-order pass, the slowest and, on
#: NB201, the weakest).
RANKER_PROXIES = tuple(p for p in PROXIES if p != "grasp")
#: Version of the results file.
FORMAT = 1


def recipe_of(name: str) -> Recipe:
    if name not in RECIPES:
        raise BenchInputError(f"unknown new task {name!r}: one of {', '.join(RECIPES)}")
    return RECIPES[name]


def make_task(data: Workspace, name: str, recipe: Recipe, folder: Path) -> None:
    """Write the recipe's image folder (``folder/<class>/<index>.png``) and register it as task ``name``
    (kept when it is registered already)."""
    if name in data.tasks:
        return
    write_cifar_subset(data, folder, recipe.classes, recipe.per_class, recipe.image_size, recipe.gray)
    data.tasks.add(name, folder, image_size=recipe.image_size)


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)


def _load(path: Path, head: dict[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        return dict(head, trainings=[])
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BenchInputError(f"results file {path} is unreadable ({e}): move it away to start anew") from None
    for k in ("format", "recipe", "cells", "seed"):
        if doc.get(k) != head[k]:
            raise BenchInputError(
                f"results file {path} holds another run ({k}: {doc.get(k)!r}, asked {head[k]!r}): "
                "give another --out to start anew"
            )
    return doc


def _train(
    data: Workspace,
    task: str,
    recipe: Recipe,
    work: Path,
    todo: Sequence[tuple[Arch, int, str]],
    doc: dict[str, Any],
    path: Path,
    workers: Workers,
    say: Callable[[str], None],
) -> None:
    """Train ``todo`` (cell, training seed, why) not in ``doc`` yet, ``workers.n`` at a time; kept after each
    batch."""
    sp = data.space("nb201")
    done = {(t["architecture"], t["seed"]) for t in doc["trainings"]}
    todo = [(a, s, why) for a, s, why in todo if (sp.format(a), s) not in done]
    evaluators: dict[int, TrainingEvaluator] = {}
    t0, n = time.perf_counter(), len(todo)
    for i in range(0, n, workers.n):
        batch = todo[i : i + workers.n]
        for seed in {s for _, s, _ in batch}:
            part = [(a, why) for a, s, why in batch if s == seed]
            if seed not in evaluators:
                evaluators[seed] = TrainingEvaluator(data, task, workdir=work / "runs", seed=seed, **recipe.schedule())
            results = workers.evaluate(evaluators[seed], [a for a, _ in part])
            for (a, why), r in zip(part, results, strict=True):
                doc["trainings"].append(
                    {
                        "architecture": sp.format(a),
                        "seed": seed,
                        "why": why,
                        "acc": float(r.value),
                        "wall_s": round(float(r.cost), 2),
                    }
                )
        doc["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _write(path, doc)
        k = min(i + workers.n, n)
        el = time.perf_counter() - t0
        say(f"trained {k}/{n} ({el:.0f} s; about {el / k * (n - k):.0f} s left)")


def tau_of(ranker: np.ndarray, truth: np.ndarray) -> float | None:
    """Kendall tau over the cells where the ranker has a value (``None``: fewer than 3, or a constant ranker or
    truth)."""
    ok = np.isfinite(ranker) & np.isfinite(truth)
    if ok.sum() < 3 or np.ptp(ranker[ok]) == 0 or np.ptp(truth[ok]) == 0:
        return None
    return round(kendall_tau(truth[ok], ranker[ok]), 4)


def _pct(v: np.ndarray) -> np.ndarray:
    return (rankdata(v) - 0.5) / len(v)


def rankers(data: Workspace, task: str, archs: list[Arch], say: Callable[[str], None],
            proxies: Sequence[str] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Every label-free ranker's value of ``archs`` on ``task`` (higher: better; none reads the task's labels);
    ``proxies``: the zero-cost proxies ranked (default :data:`RANKER_PROXIES`)."""
    say(f"zero-cost proxies on the task's images for {len(archs)} cells")
    zc = RANKER_PROXIES if proxies is None else tuple(proxies)
    names = [transfer_name(t, m) for t, m in TRANSFER_COLUMNS] + [f"zc:{p}" for p in zc]
    out = source_values(data, task, archs, names)
    prior = task_prior(data, task)
    values = prior.values(archs)  # the prior's proxies among them (cached: computed once)
    out["vote"] = np.mean([_pct(values[f"zc:{p}"]) for p in PRIOR_PROXIES], axis=0)
    for name in prior.model.names:
        if name.startswith("supernet:"):
            out[name] = values[name]
    out["prior"] = prior.model.predict(values)[0]
    return out


def ground_truth(doc: dict[str, Any]) -> dict[str, float]:
    """Each random cell's accuracy in its first training (seed 0): the ground truth."""
    return {t["architecture"]: t["acc"] for t in doc["trainings"] if t["why"] == "random" and t["seed"] == 0}


def summarize(doc: dict[str, Any], ranks: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The ground truth (seed 0 of the random cells), the retrained cells' means, and each ranker's tau
    (``ranks``: values of the cells ``doc["ranked"]`` names, in its order)."""
    truth = ground_truth(doc)
    y = np.array(list(truth.values()))
    by: dict[str, list[float]] = {}
    kind: dict[str, str] = {}
    for t in doc["trainings"]:
        by.setdefault(t["architecture"], []).append(t["acc"])
        kind[t["architecture"]] = "c10-top" if t["why"] == "c10-top" else kind.get(t["architecture"], "random")
    retrained = [
        {
            "architecture": a,
            "kind": kind[a],
            "n": len(v),
            "mean": round(float(np.mean(v)), 3),
            "std": round(float(np.std(v)), 3),
        }
        for a, v in by.items()
        if len(v) > 1 or kind[a] == "c10-top"
    ]
    out: dict[str, Any] = {
        "cells": len(y),
        "acc": {
            "mean": float(np.mean(y)),
            "std": float(np.std(y)),
            "max": float(np.max(y)),
            "p95": float(np.percentile(y, 95)),
        }
        if len(y)
        else {},
        "retrained": sorted(retrained, key=lambda r: -r["mean"]),
        "train_seconds": round(sum(t["wall_s"] for t in doc["trainings"]), 1),
    }
    if ranks is not None and len(y) >= 10:
        keep = np.array([a in truth for a in doc["ranked"]])
        y = np.array([truth[a] for a in doc["ranked"] if a in truth])
        top = y >= np.percentile(y, 90)
        out["tau"] = {
            name: {"all": tau_of(v[keep], y), "top10": tau_of(v[keep][top], y[top])} for name, v in ranks.items()
        }
        out["tau_top_cells"] = int(top.sum())
    return out


def run(
    data: Workspace,
    task_kind: str,
    out: Path,
    work: Path,
    *,
    cells: int = 150,
    top: int = 15,
    c10_top: int = 5,
    seeds: int = 3,
    seed: int = 0,
    workers: int = 2,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """The benchmark of ``task_kind`` (a :data:`RECIPES` name); its results file ``out`` (resumed when it exists).

    Raises:
        BenchInputError: bad arguments, a results file of another run.
    """
    recipe = recipe_of(task_kind)
    for what, v, lo, hi in (("cells", cells, 10, 5000), ("top", top, 0, cells), ("c10-top", c10_top, 0, 100),
                            ("seeds", seeds, 1, 10), ("workers", workers, 1, 64)):  # fmt: skip
        if not lo <= v <= hi:
            raise BenchInputError(f"{what} must be in {lo}..{hi}, got {v}")
    work.mkdir(parents=True, exist_ok=True)
    name = f"bench-{task_kind}"
    make_task(data, name, recipe, work / "images")
    sp = data.space("nb201")
    head = {
        "format": FORMAT,
        "task": name,
        "task_kind": task_kind,
        "recipe": asdict(recipe),
        "cells": cells,
        "seed": seed,
    }
    doc = _load(out, json.loads(json.dumps(head)))  # as the file holds it (lists, not tuples)
    doc |= {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "workers": workers,
        "started": doc.get("started", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
    }
    archs = sp.sample_distinct(cells, np.random.default_rng(seed))
    with Workers(workers) as pool:
        say(f"ground truth: {cells} random cells, {recipe.epochs} epochs each, {workers} at a time")
        _train(data, name, recipe, work, [(a, 0, "random") for a in archs], doc, out, pool, say)
        acc = ground_truth(doc)
        best = sorted(archs, key=lambda a: -acc[sp.format(a)])[:top]
        todo = [(a, s, "c10-top") for a in c10_best_cells(data, c10_top) for s in range(seeds)]
        todo += [(a, s, "retrain") for a in best for s in range(1, seeds)]
        say(f"retraining the {top} best and CIFAR-10's {c10_top} best published cells, {seeds} seeds")
        _train(data, name, recipe, work, todo, doc, out, pool, say)
    ranks = rankers(data, name, archs, say)
    doc["ranked"] = [sp.format(a) for a in archs]
    doc["rankers"] = {k: [None if not np.isfinite(x) else round(float(x), 6) for x in v] for k, v in ranks.items()}
    doc["summary"] = summarize(doc, ranks)
    _write(out, doc)
    return doc


def format_summary(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    lines = [
        f"new task {doc['task_kind']} ({doc['recipe']}): {s['cells']} cells, "
        f"accuracy {s['acc']['mean']:.2f} +- {s['acc']['std']:.2f}, best {s['acc']['max']:.2f}, "
        f"95th percentile {s['acc']['p95']:.2f}; {s['train_seconds'] / 3600:.2f} training hours"
    ]
    lines += ["", "| ranker (no label of the task) | tau, all cells | tau, top 10% |", "|---|---|---|"]
    for name, t in sorted(s.get("tau", {}).items(), key=lambda kv: -(kv[1]["all"] or -1)):
        lines.append(f"| {name} | {t['all']} | {t['top10']} |")
    lines += ["", "| retrained cell | kind | seeds | mean +- std |", "|---|---|---|---|"]
    for r in s["retrained"]:
        lines.append(f"| {r['architecture']} | {r['kind']} | {r['n']} | {r['mean']:.2f} +- {r['std']:.2f} |")
    return "\n".join(lines)


__all__ = [
    "RANKER_PROXIES",
    "RECIPES",
    "Recipe",
    "format_summary",
    "ground_truth",
    "make_task",
    "rankers",
    "run",
    "summarize",
]
