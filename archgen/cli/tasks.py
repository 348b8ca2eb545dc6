"""``archgen tasks add|list|show|remove``: user tasks (labelled image folders); ``archgen supernets train|list``;
``archgen bench new-task``: a trained ground truth on a new task and the label-free rankers against it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit, bench_app, build, fraction_bar
from archgen.errors import SupernetInputError

tasks_app = typer.Typer(help="User tasks: a labelled image folder (DIR/<class>/*.jpg|png) registered under a name.",
                        no_args_is_help=True)  # fmt: skip
supernets_app = typer.Typer(help="Weight-sharing supernets of tasks (trained once, stored, then scoring).",
                            no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``tasks`` and ``supernets`` groups."""
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(supernets_app, name="supernets")
    bench_app.command("new-task")(bench_new_task)


def bench_new_task(
    task_kind: Annotated[str, typer.Option("--task", help="The new task: cifar5-32 or gray4-16.")] = "gray4-16",
    out: Annotated[Path, typer.Option("--out", help="The results file (JSON; resumed when it exists).")] = Path(
        "new-task.json"
    ),
    work: Annotated[
        Path | None,
        typer.Option("--work", help="The task's images, home and every run's checkpoint (default: beside --out)."),
    ] = None,
    cells: Annotated[int, typer.Option("--cells", min=10, max=5000, help="Random cells trained once.")] = 150,
    top: Annotated[int, typer.Option("--top", min=0, max=5000, help="Best of them retrained with --seeds.")] = 15,
    c10_top: Annotated[
        int, typer.Option("--c10-top", min=0, max=100, help="CIFAR-10's best published cells trained with --seeds.")
    ] = 5,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=10, help="Training seeds of the retrained cells.")] = 3,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the random cells.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Trainings at once (1 thread each).")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Make a new task from CIFAR-10 images (a class subset; gray4-16: grayscale, 16x16, fewer images), train
    CELLS random NB201 cells on it with a short schedule, retrain the best and CIFAR-10's best published cells
    with SEEDS seeds, and print Kendall tau of every label-free ranker (table columns, zero-cost proxies on the
    task's images, their vote, the task's prior) against the trained accuracies. Rerunning resumes."""
    import torch  # lazy: `archgen tasks --help` and usage errors must not pay torch's import

    from archgen.bench import new_task as bench  # lazy: torch-heavy, and only this command needs it
    from archgen.context import Paths, workspace  # lazy: the workspace imports torch; `--help` must not

    torch.set_num_threads(1)
    bench.recipe_of(task_kind)  # an unknown task fails before any work
    out = out.resolve()
    base = (work or out.with_name(out.stem + "-work")).resolve()
    paths = _ctx.settings().paths
    ws = workspace(Paths.of(paths.data_dir, paths.cache_dir, base / "home"))
    doc = bench.run(ws, task_kind, out, base, cells=cells, top=top, c10_top=c10_top, seeds=seeds, seed=seed,
                    workers=workers, say=lambda m: typer.echo(m, err=True))  # fmt: skip
    _emit(doc["summary"], as_json, bench.format_summary(doc) + f"\nwrote {out}")


@tasks_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The task's name: lower-case letters, digits, '-' and '_'.")],
    images: Annotated[Path, typer.Option("--images", help="The folder: one sub-folder of images per class.")],
    image_size: Annotated[int, typer.Option("--image-size", help="Side the images are resized to.")] = 32,
    val_fraction: Annotated[
        float, typer.Option("--val-fraction", help="Fraction of each class held out for validation (selection).")
    ] = 0.2,
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", help="Fraction of each class held out as the test split (0: none).")
    ] = 0.2,
    test_images: Annotated[
        Path | None, typer.Option("--test-images", help="A test folder of the same classes (instead of a fraction).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the split.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Validate IMAGES (class folders, readable images, at least two classes of at least five images), decode it,
    record its checksum and a stratified train/validation/test split (or TEST_IMAGES as the test split), and
    register it as task NAME. Selection uses validation; test accuracy is reported beside it, never selected by."""
    store = _ctx.workspace().tasks
    store.max_images = _ctx.settings().task_max_images
    with fraction_bar("decoding", as_json) as progress:
        rec = store.add(name, images, image_size=image_size, val_fraction=val_fraction, seed=seed,
                        test_fraction=test_fraction, test_images=test_images,
                        on_image=lambda d, t: progress(d / t, ""))  # fmt: skip
    text = (f"task {rec.name}: {rec.num_classes} classes, {rec.train} training, {rec.validation} validation and "
            f"{rec.test} test images ({rec.image_size}x{rec.image_size}); sha256 {rec.source_sha256[:16]}...\nshared read-only with "
            "every API key of a service on this home (listed, usable by name, deletable only here)")  # fmt: skip
    if rec.skipped:  # files in the class folders that are not images: said here, not only by `tasks show`
        more = f" and {len(rec.skipped) - 5} more" if len(rec.skipped) > 5 else ""
        text += f"\nskipped {len(rec.skipped)} files that are not images: {', '.join(rec.skipped[:5])}{more}"
    _emit(rec.summary() | {"skipped_files": rec.skipped}, as_json, text)


