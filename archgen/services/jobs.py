"""The built-in job kinds: training predictors, generators, supernets and architectures; zero-cost scores;
generation; searches; registering an uploaded task; learning-curve tables of a task.

Each resumes from its checkpoint: a training job keeps every finished part of
its fit (the whole model, each stack or ensemble member) in its work directory
and a resumed run restores them instead of fitting again; a zero-cost job finds
the cells it had scored in the score cache and computes only the others.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from archgen.artifacts import ArtifactStore
from archgen.context import Workspace, owned_bytes, workspace
from archgen.curves.build import CurveTableParams
from archgen.errors import TaskError
from archgen.jobs.base import JobContext, JobFunction, JobInterrupted, LeaseLost
from archgen.jobs.store import SYSTEM_OWNER, JobStore
from archgen.paths import Paths
from archgen.predictors.zerocost import ZCSettings
from archgen.search.parallel import Workers
from archgen.services import predictors as predictors_service
from archgen.services import supernets as supernets_service
from archgen.services.curve_tables import TABLE_FILE, build_curve_table
from archgen.services.fit_monitor import JobFitMonitor
from archgen.services.generate import generate as run
from archgen.services.generate import space_generator
from archgen.services.inference import parse_batch
from archgen.services.inference import zero_cost as score
from archgen.services.predictors import TrainPredictorParams, model_id
from archgen.services.requests import GenerateRequest, ZeroCostRequest
from archgen.services.search import SearchParams, SearchPlan, check_search, execute_search, progress_message, report
from archgen.services.supernets import SUPERNET_CHECKPOINT, SupernetParams
from archgen.services.training_search import prune_search_files
from archgen.tasks.archive import extract_archive
from archgen.tasks.store import TEST_FRACTION
from archgen.training.trainer import CHECKPOINT, TrainingParams, train_architecture

log = logging.getLogger("archgen.jobs")


@dataclass(frozen=True)
class KindSpec:
    """A built-in job kind as :mod:`archgen.composition` registers it."""

    name: str
    description: str
    params: type[BaseModel]
    run: JobFunction
    max_runtime_s: float | None = None
    keeps_files: bool | Callable[[Path], None] = False


#: The built-in job kinds, in the order they are declared below (registered by :mod:`archgen.composition`).
BUILTIN_KINDS: list[KindSpec] = []


def _kind(
    name: str,
    description: str,
    params: type[BaseModel],
    *,
    max_runtime_s: float | None = None,
    keeps_files: bool | Callable[[Path], None] = False,
) -> Callable[[JobFunction], JobFunction]:
    def deco(fn: JobFunction) -> JobFunction:
        BUILTIN_KINDS.append(KindSpec(name, description, params, fn, max_runtime_s, keeps_files))
        return fn

    return deco


@_kind(
    "train_predictor",
    "Fit a predictor on a benchmark table, score it on held-out cells, store it",
    TrainPredictorParams,
)
def train_predictor(params: TrainPredictorParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.services.predictors.train_predictor` with the job's progress and checkpoints.

    The model id is ``params.model_id`` or derived from the job id (the same on every attempt).
    """
    paths = ctx.settings.paths
    if params.model_id is None:
        mid = model_id(params.kind, params.space, params.task, params.n_train, params.seed, ctx.job_id[:8])
        params = params.model_copy(update={"model_id": mid})
    parts = ctx.workdir / "parts"
    monitor = JobFitMonitor(ctx, parts)
    _, record = predictors_service.train_predictor(params, _data(ctx), ArtifactStore(paths.model_dir), monitor=monitor)
    shutil.rmtree(parts, ignore_errors=True)
    log.info(
        "job %s: stored %s (held-out Kendall tau %.3f, fit %.1f s)",
        ctx.job_id,
        record.id,
        record.heldout.get("kendall_tau", float("nan")),
        record.heldout.get("fit_s", float("nan")),
        extra={"job_id": ctx.job_id, "job_kind": "train_predictor"},
    )
    return {"model_id": record.id, "model": record.summary(), "resumed": ctx.resumed}


