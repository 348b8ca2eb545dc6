"""Benchmarks of the diffusion generator on published tables (``archgen bench generator``).

Parts (each a list of run rows, one per draw and setting; :func:`summarize`
turns them into mean ± std rows, :func:`write_outputs` into JSON, CSV and PNG):

* ``quality`` (NB201, NAS-Bench-Graph: spaces whose table enumerates them). For
  each draw the generator is trained on a random half of the table's cells (no
  labels), then draws ``samples`` architectures: validity (share of raw samples
  that decode; none is repaired), uniqueness, novelty (samples outside the
  training half; also by canonical form), the total-variation distance between
  the samples' per-position operation frequencies and the whole table's, fit
  and sampling time; uniform random sampling beside it. Then, for each task in
  ``tasks``, guidance toward the task's accuracy (the predictors' target,
  :func:`~archgen.services.predictors.default_target`) with a noise-aware
  surrogate on ``labelled`` random cells **of the training half** (the only
  labels any method here sees), 100 samples per guidance scale (gradient alone,
  no reranking): their true accuracy (mean, best), the share of distinct samples
  in the task's true top-1% and top-5%, and how many of those top-1% cells are
  from the held-out half; against (a) 100 uniform samples and (c) the 100 cells
  the same surrogate (at the smallest noise level) ranks highest among all the
  table's cells, the ceiling. (b), "k random cells ranked by the same surrogate
  at equal surrogate calls", is (c) on these spaces: one guided sample costs
  2 x steps gradient calls with the PC sampler, more than the space has cells.
* ``constraints``, ``transfer``, ``timing`` (NB201, through the pipeline behind
  ``archgen generate``; the space's generator trained once on every cell and kept
  in ``store``): see :func:`constraints`, :func:`transfer`, :func:`timing`.
* ``zero-cost``: guidance without any label (NB201 CIFAR-10): see :func:`zero_cost`.
* ``nb101``: see :func:`nb101`.

Draws start at ``first_seed`` (100 by default: development used 0-2).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy.stats import kendalltau

from archgen.artifacts import ArtifactStore
from archgen.datasets.tables import ENUMERATED
from archgen.errors import UnknownNameError
from archgen.generators import Guidance, get_generator
from archgen.generators.diffusion.generator import VALIDITY
from archgen.plotting import pyplot
from archgen.predictors.base import get_predictor
from archgen.services.generate import SAMPLED_CELLS, ZC_VOTE, generate, space_generator, training_cells
from archgen.services.predictors import predictor_kwargs, table_archs
from archgen.services.requests import Constraints, GenerateRequest

if TYPE_CHECKING:
    from archgen.artifacts import ArtifactStore
    from archgen.context import Workspace

PARTS = ("quality", "zero-cost", "constraints", "transfer", "timing", "nb101")
#: Constraints of the ``constraints`` part per space: a budget at the space's 30th percentile of each column
#: (``TASK`` stands for the part's task, the first of ``tasks``).
CONSTRAINTS: dict[str, dict[str, dict[str, Any]]] = {
    "nb201": {
        "params": {"max_params": ("TASK", "params")},
        "latency pixel3 (HW-NAS-Bench)": {"max_latency_ms": ("TASK", "hw_pixel3_latency"), "device": "pixel3"},
        "latency gold_6226 (HELP)": {"max_latency_ms": ("TASK", "latency_gold_6226"), "device": "gold_6226"},
    },
    "nasbench_graph": {
        "params": {"max_params": ("TASK", "params")},
        "latency (NAS-Bench-Graph's published)": {"max_latency_ms": ("TASK", "latency"), "device": "published"},
    },
}
#: NB201 transfer settings: task -> source tasks (never the task's own images).
TRANSFER = {"cifar10": ("cifar100", "ImageNet16-120"), "cifar100": ("cifar10", "ImageNet16-120")}


@dataclass
class BenchOptions:
    """What a generator benchmark run uses (the CLI's options)."""

    space: str = "nb201"
    tasks: tuple[str, ...] = ("cifar10",)
    draws: int = 3
    first_seed: int = 100
    samples: int = 1000
    epochs: int = 200
    steps: int = 200
    method: str = "pc"
    labelled: int = 156
    scales: tuple[float, ...] = (0.0, 1.0, 5.0, 20.0)
    constraint_scale: float = 30.0
    threads: int = field(default_factory=torch.get_num_threads)
    store: Path | None = None


Log = Callable[[str], None]


# -- quality and guidance (a generator per draw, trained on half the table) -----------------
def _op_freq(ops: np.ndarray, k: int) -> np.ndarray:
    return np.stack([(ops == j).mean(axis=0) for j in range(k)], axis=1)  # [position, op]


def _quality(space, samples: list, train: set, raw: int, valid: int, reference: np.ndarray) -> dict:
    if not samples:
        nan = float("nan")
        return {
            "validity": valid / raw,
            "uniqueness": nan,
            "novelty": nan,
            "novelty_canonical": nan,
            "op_tv_distance": nan,
        }
    canon_train = {space.canonical(a) for a in train}
    tv = 0.5 * np.abs(_op_freq(np.array([a.ops for a in samples]), reference.shape[1]) - reference).sum(axis=1).mean()
    return {
        "validity": valid / raw,
        "uniqueness": len(set(samples)) / max(1, len(samples)),
        "novelty": float(np.mean([a not in train for a in samples])),
        "novelty_canonical": float(np.mean([space.canonical(a) not in canon_train for a in samples])),
        "op_tv_distance": float(tv),
    }


def _guided(ws: Workspace, gen, space, half: list, train: set, task: str, seed: int, opts: BenchOptions, log: Log):
    table = ws.table(space.name)
    target = table.default_target(task)
    archs, y = table_archs(table, *target)
    acc = dict(zip(archs, y, strict=True))
    top1, top5 = np.quantile(y, 0.99), np.quantile(y, 0.95)
    rng = np.random.default_rng(seed + 1)
    pool = [a for a in half if a in acc]
    labelled = [pool[i] for i in rng.choice(len(pool), opts.labelled, replace=False)]
    t0 = time.perf_counter()
    gen.fit_guidance(labelled, np.array([acc[a] for a in labelled]), seed=seed)
    guide_s = time.perf_counter() - t0

    def measure(name: str, cells: list, extra: dict) -> dict:
        v = np.array([acc[a] for a in cells])
        distinct = list(dict.fromkeys(cells))
        d = np.array([acc[a] for a in distinct])
        return {
            "part": "guided", "space": space.name, "task": task, "target": "/".join(target), "method": name,
            "seed": seed, "mean_acc": float(v.mean()), "best_acc": float(v.max()), "distinct": len(distinct),
            "top1_share": float(np.mean(d >= top1)), "top5_share": float(np.mean(d >= top5)),
            "top1_heldout": int(sum(acc[a] >= top1 and a not in train for a in distinct)), "guide_fit_s": guide_s,
        } | extra  # fmt: skip

    uniform = space.sample(100, np.random.default_rng(seed + 2))
    if getattr(gen, "canonical_", False):  # the table's rows are classes (NAS-Bench-Graph)
        uniform = [space.canonical(a) for a in uniform]
    out = [measure("uniform", uniform, {"scale": None})]
    for scale in opts.scales:
        t0 = time.perf_counter()
        cells = gen.sample(100, rng=np.random.default_rng(seed + 3), guidance=Guidance(scale=scale))
        out.append(measure("diffusion-guided", cells, {"scale": scale, "sample_s": time.perf_counter() - t0}))
    pred = gen.guidance_mean(archs)  # (c): the same surrogate at the smallest noise level, over every cell
    out.append(measure("rank-all-by-surrogate", [archs[i] for i in np.argsort(-pred)[:100]], {"scale": None}))
    for r in out:
        log(json.dumps(r))
    return out


def quality(ws: Workspace, opts: BenchOptions, log: Log) -> list[dict]:
    """Unguided quality and guided accuracy, a generator per draw trained on half the table (module docstring)."""
    if opts.space not in ENUMERATED:
        raise UnknownNameError(
            "space whose table enumerates it (part quality; NB101: part nb101)", opts.space, ENUMERATED
        )
    table = ws.table(opts.space)
    space = table.search_space
    for task in opts.tasks:
        if task not in table.tasks():
            raise UnknownNameError(f"task of space {opts.space!r}", task, table.tasks())
    cells, _ = table_archs(table, *table.default_target(table.tasks()[0]))
    reference = _op_freq(np.array([a.ops for a in cells]), len(space.op_names))
    rows = []
    for d in range(opts.draws):
        seed = opts.first_seed + d
        half = [cells[int(i)] for i in np.random.default_rng(seed).permutation(len(cells))[: len(cells) // 2]]
        train = set(half)
        t0 = time.perf_counter()
        gen = get_generator("diffusion", epochs=opts.epochs, steps=opts.steps, method=opts.method, seed=seed).fit(half)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw, _ = gen.generate(opts.samples, torch.Generator().manual_seed(seed))
        sample_s = time.perf_counter() - t0
        ok = [a for a in raw if a is not None]
        base = {"part": "unguided", "space": opts.space, "seed": seed}
        row = base | {"method": "diffusion", "fit_s": fit_s, "sample_s": sample_s}
        row |= _quality(space, ok, train, len(raw), len(ok), reference)
        rows.append(row)
        log(json.dumps(row))
        for task in opts.tasks:
            rows += _guided(ws, gen, space, half, train, task, seed, opts, log)
        uni = space.sample(opts.samples, np.random.default_rng(seed + 10_000))
        if getattr(gen, "canonical_", False):  # compare classes with classes
            uni = [space.canonical(a) for a in uni]
        rows.append(
            base | {"method": "uniform", "fit_s": 0.0, "sample_s": 0.0}
            | _quality(space, uni, train, len(uni), len(uni), reference)
        )  # fmt: skip
    return rows


# -- the pipeline on NB201 tasks (one generator trained on every cell) -----------------------------
def _setup(ws: Workspace, opts: BenchOptions, log: Log, space: str = "nb201") -> ArtifactStore:
    store = ArtifactStore(opts.store) if opts.store is not None else ws.models
    t0 = time.perf_counter()
    space_generator(ws, store, space, epochs=opts.epochs, steps=200, seed=0)
    log(f"generator ready in {time.perf_counter() - t0:.0f} s")
    return store


def constraints(ws: Workspace, opts: BenchOptions, log: Log) -> list[dict]:
    """100 architectures guided toward the task's accuracy (156 labelled cells; NB201 CIFAR-10 or a
    NAS-Bench-Graph dataset, ``space`` and the first of ``tasks``) under one budget at a time
    (:data:`CONSTRAINTS`), with the constraint's gradient at scale 0 (rejection only) and at
    ``constraint_scale``: share of valid raw samples meeting it before rejection, share of the returned
    ones meeting it by the published value, raw draws, measured accuracy, uniqueness."""
    if opts.space not in CONSTRAINTS:
        raise UnknownNameError("space of the constraints part", opts.space, list(CONSTRAINTS))
    store = _setup(ws, opts, log, space=opts.space)
    table = ws.table(opts.space)
    task = opts.tasks[0]
    if task not in table.tasks():
        raise UnknownNameError(f"task of space {opts.space!r}", task, table.tasks())
    rows = []
    for name, spec in CONSTRAINTS[opts.space].items():
        kw: dict = {}
        for k, v in spec.items():
            if k.startswith("max_"):
                column = np.asarray(table.column(task, v[1]), dtype=float)
                kw[k] = float(np.nanpercentile(column, 30))
            else:
                kw[k] = v
        for seed in range(opts.first_seed, opts.first_seed + opts.draws):
            for cs in (0.0, opts.constraint_scale):
                t0 = time.perf_counter()
                params = GenerateRequest(
                    space=opts.space, task=task, n=100, seed=seed, constraint_scale=cs, constraints=Constraints(**kw)
                )
                r = generate(params, ws, store)
                col = next(iter(r.constraints))
                budget = r.constraints[col]["max"]
                vals = np.array([g.values[col] for g in r.items], dtype=float)
                acc = np.array([g.measured for g in r.items], dtype=float)
                row = {
                    "part": "constraints", "space": opts.space, "task": task, "constraint": name, "budget": budget,
                    "seed": seed,
                    "constraint_scale": cs, "met_before_rejection": r.met_before_rejection,
                    "met_returned": float(np.mean(vals <= budget)), "drawn": r.drawn, "validity": r.validity,
                    "mean_acc": float(acc.mean()), "uniqueness": r.uniqueness, "wall_s": time.perf_counter() - t0,
                }  # fmt: skip
                rows.append(row)
                log(json.dumps(row))
    return rows


def zero_cost(ws: Workspace, opts: BenchOptions, log: Log) -> list[dict]:
    """Guidance for a task as if it had no table: the surrogate learns the zero-cost vote (``zc_vote``:
    synflow, jacov, nwot, params; computed by archgen on CIFAR-10 images) of ``labelled`` random cells, no
    label. 100 architectures (PC, 200 steps, scale 20) are then looked up in the CIFAR-10 table: mean
    and best accuracy (the predictors' target, cifar10-valid validation, and the CIFAR-10 test accuracy),
    shares in the true top 1% and 5%. Beside it, same seeds: 100 uniform cells; the same pipeline guided
    by ``labelled`` cells' table labels; and the 100 best cells of the whole space by the *published*
    NAS-Bench-Suite-Zero scores of the same four proxies (the ranking a zero-cost vote alone can reach, with
    scores archgen did not compute)."""
    store = _setup(ws, opts, log)
    table = ws.table("nb201")
    sp = table.search_space
    archs, y = table_archs(table, *table.default_target("cifar10"))
    acc = dict(zip(archs, y, strict=True))
    test = np.asarray(table.column("cifar10", "test_acc"), dtype=float)
    top1, top5 = np.quantile(y, 0.99), np.quantile(y, 0.95)
    vote = get_predictor("zc_vote", data=ws, task="cifar10", proxies=ZC_VOTE, source="table")
    published = [archs[i] for i in np.argsort(-vote.predict(archs), kind="stable")[:100]]

    def measure(name: str, cells: list, seed: int, wall: float) -> dict:
        v = np.array([acc[a] for a in cells])
        d = np.array([acc[a] for a in dict.fromkeys(cells)])
        t = test[sp.indices(cells)]
        return {
            "part": "zero-cost", "method": name, "seed": seed, "mean_acc": float(v.mean()), "best_acc": float(v.max()),
            "mean_test_acc": float(t.mean()), "best_test_acc": float(t.max()),
            "top1_share": float(np.mean(d >= top1)), "top5_share": float(np.mean(d >= top5)), "wall_s": wall,
        }  # fmt: skip

    rows = []
    for seed in range(opts.first_seed, opts.first_seed + opts.draws):
        out = [measure("uniform", sp.sample(100, np.random.default_rng(seed)), seed, 0.0)]
        for guide_by in ("zero-cost", "table"):
            t0 = time.perf_counter()
            params = GenerateRequest(n=100, seed=seed, guide_by=guide_by, labelled=opts.labelled)  # type: ignore[arg-type]
            r = generate(params, ws, store)
            name = "guided by the zero-cost vote (no label)" if guide_by == "zero-cost" else "guided by table labels"
            out.append(measure(name, [sp.parse(g.architecture) for g in r.items], seed, time.perf_counter() - t0))
        out.append(measure("published zero-cost vote, top 100 of the space", published, seed, 0.0))
        for row in out:
            log(json.dumps(row))
        rows += out
    return rows


def transfer(ws: Workspace, opts: BenchOptions, log: Log) -> list[dict]:
    """Guidance and ranking by other tasks' labels only (:data:`TRANSFER`); the 100 returned architectures are
    evaluated (a lookup of the target's test accuracy, DiffusionNAG's Table 1 target) in ranking order until
    the task's optimum (any cell tied with it) is found. Beside it: the rank of the optimum among all cells by
    the sources' mean standardised accuracy itself (the best any ranking by those labels can do)."""
    store = _setup(ws, opts, log)
    table = ws.table("nb201")
    sp = table.search_space
    rows = []
    for task, sources in TRANSFER.items():
        acc = np.asarray(table.column(task, "test_acc"), dtype=float)
        best = set(np.flatnonzero(acc >= np.nanmax(acc) - 1e-9).tolist())
        z = [np.asarray(table.column(s, "test_acc"), dtype=float) for s in sources]
        mean = np.mean([(v - np.nanmean(v)) / np.nanstd(v) for v in z], axis=0)
        oracle = int(min((mean > mean[i]).sum() for i in best)) + 1
        for seed in range(opts.first_seed, opts.first_seed + opts.draws):
            t0 = time.perf_counter()
            r = generate(GenerateRequest(task=task, n=100, seed=seed, transfer_from=sources), ws, store)
            idx = sp.indices([sp.parse(g.architecture) for g in r.items])
            hits = [k + 1 for k, i in enumerate(idx) if int(i) in best]
            row = {
                "part": "transfer", "task": task, "sources": list(sources), "seed": seed,
                "evals_to_optimum": hits[0] if hits else None, "best_of_first_10": float(acc[idx[:10]].max()),
                "mean_acc": float(acc[idx].mean()), "optimum": float(np.nanmax(acc)),
                "source_mean_rank_of_optimum": oracle, "wall_s": time.perf_counter() - t0,
            }  # fmt: skip
            rows.append(row)
            log(json.dumps(row))
    return rows


def timing(ws: Workspace, opts: BenchOptions, log: Log) -> list[dict]:
    """Wall time for 1,000 guided NB201 samples (surrogate fitted beforehand, scale 20) for DiffusionNAG's
    sampler (PC, 200 steps) and Euler at 50 and 20 steps, with validity and mean accuracy."""
    store = _setup(ws, opts, log)
    gen, _ = space_generator(ws, store, "nb201", epochs=opts.epochs, steps=200, seed=0)
    table = ws.table("nb201")
    archs, y = table_archs(table, *table.default_target("cifar10"))
    acc = dict(zip(archs, y, strict=True))
    rows = []
    for seed in range(opts.first_seed, opts.first_seed + opts.draws):
        pick = np.random.default_rng(seed).choice(len(archs), 156, replace=False)
        gen.fit_guidance([archs[i] for i in pick], y[pick], seed=seed)
        for method, steps in (("pc", 200), ("euler", 50), ("euler", 20)):
            gen.method, gen.steps = method, steps
            t0 = time.perf_counter()
            out = gen.sample(1000, rng=np.random.default_rng(seed), guidance=Guidance(scale=20.0))
            dt = time.perf_counter() - t0
            row = {
                "part": "timing", "seed": seed, "method": f"{method} {steps}", "threads": opts.threads,
                "seconds_1000": dt, "validity": gen.last_stats_["valid"] / gen.last_stats_["drawn"],
                "mean_acc": float(np.mean([acc[a] for a in out])), "uniqueness": len(set(out)) / len(out),
            }  # fmt: skip
            rows.append(row)
            log(json.dumps(row))
    return rows


def invalid_reasons(gen, space, states) -> dict[str, int]:
    """Why invalid samples are invalid: a node row without exactly one type, or what the space refused."""
    out: dict[str, int] = {}
    for z in states:
        why = gen.read_sample(space, z)
        why = why[:60] if isinstance(why, str) else "other"
        out[why] = out.get(why, 0) + 1
    return out


def nb101(ws: Workspace, opts: BenchOptions, log: Log) -> list[dict]:
    """NB101: adjacency and operations diffused; quality of 1,000 samples, and guidance toward predicted accuracy.

    The generator learns from ``SAMPLED_CELLS`` cells of the space's own sampler
    (the table holds 500 of NB101's 423k cells; no labels). Novelty counts
    samples outside that training set. Validity is measured with the validity
    gradient (``DiffusionGenerator.fit_validity``, fitted on 3,000 probe samples when
    the generator is trained) and without it, same seeds. NB101's true accuracy exists for 500
    cells only, so accuracy is *predicted*: a LightGBM on the encoding fitted on
    400 labelled table cells (its Kendall tau on the other 100 is reported) judges
    unguided, guided (surrogate on 156 of the same 400 cells) and uniform samples.
    """
    store = _setup(ws, opts, log, space="nb101")
    gen, _ = space_generator(ws, store, "nb101", epochs=opts.epochs, steps=200, seed=0)
    seen = set(training_cells(ws, "nb101", 0))
    table = ws.table("nb101")
    sp = table.search_space
    archs, y = table_archs(table, *table.default_target("cifar10"))
    rows = []
    for seed in range(opts.first_seed, opts.first_seed + opts.draws):
        perm = np.random.default_rng(seed).permutation(len(archs))
        tr, te = perm[:400], perm[400:]
        judge = get_predictor("lgbm", data=ws, **predictor_kwargs("lgbm", "cifar10", seed, zc="none"))
        judge.fit([archs[i] for i in tr], y[tr])
        tau = float(kendalltau(judge.predict([archs[i] for i in te]), y[te])[0])
        t0 = time.perf_counter()
        raw, states = gen.generate(1000, torch.Generator().manual_seed(seed))
        sample_s = time.perf_counter() - t0
        ok = [a for a in raw if a is not None]
        reasons = invalid_reasons(gen, sp, [z for a, z in zip(raw, states, strict=True) if a is None])
        plain, plain_states = gen.generate(1000, torch.Generator().manual_seed(seed), use_validity=False)
        plain_reasons = invalid_reasons(gen, sp, [z for a, z in zip(plain, plain_states, strict=True) if a is None])
        lab = tr[:156]
        gen.fit_guidance([archs[i] for i in lab], y[lab], seed=seed)
        guided = gen.sample(100, rng=np.random.default_rng(seed), guidance=Guidance(scale=20.0))
        uniform = sp.sample(100, np.random.default_rng(seed))
        row = {
            "part": "nb101", "seed": seed, "samples": len(raw), "validity": len(ok) / len(raw),
            "validity_without_validity_gradient": float(np.mean([a is not None for a in plain])),
            "invalid_reasons_without_validity_gradient": plain_reasons,
            "validity_surrogate": VALIDITY in gen.surrogates_,
            "validity_probe_invalid": getattr(gen, "validity_probe_", None),
            "uniqueness": len(set(ok)) / max(1, len(ok)), "novelty": float(np.mean([a not in seen for a in ok])),
            "sample_s_1000": sample_s, "judge_tau": tau, "pred_unguided": float(judge.predict(ok[:100]).mean()),
            "pred_guided": float(judge.predict(guided).mean()), "pred_uniform": float(judge.predict(uniform).mean()),
            "pred_best_table": float(np.sort(judge.predict(archs))[-100:].mean()),
            "trained_on": SAMPLED_CELLS, "invalid_reasons": reasons,
        }  # fmt: skip
        rows.append(row)
        log(json.dumps(row))
    return rows


RUNNERS: dict[str, Callable[[Workspace, BenchOptions, Log], list[dict]]] = {
    "quality": quality,
    "zero-cost": zero_cost,
    "constraints": constraints,
    "transfer": transfer,
    "timing": timing,
    "nb101": nb101,
}


def run(part: str, ws: Workspace, opts: BenchOptions, log: Log | None = None) -> list[dict]:
    """Run one part (:data:`PARTS`) and return its run rows."""
    if part not in RUNNERS:
        raise UnknownNameError("generator benchmark part", part, PARTS)
    torch.set_num_threads(opts.threads)
    return RUNNERS[part](ws, opts, log or (lambda _m: None))


# -- summaries and outputs -----------------------------------------------------------------------
#: Per part: the keys that group runs, and the figures averaged over them.
_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "unguided": (
        ("space", "method"),
        ("validity", "uniqueness", "novelty", "novelty_canonical", "op_tv_distance", "fit_s", "sample_s"),
    ),
    "guided": (
        ("space", "task", "target", "method", "scale"),
        ("mean_acc", "best_acc", "distinct", "top1_share", "top5_share", "top1_heldout"),
    ),
    "zero-cost": (
        ("method",),
        ("mean_acc", "best_acc", "mean_test_acc", "best_test_acc", "top1_share", "top5_share", "wall_s"),
    ),
    "constraints": (
        ("space", "task", "constraint", "budget", "constraint_scale"),
        ("met_before_rejection", "met_returned", "drawn", "mean_acc", "uniqueness"),
    ),
    "transfer": (("task", "source_mean_rank_of_optimum"), ("best_of_first_10", "mean_acc")),
    "timing": (("method", "threads"), ("seconds_1000", "validity", "mean_acc", "uniqueness")),
    "nb101": (
        ("part",),
        (
            "validity",
            "validity_without_validity_gradient",
            "uniqueness",
            "novelty",
            "judge_tau",
            "pred_uniform",
            "pred_unguided",
            "pred_guided",
            "pred_best_table",
        ),
    ),
}


def summarize(rows: Sequence[dict]) -> list[dict]:
    """Mean and std over draws of every figure, one row per part and setting (in first-seen order).

    Transfer rows also get the median evaluations to the optimum (``inf`` where
    fewer than half the seeds reach it within the 100) and the share reaching it.
    """
    out: list[dict] = []
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        keys, _ = _GROUPS[r["part"]]
        groups.setdefault((r["part"], *(str(r.get(k)) for k in keys)), []).append(r)
    for (part, *_), sel in groups.items():
        keys, figs = _GROUPS[part]
        row: dict[str, Any] = {"part": part, "draws": len(sel)} | {k: sel[0].get(k) for k in keys}
        for f in figs:
            v = np.array([r[f] for r in sel if r.get(f) is not None], dtype=float)
            row[f] = float(v.mean()) if len(v) else None
            row[f + "_std"] = float(v.std()) if len(v) else None
        if part == "transfer":
            ev = np.array([np.inf if r["evals_to_optimum"] is None else r["evals_to_optimum"] for r in sel])
            row["median_evals_to_optimum"] = float(np.median(ev))
            row["reached"] = float(np.mean(np.isfinite(ev)))
        out.append(row)
    return out


def format_summary(summary: Sequence[dict]) -> str:
    """The summary as aligned text tables, one per part."""
    lines: list[str] = []
    for part in dict.fromkeys(r["part"] for r in summary):
        sel = [r for r in summary if r["part"] == part]
        keys, figs = _GROUPS[part]
        extra = ("median_evals_to_optimum", "reached") if part == "transfer" else ()
        cols = [*keys, *figs, *extra]
        cells = [[_cell(r, c, c in figs) for c in cols] for r in sel]
        widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
        lines += ["", f"[{part}]", "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
        lines += ["  ".join(x.rjust(w) for x, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines).lstrip("\n")


def _cell(r: dict, key: str, with_std: bool) -> str:
    v = r.get(key)
    if v is None:
        return "-"
    if isinstance(v, float):
        s = "inf" if np.isinf(v) else f"{v:.3f}"
        sd = r.get(key + "_std")
        return f"{s} ± {sd:.3f}" if with_std and sd is not None else s
    return str(v)


def plot(summary: Sequence[dict], path: Path, title: str) -> Path | None:
    """Bar charts of the headline figure per part (guided: mean true accuracy and top-1% share per method)."""
    plt = pyplot()

    panels = [(p, [r for r in summary if r["part"] == p]) for p in dict.fromkeys(r["part"] for r in summary)]
    headline = {
        "unguided": "uniqueness", "guided": "top1_share", "zero-cost": "mean_acc", "constraints": "met_before_rejection",
        "transfer": "mean_acc", "timing": "seconds_1000", "nb101": "validity",
    }  # fmt: skip
    panels = [(p, sel) for p, sel in panels if p in headline]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (part, sel) in zip(axes[0], panels, strict=True):
        key = headline[part]
        keys, _ = _GROUPS[part]
        labels = [
            " ".join(str(r.get(k)) for k in keys if r.get(k) is not None and k not in ("space", "target")) for r in sel
        ]
        vals = [r[key] or 0.0 for r in sel]
        errs = [r.get(key + "_std") or 0.0 for r in sel]
        ax.barh(range(len(sel)), vals, xerr=errs, color="#4c72b0")
        ax.set_yticks(range(len(sel)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"{key} (mean ± std over draws)")
        ax.set_title(part)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(rows: Sequence[dict], out: Path, name: str, title: str) -> list[Path]:
    """``NAME_runs.json`` (every run), ``NAME_summary.csv`` and ``NAME_summary.png`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    paths = [out / f"{name}_runs.json", out / f"{name}_summary.csv"]
    paths[0].write_text(json.dumps(list(rows), indent=1))
    fields = list(dict.fromkeys(k for r in summary for k in r))
    with paths[1].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(summary)
    png = plot(summary, out / f"{name}_summary.png", title)
    return paths + ([png] if png else [])


__all__ = [
    "PARTS",
    "BenchOptions",
    "format_summary",
    "invalid_reasons",
    "plot",
    "run",
    "summarize",
    "write_outputs",
]
