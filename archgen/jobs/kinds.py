"""The built-in job kinds: training a predictor, computing zero-cost scores.

Each resumes from its checkpoint: a training job keeps every finished part of
its fit (the whole model, each stack or ensemble member) in its work directory
and a resumed run restores them instead of fitting again; a zero-cost job finds
the cells it had scored in the score cache and computes only the others.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from archgen.generators.params import GenerateParams
from archgen.jobs.base import JobContext, register_job
from archgen.jobs.monitor import JobFitMonitor
from archgen.predictors.training import TrainPredictorParams
from archgen.search.service import SearchParams
from archgen.training.trainer import TrainingParams

log = logging.getLogger("archgen.jobs")


class ZeroCostParams(BaseModel):
    """Parameters of a ``zero_cost`` job (the HTTP route validates its request into this).

    Attributes:
        space, task: Search space and task with images.
        architectures: String forms of the cells to score.
        given: The architectures as the caller wrote them (echoed in the result); default ``architectures``.
        proxies: Proxy names.
        batch_size, width, seed: Mini-batch size, first-stage width, seed of batch and weights.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field(min_length=1, max_length=64)
    task: str = Field(min_length=1, max_length=64)
    architectures: list[str] = Field(min_length=1, max_length=100_000)
    given: list[str | int] | None = None
    proxies: list[str] = Field(min_length=1, max_length=32)
    batch_size: int = Field(64, ge=1, le=256)
    width: int = Field(16, ge=1, le=64)
    seed: int = Field(0, ge=0, le=2**31 - 1)


@register_job(
    "train_predictor",
    "Fit a predictor on a benchmark table, score it on held-out cells, store it",
    TrainPredictorParams,
)
def train_predictor(params: TrainPredictorParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.predictors.training.train_predictor` with the job's progress and checkpoints.

    The model id is ``params.model_id`` or derived from the job id (the same on every attempt).
    """
    from archgen.artifacts import ArtifactStore
    from archgen.context import workspace
    from archgen.predictors.training import model_id
    from archgen.predictors.training import train_predictor as train

    paths = ctx.settings.paths
    if params.model_id is None:
        mid = model_id(params.kind, params.space, params.task, params.n_train, params.seed, ctx.job_id[:8])
        params = params.model_copy(update={"model_id": mid})
    parts = ctx.workdir / "parts"
    monitor = JobFitMonitor(ctx, parts)
    _, record = train(params, workspace(paths), ArtifactStore(paths.model_dir), monitor=monitor)
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


@register_job("zero_cost", "Compute zero-cost proxies of architectures on a task's images", ZeroCostParams)
def zero_cost(params: ZeroCostParams, ctx: JobContext) -> dict[str, Any]:
    """Score the architectures; every computed cell goes to the score cache before progress is reported."""
    from archgen.context import workspace
    from archgen.inference import parse_batch
    from archgen.inference import zero_cost as score
    from archgen.predictors.zerocost import ZCSettings

    data = workspace(ctx.settings.paths)
    space = data.space(params.space)
    batch = parse_batch(space, params.architectures, len(params.architectures))
    if params.given is not None:
        if len(params.given) != len(params.architectures):
            raise ValueError("given must have one entry per architecture")
        batch = replace(batch, given=tuple(params.given))
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


@register_job(
    "train_generator", "Train a space's diffusion generator on its architectures, store it", TrainGeneratorParams
)
def train_generator(params: TrainGeneratorParams, ctx: JobContext) -> dict[str, Any]:
    """Train (or find, when another job trained it meanwhile) the space's generator; progress by epoch."""
    from archgen.artifacts import ArtifactStore
    from archgen.context import workspace
    from archgen.generators.pipeline import space_generator

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


@register_job("generate", "Generate architectures for a task with the diffusion generator", GenerateParams)
def generate(params: GenerateParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.generators.pipeline.generate`; a resumed run draws the same architectures (seeded)."""
    from archgen.artifacts import ArtifactStore
    from archgen.context import workspace
    from archgen.generators.pipeline import generate as run

    paths = ctx.settings.paths
    result = run(params, workspace(paths), ArtifactStore(paths.model_dir), on_progress=ctx.progress)
    return result.summary()


@register_job("search", "Search a benchmark table for the best architecture (BO and baselines)", SearchParams)
def search(params: SearchParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.search.service.execute_search`; the history (``history.json`` in the job's work
    directory) is written after every batch and a resumed run replays it, so it ends as an uninterrupted one."""
    from archgen.context import workspace
    from archgen.search.parallel import Workers
    from archgen.search.service import execute_search, report

    data = workspace(ctx.settings.paths)
    path = ctx.workdir / SEARCH_HISTORY

    def on_batch(h: Any) -> None:
        best = h.best()
        msg = f"{len(h.evaluations)}/{h.budget} evaluations" + ("" if best is None else f", best {best.value:.3f}")
        ctx.checkpoint({"evaluations": len(h.evaluations)}, len(h.evaluations) / h.budget, msg)

    s = ctx.settings
    with Workers(s.search_workers, ray_address=s.search_ray_address) as workers:
        h = execute_search(
            params, data, checkpoint=path, on_batch=on_batch, workers=workers, generator_epochs=s.generator_epochs,
            on_progress=lambda _f, m: ctx.progress(0.0, m),  # training the generator, before the first evaluation
        )  # fmt: skip
    out = report(h, limit=0)
    out.pop("history")
    return out | {"resumed": ctx.resumed}


#: File of a search job's history in its work directory.
SEARCH_HISTORY = "history.json"


@register_job("train", "Train one architecture from scratch on a task's images; keep its weights", TrainingParams)
def train(params: TrainingParams, ctx: JobContext) -> dict[str, Any]:
    """Run :func:`archgen.training.trainer.train_architecture` in the job's work directory: its checkpoint makes a
    resumed run continue where the last one stopped; the weights stay there for download."""
    from archgen.context import workspace
    from archgen.training.trainer import train_architecture

    result = train_architecture(params, workspace(ctx.settings.paths), ctx.workdir, on_progress=ctx.progress)
    return result | {"resumed": ctx.resumed}