def _data(ctx: JobContext) -> Workspace:
    """The job's workspace: its key's view (the key's own tasks and supernets; the service's jobs: the whole)."""
    owner = ctx.job.owner
    return workspace(ctx.settings.paths).for_owner(None if owner == SYSTEM_OWNER else owner)


@_kind("zero_cost", "Compute zero-cost proxies of architectures on a task's images", ZeroCostRequest)
def zero_cost(params: ZeroCostRequest, ctx: JobContext) -> dict[str, Any]:
    """Score the architectures; every computed cell goes to the score cache before progress is reported."""
    data = _data(ctx)
    space = data.space(params.space)
    batch = parse_batch(space, params.architectures, len(params.architectures))
    zc = ZCSettings(batch_size=params.batch_size, C=params.width, seed=params.seed)

    def on_cell(finished: int, cells: int, computed: int) -> None:
        ctx.checkpoint({"cells_scored": finished}, finished / cells, f"{finished}/{cells} cells scored")

    return asdict(score(data, batch, params.task, params.proxies, zc, on_cell=on_cell))


class TrainGeneratorParams(BaseModel):
    """Parameters of a ``train_generator`` job: a space's diffusion generator (the service's, on first need)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field(min_length=1, max_length=64)
    epochs: int = Field(200, ge=1, le=2000)
    seed: int = Field(0, ge=0, le=2**31 - 1)


@_kind("train_generator", "Train a space's diffusion generator on its architectures, store it", TrainGeneratorParams)
def train_generator(params: TrainGeneratorParams, ctx: JobContext) -> dict[str, Any]:
    """Train (or find, when another job trained it meanwhile) the space's generator; progress by epoch."""
    paths = ctx.settings.paths
    _, gid = space_generator(
        workspace(paths),
        ArtifactStore(paths.model_dir),
        params.space,
        epochs=params.epochs,
        steps=1,
        seed=params.seed,
        on_progress=ctx.progress,
    )
    return {"generator_id": gid}


