"""``archgen bench curves``: the learning-curve table of a new task; ``archgen bench replay``: every search method
replayed against such tables with simulated time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit, bench_app
from archgen.errors import BenchInputError


def register(app: typer.Typer) -> None:
    """Add ``bench curves`` and ``bench replay`` (``bench`` itself is added by :mod:`archgen.cli.common`'s users)."""
    bench_app.command("curves")(bench_curves)
    bench_app.command("replay")(bench_replay)


def bench_curves(
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="cifar-gray4, shapes6, signals6 (built in; or tiny, a test's), or a registered task of yours with a "
            "test split (schedule: 20 epochs, C 8, N 1, batch 64 at its image size).",
        ),
    ],
    out: Annotated[Path | None, typer.Option("--out", help="The table (.npz; continued when it exists).")] = None,
    work: Annotated[
        Path | None, typer.Option("--work", help="The task's images, home and checkpoints (default: beside --out).")
    ] = None,
    cells: Annotated[int, typer.Option("--cells", min=2, max=5000, help="Uniform random candidate cells.")] = 300,
    c10_top: Annotated[int, typer.Option("--c10-top", min=0, max=100, help="CIFAR-10's best published cells.")] = 5,
    top: Annotated[int, typer.Option("--top", min=0, max=5000, help="Best by validation given a third seed.")] = 15,
    seeds: Annotated[int, typer.Option("--seeds", min=2, max=3, help="Seeds of the best and CIFAR-10 cells.")] = 3,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the random cells.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Trainings at once (1 thread each).")] = 2,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, max=200, help="A task of yours: the schedule's epochs (default 20)."),
    ] = None,
    limit_minutes: Annotated[
        float | None, typer.Option("--limit-minutes", min=0.1, help="Stop after this long (run again to continue).")
    ] = None,
    rankers: Annotated[
        bool, typer.Option("--rankers", help="Then score the candidates with every label-free ranker (kept).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train every candidate cell of TASK on its final schedule with two seeds (three for the best by validation
    and CIFAR-10's best published cells), recording each epoch's validation and test accuracy and seconds, into a
    learning-curve table. Rerunning continues where it stopped. With --rankers, then score every candidate with
    the label-free rankers and print their Kendall tau against the seed-mean validation accuracy."""
    import torch  # lazy: `archgen bench --help` and usage errors must not pay torch's import

    from archgen.bench import curves as bench  # lazy: torch-heavy, and only this command needs it
    from archgen.context import Paths, workspace  # lazy: the workspace imports torch; `--help` must not
    from archgen.curves import build

    torch.set_num_threads(1)
    out = (out or Path(f"curves-{task}.npz")).resolve()
    base = (work or out.with_name(out.stem + "-work")).resolve()
    paths = _ctx.settings().paths
    limit = None if limit_minutes is None else 60 * limit_minutes

    def say(m: str) -> None:
        typer.echo(m, err=True)

    if task in build.CURVE_TASKS:  # a built-in task: its images and home beside the table
        if epochs is not None:
            raise BenchInputError(f"--epochs is for a task of yours; {task!r} has its recipe's schedule")
        ws = workspace(Paths.of(paths.data_dir, paths.cache_dir, base / "home"))
        p = build.build_curve_task(ws, task, out, base, cells=cells, c10_top=c10_top, top=top, seeds=seeds, seed=seed,
                                   workers=workers, limit_seconds=limit, say=say).progress()  # fmt: skip
    else:  # a task of the user's (an unknown name fails before any work, naming the built-in ones too)
        from archgen.services.curve_tables import build_curve_table, check_curve_table  # lazy: as above

        ws = _ctx.workspace()
        if task not in ws.tasks:
            raise BenchInputError(f"unknown curve task {task!r}: a built-in one ({', '.join(build.CURVE_TASKS)}) or a "
                                  f"registered task ({', '.join(ws.tasks.names()) or 'none yet: archgen tasks add'})")  # fmt: skip
        params = build.CurveTableParams(task=task, cells=cells, c10_top=c10_top, top=top, seeds=seeds, seed=seed,
                                        workers=workers, **({} if epochs is None else {"epochs": epochs}))  # fmt: skip
        check_curve_table(params, ws, _ctx.settings().job_memory_bytes)  # the job's checks, then its build
        done = build_curve_table(params, ws, base, out=out, limit_seconds=limit, say=say)
        p = {k: done[k] for k in ("trainings", "cells_with_one", "cells_with_two", "cells")}
    text = f"{p['trainings']} trainings of {p['cells']} cells ({p['cells_with_two']} with two seeds); wrote {out}"
    doc: dict = p | {"table": str(out)}
    if rankers:
        table = bench.rank(ws, out, say=say)
        doc["tau"] = bench.ranker_tau(table)
        text += "\n\n| ranker (no label of the task) | tau, all cells | tau, top 10% |\n|---|---|---|\n" + "\n".join(
            f"| {k} | {v['all']} | {v['top10']} |" for k, v in doc["tau"].items())  # fmt: skip
    _emit(doc, as_json, text)


def bench_replay(
    tasks: Annotated[
        list[str] | None, typer.Option("--task", help="A task whose table is TABLES_DIR/curves-TASK.npz (repeat).")
    ] = None,
    tables: Annotated[list[Path] | None, typer.Option("--table", help="A curve table file (repeat).")] = None,
    tables_dir: Annotated[
        Path, typer.Option("--tables-dir", help="Where --task finds tables (the committed ones by default).")
    ] = Path("benchmarks/results"),
    methods: Annotated[str | None, typer.Option("--methods", help="Comma-separated (default: all).")] = None,
    budgets: Annotated[str, typer.Option("--budgets", help="In full trainings, comma-separated.")] = "5,10,25,50",
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=200, help="Search seeds per budget.")] = 20,
    first_seed: Annotated[
        int, typer.Option("--first-seed", min=0, max=10**6, help="The first search seed (design on other seeds).")
    ] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Simulated parallel workers.")] = 1,
    out: Annotated[Path | None, typer.Option("--out", help="Results JSON (and a PNG per task beside it).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay every search method against each table with simulated time: budgets in full-training equivalents
    (the table's median cost of one training), each returned cell scored by the table's seed-mean test accuracy."""
    from archgen.bench import replay as bench  # lazy: optuna and the search stack; `--help` must not pay them

    names = bench.check_methods(methods)
    levels = bench.parse_budgets(budgets)
    paths = [*(tables or []), *(tables_dir / f"curves-{t}.npz" for t in tasks or [])]
    if not paths:
        raise typer.BadParameter("give --task TASK or --table FILE (the tables of `archgen bench curves`)")
    doc = bench.run([bench.load_table(p) for p in paths], names, levels, seeds, workers=workers, first_seed=first_seed)
    if out is not None:
        bench.write(doc, out)
    _emit(doc["summary"], as_json, bench.format_summary(doc) + (f"\nwrote {out}" if out else ""))
