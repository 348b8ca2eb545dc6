"""A task's supernet as a stored artifact: trained by a job, then scoring for every consumer of that task.

:class:`SupernetParams` is the request (``POST /v1/supernets``, ``archgen supernets train``, the
``train_supernet`` job); :func:`train_supernet` trains a :class:`~archgen.supernets.oneshot.OneShotSupernet` on
the task's training images (:func:`archgen.tasks.task_images`), with a checkpoint in the job's work directory (a
killed job resumes) and a wall-time budget, then stores it in the artifact store (type ``supernet``; the record
names the task, the images' key, the training seconds and whether the whole schedule ran).

:func:`task_supernet` loads the newest stored supernet of a task (or a named one) and
:func:`supernet_evaluator` wraps it as the :class:`~archgen.evaluators.supernet.SupernetEvaluator` that predictions,
guided generation and searches of a task without a table use: a path's accuracy on the task's held-out images
after batch-norm recalibration on its training images.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from archgen.artifacts import ARTIFACT_ID_PATTERN, ArtifactRecord
from archgen.errors import NoSupernetError, SupernetInputError
from archgen.evaluators.supernet import SupernetEvaluator
from archgen.supernets.oneshot import OneShotSupernet
from archgen.supernets.store import supernet_records, task_supernet
from archgen.tasks.images import check_image_task, task_images, train_image_count
from archgen.training.memory import training_memory

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.artifacts import ArtifactRecord, ArtifactStore
    from archgen.context import Workspace
    from archgen.evaluators.supernet import SupernetEvaluator
    from archgen.supernets.oneshot import OneShotSupernet

#: Checkpoint file of a supernet job in its work directory.
SUPERNET_CHECKPOINT = "supernet-checkpoint.npz"


class SupernetParams(BaseModel):
    """A supernet training request (validated at the edge).

    Attributes:
        task: A task with images (``cifar10``, ``cifar10-valid`` or a registered user task).
        minutes: Wall-time budget of the training (the cosine schedule of ``epochs`` is cut there).
        epochs, batch_size, lr: The schedule (one optimiser step per batch).
        C, N, resolution: Width, cells per stage and image side of the supernet.
        sampling: ``uniform`` (SPOS) or ``fair`` (FairNAS strict fairness).
        calib_batches, eval_images: Batch-norm recalibration batches and held-out images per scored path.
        seed: Weights, batches, paths.
        model_id: Store id (default: derived from the request and the job).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(min_length=1, max_length=64)
    minutes: float = Field(30.0, gt=0, le=24 * 60, allow_inf_nan=False)
    epochs: int = Field(300, ge=1, le=10_000)
    batch_size: int = Field(128, ge=2, le=2048)
    lr: float = Field(0.1, gt=0, le=10, allow_inf_nan=False)
    C: int = Field(8, ge=1, le=64)
    N: int = Field(1, ge=1, le=5)
    resolution: int = Field(16, ge=8, le=64)
    sampling: Literal["uniform", "fair"] = "uniform"
    calib_batches: int = Field(4, ge=1, le=64)
    eval_images: int = Field(1000, ge=10, le=100_000)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    model_id: str | None = Field(None, min_length=1, max_length=128, pattern=ARTIFACT_ID_PATTERN)

    def supernet(self) -> OneShotSupernet:
        return OneShotSupernet(
            C=self.C, N=self.N, resolution=self.resolution, epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, sampling=self.sampling, calib_batches=self.calib_batches, eval_images=self.eval_images,
            seed=self.seed,
        )  # fmt: skip

    def default_id(self, salt: str = "") -> str:
        body = json.dumps(self.model_dump(mode="json", exclude={"model_id"}), sort_keys=True) + salt
        return f"supernet-{self.task}-{hashlib.sha256(body.encode()).hexdigest()[:10]}"


def check_supernet_request(params: SupernetParams, data: Workspace, max_memory: int | None = None) -> None:
    """What can be checked in milliseconds: the task has images and enough of them for a batch and calibration;
    with ``max_memory``, the memory estimate of all the parameters together (:mod:`archgen.training.memory`).

    Raises:
        UnknownNameError: a task without images.
        SupernetInputError: too few training images, or over the memory bound (naming the parameters).
    """
    check_image_task(data, params.task, "task with images for a supernet")
    n = train_image_count(data, params.task)
    need = max(params.batch_size, params.calib_batches * params.batch_size)
    if n < need:
        raise SupernetInputError(
            f"task {params.task!r} has {n} training images; batch_size {params.batch_size} x calib_batches "
            f"{params.calib_batches} needs {need}: lower batch_size"
        )
    if max_memory is not None:
        est = training_memory(batch_size=params.batch_size, C=params.C, N=params.N, resolution=params.resolution,
                              images=n + params.eval_images, supernet=True)  # fmt: skip
        if (over := est.over(max_memory)) is not None:
            raise SupernetInputError(
                f"batch_size {params.batch_size}, C {params.C}, N {params.N}, resolution {params.resolution} and "
                f"eval_images {params.eval_images} with {n} training images {over}: lower them"
            )