@tasks_app.command("list")
def list_tasks(as_json: JsonOpt = False) -> None:
    """Registered user tasks."""
    recs = _ctx.workspace().tasks.records()
    lines = [f"{r.name}: {r.num_classes} classes, {r.train}+{r.validation}+{r.test} images (train+validation+test), "
             f"from {r.source}" for r in recs]  # fmt: skip
    _emit(
        [r.summary() for r in recs], as_json, "\n".join(lines) or "no user tasks (archgen tasks add NAME --images DIR)"
    )


@tasks_app.command("show")
def show(name: str, as_json: JsonOpt = False) -> None:
    """One task's record: classes, counts, split, checksums."""
    rec = _ctx.workspace().tasks.record(name)
    d = rec.summary()
    _emit(d, as_json, "\n".join(f"{k}: {v}" for k, v in d.items()))


@tasks_app.command("remove")
def remove(name: str) -> None:
    """Delete task NAME (its images; stored supernets stay until deleted)."""
    _ctx.workspace().tasks.remove(name)
    typer.echo(f"removed task {name}")


@supernets_app.command("train")
def train(
    task: Annotated[str, typer.Option("--task", help="cifar10, cifar10-valid or a user task.")],
    minutes: Annotated[float, typer.Option("--minutes", help="Wall-time budget.")] = 30.0,
    epochs: Annotated[int, typer.Option("--epochs", help="Length of the cosine schedule (cut by --minutes).")] = 300,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 128,
    width: Annotated[int, typer.Option("--width", help="C: width of the first stage.")] = 8,
    depth: Annotated[int, typer.Option("--depth", help="N: cells per stage.")] = 1,
    resolution: Annotated[int, typer.Option("--resolution")] = 16,
    sampling: Annotated[str, typer.Option("--sampling", help="uniform (SPOS) or fair (FairNAS).")] = "uniform",
    calib_batches: Annotated[
        int, typer.Option("--calib-batches", help="Batch-norm recalibration batches per path.")
    ] = 4,
    eval_images: Annotated[int, typer.Option("--eval-images", help="Held-out images each path is scored on.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    model_id: Annotated[str | None, typer.Option("--id", help="Store id (default: derived from the request).")] = None,
    workdir: Annotated[Path, typer.Option("--workdir", help="Checkpoint directory (a rerun resumes).")] = Path(
        "archgen-supernet"
    ),
    threads: Annotated[int | None, typer.Option("--threads", min=1, max=256)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train TASK's supernet (progress bar; a checkpoint in --workdir resumes an interrupted run) and store it."""
    import torch  # lazy: `archgen supernets --help` and usage errors must not pay torch's import

    from archgen.services.supernets import SupernetParams, train_supernet  # lazy: imports torch, as above

    params = build(
        SupernetParams,
        SupernetInputError,
        {"C": "width", "N": "depth"},
        task=task,
        minutes=minutes,
        epochs=epochs,
        batch_size=batch_size,
        C=width,
        N=depth,
        resolution=resolution,
        sampling=sampling,
        calib_batches=calib_batches,
        eval_images=eval_images,
        seed=seed,
        model_id=model_id,
    )
    if threads is not None:
        torch.set_num_threads(threads)
    ws = _ctx.workspace()
    with fraction_bar("training", as_json) as progress:
        rec = train_supernet(
            params, ws, ws.owned, workdir, model_id=params.model_id or params.default_id(), on_progress=progress
        )
    h = rec.heldout
    _emit(rec.summary(), as_json, f"stored supernet {rec.id} for {rec.task}: {h['steps']}/{h['scheduled_steps']} steps "
          f"in {h['train_seconds']:.0f} s")  # fmt: skip


@supernets_app.command("list")
def list_supernets(task: Annotated[str | None, typer.Option("--task")] = None, as_json: JsonOpt = False) -> None:
    """Stored supernets (of --task), newest first."""
    from archgen.services.supernets import supernet_records  # lazy: imports torch; `--help` must not

    recs = supernet_records(_ctx.models(), task)
    lines = [f"{r.id}: {r.task}, {r.heldout.get('steps')} steps, {r.heldout.get('train_seconds', 0):.0f} s, {r.created}"
             for r in recs]  # fmt: skip
    _emit([r.summary() for r in recs], as_json, "\n".join(lines) or "no stored supernets")