@_kind("generate", "Generate architectures for a task with the diffusion generator", GenerateRequest)
def generate(params: GenerateRequest, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.services.generate.generate`; a resumed run draws the same architectures (seeded)."""
    paths = ctx.settings.paths
    result = run(
        params,
        _data(ctx),
        ArtifactStore(paths.model_dir),
        generator_epochs=ctx.settings.generator_epochs,
        quick_epochs=ctx.settings.quick_generator_epochs or None,  # the service's full generator trains meanwhile
        on_progress=ctx.progress,
    )
    return result.summary()


@_kind(
    "search",
    "Search a benchmark table for the best architecture (BO and baselines)",
    SearchParams,
    keeps_files=prune_search_files,
)  # a failed or cancelled search's history so far is still served, and its best training's model
def search(params: SearchParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.services.search.execute_search`; the history (``history.json`` in the job's work
    directory) is written after every batch and a resumed run replays it, so it ends as an uninterrupted one."""
    data = _data(ctx)
    path = ctx.workdir / SEARCH_HISTORY

    def on_batch(h: Any) -> None:
        if h.fidelities:  # a training search: its budget is measured seconds
            ctx.checkpoint({"evaluations": len(h.evaluations)}, h.spent() / h.budget, progress_message(h))
            return
        best = h.best()
        msg = f"{len(h.evaluations)}/{h.budget} evaluations" + ("" if best is None else f", best {best.value:.3f}")
        ctx.checkpoint({"evaluations": len(h.evaluations)}, len(h.evaluations) / h.budget, msg)

    s = ctx.settings
    request: SearchParams | SearchPlan = params
    n = s.search_workers
    if params.evaluator == "training":  # as many trainings at once as the job has threads, each with its share
        request = check_search(params, data, max_memory=s.job_memory_bytes, parallel=s.trainings_at_once)
        n = s.trainings_at_once
        if s.worker_backend != "thread":  # a worker process of its own: its threads shared among the trainings
            torch.set_num_threads(max(1, s.threads_per_job // n))
    with Workers(n, ray_address=s.search_ray_address) as workers:
        h = execute_search(
            request, data, checkpoint=path, on_batch=on_batch, workers=workers, generator_epochs=s.generator_epochs,
            # the generator's training (before the first evaluation: progress 0), or a training search's pool
            # scoring (0) and final training (1: the budget is spent)
            on_progress=lambda f, m: ctx.progress(f if params.evaluator == "training" else 0.0, m), check=ctx.check,
        )  # fmt: skip
    out = report(h, limit=0)
    out.pop("history")
    return out | {"resumed": ctx.resumed}


#: File of a search job's history in its work directory.
SEARCH_HISTORY = "history.json"


@_kind("train", "Train one architecture from scratch on a task's images; keep its weights", TrainingParams)
def train(params: TrainingParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.training.trainer.train_architecture` in the job's work directory: its checkpoint makes a
    resumed run continue where the last one stopped; the weights stay there for download."""
    resumed = ctx.resumed or (ctx.workdir / CHECKPOINT).is_file()
    result = train_architecture(params, _data(ctx), ctx.workdir, on_progress=ctx.progress)
    return result | {"resumed": resumed}


#: An upload's file name (:func:`upload_name`).
UPLOAD_NAME = r"^[0-9a-f]{32}-[0-9a-f]{16}\.archive$"


def upload_name(sha256: str, owner: str, name: str) -> str:
    """The file name of an uploaded archive: its content's digest and a tag of who registers it under which name."""
    tag = hashlib.sha256(f"{owner}\0{name}".encode()).hexdigest()[:16]
    return f"{sha256[:32]}-{tag}.archive"


class AddTaskParams(BaseModel):
    """Parameters of an ``add_task`` job: register an uploaded archive of a labelled image folder.

    Attributes:
        name: The task's name.
        upload: The archive's file name in :attr:`Paths.upload_dir` (written by ``POST /v1/tasks``: the
            archive's SHA-256 and a tag of the key and name, so an identical repeat names the same file; removed
            when the job ends, unless it is interrupted to resume). Never a path: job params are shown to users.
        upload_sha256: The archive's SHA-256 (recorded as the task's source; a resumed job that finds the task
            registered from this archive returns it).
        filename: The archive's name as the client gave it (recorded).
        image_size, val_fraction, test_fraction, seed: See :meth:`archgen.tasks.store.TaskStore.add`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=48)
    upload: str = Field(pattern=UPLOAD_NAME)
    upload_sha256: str = Field(min_length=64, max_length=64)
    filename: str | None = Field(None, max_length=255)
    image_size: int = Field(32, ge=8, le=256)
    val_fraction: float = Field(0.2, ge=0.05, le=0.5)
    test_fraction: float = Field(TEST_FRACTION, ge=0.0, le=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1)


def release_inputs(paths: Paths, kind: str, params: dict[str, Any]) -> None:
    """Remove the files a job of ``kind`` was given to read, once it will never run (cancelled while queued)."""
    if kind == "add_task" and isinstance(params.get("upload"), str) and re.match(UPLOAD_NAME, params["upload"]):
        (paths.upload_dir / params["upload"]).unlink(missing_ok=True)


def sweep_uploads(paths: Paths, jobs: JobStore) -> list[str]:
    """At start-up: remove uploads that no queued or running ``add_task`` job reads (the server died while one
    was received, or a job ended without removing its upload), and partial uploads. Returns the names removed."""
    d = paths.upload_dir
    if not d.is_dir():
        return []
    keep = {j.params.get("upload") for j in jobs.open_of(None, "add_task")}
    removed = []
    for p in d.iterdir():
        if p.is_file() and p.name not in keep:
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


@_kind("add_task", "Unpack and validate an uploaded image folder; register it as a task", AddTaskParams)
def add_task(params: AddTaskParams, ctx: JobContext) -> dict[str, Any]:
    """Unpack the archive in the job's work directory (limits: ``task_max_unpacked_bytes``, ``task_max_images``),
    validate and decode the folder, register it; the archive and the unpacked files are removed afterwards."""
    s = ctx.settings
    data = _data(ctx)
    upload = s.paths.upload_dir / params.upload
    source = f"upload:{params.filename or 'archive'}:sha256:{params.upload_sha256}"
    if params.name in data.tasks:
        rec = data.tasks.record(params.name)
        if rec.source == source:  # registered by an earlier attempt of this job
            upload.unlink(missing_ok=True)
            return {"task": rec.summary(), "resumed": ctx.resumed}
    if not upload.is_file():
        raise TaskError("the uploaded archive is gone (the server was restarted mid-upload?): upload it again")
    # from here on the upload is removed however the job ends, unless it is interrupted to resume

    unpacked = ctx.workdir / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    data.tasks.max_images, data.tasks.max_pixels = s.task_max_images, s.task_max_image_pixels
    data.tasks.max_decoded_bytes = s.task_max_decoded_bytes

    def on_image(done: int, total: int) -> None:
        ctx.progress(0.05 + 0.9 * done / total, f"{done}/{total} images decoded")

    keep = False
    try:
        if data.owner is not None:  # the key's quota: what is left of it bounds the decoded images too
            if len(data.tasks.names()) >= s.key_max_tasks:
                raise TaskError(f"this key has {s.key_max_tasks} tasks, its quota (ARCHGEN_KEY_MAX_TASKS): delete one")
            left = s.key_max_stored_bytes - owned_bytes(data)
            data.tasks.max_decoded_bytes = max(0, min(s.task_max_decoded_bytes, left))
        ctx.progress(0.0, "unpacking")
        root = extract_archive(upload, unpacked, max_bytes=s.task_max_unpacked_bytes,
                               max_members=s.task_max_images + 1000)  # fmt: skip
        rec = data.tasks.add(params.name, root, image_size=params.image_size, val_fraction=params.val_fraction,
                             test_fraction=params.test_fraction, seed=params.seed, source=source, label="the archive", on_image=on_image)  # fmt: skip
    except (JobInterrupted, LeaseLost):
        keep = True  # the job resumes (here or in another worker) and needs its upload
        raise
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
        if not keep:  # registered, refused, cancelled or failed: the upload is never needed again
            upload.unlink(missing_ok=True)
    log.info("job %s: registered task %s (%d images, %d classes)", ctx.job_id, rec.name, rec.train + rec.validation,
             rec.num_classes, extra={"job_id": ctx.job_id, "job_kind": "add_task"})  # fmt: skip
    return {"task": rec.summary(), "resumed": ctx.resumed}


@_kind(
    "curve_table",
    "Train every candidate cell of a task on its final schedule with 2-3 seeds: its learning-curve table",
    CurveTableParams,
    keeps_files=True,
)  # a cancelled or failed build's table so far is still served
def curve_table(params: CurveTableParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.services.curve_tables.build_curve_table` in the job's work directory: the table there
    is rewritten after every training, so a resumed run continues it."""
    resumed = ctx.resumed or (ctx.workdir / TABLE_FILE).is_file()
    return build_curve_table(params, _data(ctx), ctx.workdir, on_progress=ctx.progress, check=ctx.check) | {
        "resumed": resumed
    }


@_kind("train_supernet", "Train a weight-sharing supernet on a task's images; store it", SupernetParams)
def train_supernet(params: SupernetParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.services.supernets.train_supernet` in the job's work directory (its checkpoint makes a
    resumed run continue where the last one stopped); the store id is ``params.model_id`` or derived from the job."""

    data = _data(ctx)
    mid = params.model_id or params.default_id(ctx.job_id[:8])
    resumed = ctx.resumed or (ctx.workdir / SUPERNET_CHECKPOINT).is_file()
    if mid in data.owned.ids():  # stored by an earlier attempt of this job
        rec, resumed = data.owned.record(mid), True
    else:  # in the key's own store: its tasks' predictions use it, no one else's
        rec = supernets_service.train_supernet(
            params, data, data.owned, ctx.workdir, model_id=mid, on_progress=ctx.progress
        )
    return {"supernet_id": rec.id, "supernet": rec.summary(), "resumed": resumed}