def train_supernet(
    params: SupernetParams,
    data: Workspace,
    store: ArtifactStore,
    workdir: Path,
    *,
    model_id: str,
    on_progress: Callable[[float, str], None] | None = None,
) -> ArtifactRecord:
    """Train the supernet of ``params`` (resuming from ``workdir``'s checkpoint) and store it as ``model_id``.

    Raises:
        UnknownNameError / SupernetInputError: see :func:`check_supernet_request`.
        ArtifactError: ``model_id`` is taken.
    """
    check_supernet_request(params, data)
    ti = task_images(data, params.task)
    sn = params.supernet()
    workdir.mkdir(parents=True, exist_ok=True)
    sn.fit(ti.train, time_budget=60.0 * params.minutes, checkpoint=workdir / SUPERNET_CHECKPOINT,
           on_progress=on_progress)  # fmt: skip
    total = sn.total_steps(len(ti.train))
    record = ArtifactRecord(
        id=model_id, kind=sn.name, space=sn.space, task=params.task, target=[params.task, "supernet_acc"],
        params=sn.get_params(), seed=params.seed, train_archs=[],
        heldout={"train_seconds": sn.train_seconds_, "steps": sn.step_, "scheduled_steps": total,
                 "finished": sn.finished_, "train_images": len(ti.train), "heldout_images": len(ti.heldout),
                 "minutes": params.minutes, "device": str(sn.device_)},
        artifact_type="supernet", data_sources={"images": ti.key},
    )  # fmt: skip
    rec = store.save(sn, record)
    (workdir / SUPERNET_CHECKPOINT).unlink(missing_ok=True)
    return rec


@dataclass(frozen=True)
class SupernetPredictions:
    """:func:`supernet_predictions`' result.

    Attributes:
        record: The supernet's store record.
        heldout_images: Images each path was scored on.
        mean: Held-out accuracy (%) of each architecture's path.
        std: Binomial standard error of each measurement (%), or ``None`` without uncertainty.
    """

    record: ArtifactRecord
    heldout_images: int
    mean: list[float]
    std: list[float] | None


def supernet_predictions(
    data: Workspace, task: str, archs: list[Arch], *, model_id: str | None = None, uncertainty: bool = True
) -> SupernetPredictions:
    """What a task without a table predicts: each path's held-out accuracy through the task's newest supernet (or
    ``model_id``), with the binomial standard error of that measurement on the held-out images (its noise only,
    not the supernet's ranking error).

    Raises:
        NoSupernetError: the task has no stored supernet.
    """
    _, rec = task_supernet(data, task, model_id)  # the newest is looked up once; the evaluator gets its id
    ev = supernet_evaluator(data, task, rec.id)
    n = ev.heldout_size
    mean = [r.value for r in ev.evaluate(archs)]
    std = None
    if uncertainty:
        p = np.asarray(mean) / 100.0
        std = (100.0 * np.sqrt(np.maximum(p * (1 - p), 1.0 / n) / n)).tolist()
    return SupernetPredictions(rec, n, mean, std)


def supernet_evaluator(data: Workspace, task: str, model_id: str | None = None) -> SupernetEvaluator:
    """The task's supernet as a new evaluator (held-out accuracy of a path, %; its own query count); the prepared
    images and the computed values are shared by every evaluator of that supernet in the process."""
    sn, rec = task_supernet(data, task, model_id)
    ti = task_images(data, task)
    base = data.memo(("supernet-evaluator", rec.id, ti.key),
                     lambda: SupernetEvaluator(sn, ti.train, ti.heldout, source=rec.id))  # fmt: skip
    return SupernetEvaluator(shared=base)


__all__ = [
    "NoSupernetError",
    "SupernetParams",
    "SupernetPredictions",
    "check_supernet_request",
    "supernet_evaluator",
    "supernet_predictions",
    "supernet_records",
    "task_supernet",
    "train_supernet",
]
