"""The work of ``archgen search`` and ``archgen bench search`` (:mod:`archgen.cli.search`: their options)."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import typer
from tqdm import tqdm

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.bench.search import benchmark_multiobjective, benchmark_search, format_summary, summarize, write_outputs
from archgen.cli.common import _ctx, _emit, build
from archgen.search import Workers, list_strategies
from archgen.search.strategies import SearchInputError
from archgen.services.search import (
    SECOND_OBJECTIVES,
    SearchParams,
    SearchPlan,
    check_search,
    execute_search,
    progress_message,
    report,
)
from archgen.training.model import MODEL_WEIGHTS


def _strategy_names(text: str) -> list[str]:
    names = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    unknown = [n for n in names if n.partition("+")[0].partition("@")[0] not in list_strategies()]
    if not names or unknown:
        raise SearchInputError(
            f"unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; valid: {', '.join(list_strategies())}"
            " (bo and mobo take a prior: bo+zero-cost, bo+transfer; bo+generator adds the generator's cells)"
        )
    return names


def search(
    *,
    space: str,
    task: str,
    strategy: str | None,
    budget: int | None,
    batch_size: int | None,
    metric: str | None,
    prior: str | None,
    evaluator: str | None,
    budget_minutes: float | None,
    budget_trainings: float | None,
    fidelities: str | None,
    final_epochs: int | None,
    schedule: str | None,
    acquisition: str,
    minimize: str | None,
    device: str | None,
    reference: str | None,
    generator: bool,
    seed: int,
    workers: int,
    ray_address: str | None,
    checkpoint: Path | None,
    as_json: bool,
) -> None:
    try:
        ref = None if reference is None else tuple(float(v) for v in reference.split(","))
    except ValueError:
        raise SearchInputError(f"--reference takes two numbers separated by a comma, got {reference!r}") from None
    if batch_size is None and evaluator != "training":
        batch_size = 1  # one lookup at a time (a training search's default is two trainings at once)
    given = {"strategy": strategy, "budget": budget, "batch_size": batch_size, "evaluator": evaluator,
             "budget_minutes": budget_minutes, "budget_trainings": budget_trainings, "fidelities": _fidelities(fidelities), "final_epochs": final_epochs,
             "schedule": _pairs(schedule)}  # fmt: skip
    params = build(
        SearchParams,
        SearchInputError,
        {"schedule": "schedule", "fidelities": "fidelities"},  # options holding several fields each
        space=space,
        task=task,
        metric=metric,
        prior=prior,
        acquisition=acquisition,
        minimize=minimize,
        device=device,
        seed=seed,
        reference=ref,
        generator=generator,
        **{k: v for k, v in given.items() if v is not None},
    )
    settings = _ctx.settings()
    # a training search runs a training per core at once (Ray: a batch), and its bounds hold for all of them
    parallel = None if ray_address else min(params.batch_size, os.cpu_count() or 1)
    plan = check_search(params, _ctx.workspace(), max_memory=settings.job_memory_bytes, parallel=parallel)  # once
    if plan.training is not None:
        _training_search(plan, checkpoint, workers, ray_address, as_json)
        return
    assert plan.evaluator is not None and params.budget is not None
    t0 = time.perf_counter()
    with (
        Workers(workers, ray_address=ray_address) as pool,
        tqdm(
            total=params.budget,
            desc=f"{params.strategy} search",
            unit="eval",
            disable=as_json or not sys.stderr.isatty(),
        ) as bar,
    ):
        h = execute_search(
            plan, _ctx.workspace(), checkpoint=checkpoint, workers=pool if workers > 1 or ray_address else None,
            on_batch=lambda h: bar.update(len(h.evaluations) - bar.n), generator_epochs=settings.generator_epochs,
        )  # fmt: skip
    best = h.best()
    strategy, batch_size = params.strategy, params.batch_size
    summary = h.to_dict() | {"best": None if best is None else best.architecture, "best_value": None if best is None else best.value,
                             "oracle": plan.evaluator.source, "wall_s": time.perf_counter() - t0}  # fmt: skip
    if h.objectives:
        summary["front"] = [h.evaluations[i].architecture for i in h.front()]
    text = (
        f"{len(h.evaluations)} evaluations of {plan.evaluator.source} ({strategy}, batch {batch_size}, seed {seed}, "
        f"{summary['wall_s']:.1f} s); best {best.value:.3f} after {h.evaluations_to(best.value)}: {best.architecture}"
        if best is not None
        else "no evaluation returned a value"
    )
    if h.objectives:
        text += f"\nPareto front ({' vs '.join(n for n, _ in h.objectives)}): {len(summary['front'])} architectures"
        for i in h.front():
            e = h.evaluations[i]
            text += (
                f"\n  {e.value:.3f}  "
                + "  ".join(f"{n} {e.values.get(n, float('nan')):.4g}" for n, _ in h.objectives[1:])
                + f"  {e.architecture}"
            )
    _emit(summary, as_json, text)


def _fidelities(text: str | None) -> list[dict[str, int]] | None:
    """``--fidelities 2,6,20`` or ``1x1000,3x1000,20`` as fidelity objects."""
    if text is None:
        return None
    out = []
    for item in (t.strip() for t in text.split(",")):
        epochs, x, images = item.partition("x")
        try:
            out.append({"epochs": int(epochs)} | ({"train_images": int(images)} if x else {}))
        except ValueError:
            raise SearchInputError(
                f"--fidelities takes EPOCHS or EPOCHSxIMAGES separated by commas (e.g. 2,6,20), got {item!r}"
            ) from None
    return out


def _pairs(text: str | None) -> dict[str, str] | None:
    """``--schedule C=4,N=1`` as a dict (the request model converts and checks the values)."""
    if text is None:
        return None
    out = {}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SearchInputError(f"--schedule takes KEY=VALUE pairs separated by commas (e.g. C=8,N=1), got {item!r}")
        out[key.strip()] = value.strip()
    return out


#: Seconds between two progress lines of a training search printed without a terminal.
PROGRESS_EVERY = 30.0


class _Stopped(Exception):
    """Ctrl-C: the trainings in flight stop at their next report (checkpointed)."""


def _runs_dir(checkpoint: Path) -> Path:
    """Where a CLI training search keeps its trainings: ``NAME.runs/`` beside its checkpoint ``NAME.json``."""
    return checkpoint.with_name(checkpoint.stem + ".runs")


def _training_search(plan: SearchPlan, checkpoint: Path | None, workers: int, ray_address: str | None,
                     as_json: bool) -> None:  # fmt: skip
    """Run a training search from the CLI as the service runs its job: one training per core at once (one torch
    thread each), progress on stderr (every message on a terminal, a line every :data:`PROGRESS_EVERY` seconds
    without one), Ctrl-C within seconds (the trainings in flight checkpoint; the same command resumes), the
    trainings kept in ``NAME.runs/`` beside ``--checkpoint NAME.json`` (without one, in a temporary folder
    removed at the end); the result (and its weights' path) on stdout."""
    t0 = time.perf_counter()
    if checkpoint is not None:
        folder = checkpoint.parent if str(checkpoint.parent) else Path(".")
        if not folder.is_dir():
            raise SearchInputError(f"--checkpoint: folder {folder} does not exist (create it first)")
        if not os.access(folder, os.W_OK):
            raise SearchInputError(f"--checkpoint: folder {folder} is not writable")
        if checkpoint.is_dir():
            raise SearchInputError(
                f"--checkpoint: {checkpoint} is a folder; give a file name, e.g. {checkpoint}/search.json"
            )
    temp = None if checkpoint is not None else Path(tempfile.mkdtemp(prefix="archgen-search-"))
    ckpt = checkpoint if checkpoint is not None else temp / "history.json"  # type: ignore[operator]
    root = _runs_dir(ckpt) if temp is None else temp
    tty = sys.stderr.isatty()
    last = [-PROGRESS_EVERY]

    def say(message: str, force: bool = False) -> None:
        now = time.perf_counter()
        if (tty and not as_json) or force or now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            typer.echo(message if tty else f"[{now - t0:5.0f} s] {message}", err=True)

    stop = threading.Event()

    def check() -> None:
        if stop.is_set():
            raise _Stopped

    at_once = plan.training.parallel if plan.training is not None else 1
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // at_once))
    try:
        with Workers(at_once, ray_address=ray_address) as pool:
            try:
                h = execute_search(plan, _ctx.workspace(), checkpoint=ckpt, workers=pool, workdir=root,
                                   on_batch=lambda h: say(progress_message(h)), on_progress=lambda _f, m: say(m),
                                   check=check)  # fmt: skip
            except (KeyboardInterrupt, _Stopped):
                stop.set()  # the trainings in flight stop at their next report, before the pool is closed
                raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        _ctx.interrupted = (f"the search is checkpointed in {ckpt}: run the same command to resume" if temp is None
                            else "nothing was kept (no --checkpoint)")  # fmt: skip
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(threads)
    rep = report(h, limit=0)
    rep.pop("history")
    res = h.result
    for part in ("best", "final"):
        if res.get(part):
            res[part]["model"] = str(root / res[part]["run"] / MODEL_WEIGHTS)
    summary = {"search": rep, "checkpoint": None if temp is not None else str(ckpt),
               "runs": None if temp is not None else str(root), "wall_s": time.perf_counter() - t0}  # fmt: skip
    best = res.get("best")
    say(progress_message(h), force=True)
    text = progress_message(h) + f" ({summary['wall_s']:.0f} s wall)"
    if res.get("stop"):
        text += f"\nstopped: {res['stop']}"
    if best is None:
        text += "\n" + str(res.get("note") or "no training returned a value")
    else:
        text += f"\nbest: {_accuracy(best)} at {best['fidelity']}: {best['architecture']}"
        if temp is None:
            text += f"\n  model {best['model']}"
        if "final" in res:
            f = res["final"]
            text += f"\nfinal ({f['epochs']} epochs): {_accuracy(f)} in {f['seconds']:.0f} s"
            if temp is None:
                text += f"\n  model {f['model']}"
        if temp is not None:
            text += "\n(no --checkpoint: the trained models were not kept; give --checkpoint FILE to keep them)"
        else:
            text += "\nuse it: archgen predict-images --model MODEL IMAGES..."
    if temp is not None:
        shutil.rmtree(temp, ignore_errors=True)
    _emit(summary, as_json, text)


def _accuracy(shown: dict) -> str:
    """A result's validation (selected by) and test accuracy, named; a task without a test split says so."""
    if shown.get("selected_by") == "test_acc":  # cifar10: its held-out images are its test set
        return f"test {shown['value']:.2f}% (selected by)"
    text = f"validation {shown['value']:.2f}% (selected by)"
    if shown.get("test_acc") is not None:
        return text + f", test {shown['test_acc']:.2f}%"
    return text + ("; no test split" if shown.get("test_note") else "")


def bench_search(
    *,
    space: str,
    task: str,
    strategies: str,
    budget: int,
    batch_size: int,
    seeds: int,
    first_seed: int,
    metric: str | None,
    out: Path | None,
    minimize: str | None,
    device: str | None,
    generator_store: Path | None,
    as_json: bool,
) -> None:
    names = _strategy_names(strategies)
    t0 = time.time()
    common: dict = dict(budget=budget, seeds=seeds, first_seed=first_seed, batch_size=batch_size, metric=metric,
                        log=lambda m: typer.echo(m, err=True))  # fmt: skip
    if minimize is not None or device is not None:
        if minimize not in SECOND_OBJECTIVES:
            raise SearchInputError(f"--minimize must be latency, params or flops, got {minimize!r}")
        rows, meta = benchmark_multiobjective(
            _ctx.workspace(), space, task, names, minimize=minimize, device=device, **common
        )
    else:
        rows, meta = benchmark_search(_ctx.workspace(), space, task, names, store=generator_store,
                                      generator_epochs=_ctx.settings().generator_epochs, **common)  # fmt: skip
    meta["machine"] = (
        f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {time.time() - t0:.0f} s"
    )
    summary = summarize(rows, meta)
    files = write_outputs(rows, meta, out) if out is not None else []
    text = format_summary(summary, meta) + f"\n{meta['machine']}" + "".join(f"\nwrote {p}" for p in files)
    _emit({"meta": meta, "summary": summary, "files": [str(p) for p in files]}, as_json, text)
