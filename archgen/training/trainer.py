"""Train one architecture from scratch on a task's images: the training evaluator's loop.

:class:`TrainingParams` is the request (validated at the edge: CLI, HTTP, job);
:func:`train_architecture` runs it: the NB201 network of the cell
(:class:`~archgen.spaces.nb201_network.NB201Network`), SGD with Nesterov
momentum and cosine annealing, random crops and flips; by default NB201's
schedule (Dong & Yang, ICLR 2020: 200 epochs, batch 256, lr 0.1, weight decay
5e-4, C = 16, N = 5, 32x32 images), on the first CUDA GPU when one is present,
else on the CPU. Its work directory holds a checkpoint
(written every ``checkpoint_every`` seconds and at each epoch's end; a
resumed run continues from it and ends as an uninterrupted one with the same
seed would) and, at the end, ``weights.npz`` (the state dict, no pickle) and
``provenance.json`` (architecture, task, parameters, images' checksum,
versions, accuracy, the weights' SHA-256).

Tasks: ``cifar10`` (the 50,000 training images; accuracy on the 10,000 test
images), ``cifar10-valid`` (a stratified half of the training images; accuracy
on the other half, as NB201's ``cifar10-valid``) and registered user tasks (their
training split; accuracy on their validation split, which selection uses, and on
their test split, reported beside it and never selected by):
:func:`archgen.tasks.task_images`. The result names each figure: ``val_acc``,
``test_acc`` (``None`` with ``test_note`` saying why where a task has no test
split), and ``heldout_acc``, the one measured on what a search selects by.

A run can stop at an epoch of its schedule (``stop_epoch``) and continue later
from that checkpoint: the fidelity of a multi-fidelity search is the epochs of
the final schedule, so a promoted cell pays only its new epochs. Such a run (and
one asked for ``curve``) records after every epoch the validation and test
accuracy and the epoch's seconds (its steps and its validation pass; the test
pass is not charged): the learning curve.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from archgen.errors import TrainingInputError
from archgen.rng import init_parameters_, torch_generator
from archgen.spaces import get_space
from archgen.spaces.nb201_network import NB201Network, count_parameters
from archgen.tasks.images import check_image_task, heldout_image_count, train_image_count
from archgen.tasks.images import task_images as resolve
from archgen.training.checkpoint import load_checkpoint, save_checkpoint
from archgen.training.data import augment, auto_device, cosine_lr, prepare_images
from archgen.training.memory import training_memory
from archgen.training.model import MODEL_WEIGHTS, ModelCard, save_model

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.datasets.images import ImageArrayDataset

#: Built-in tasks with images the training evaluator can train on (and every registered user task).
TRAINING_TASKS = ("cifar10", "cifar10-valid")
#: Files a finished training leaves in its work directory.
WEIGHTS = "weights.npz"
PROVENANCE = "provenance.json"
CHECKPOINT = "checkpoint.npz"


class TrainingParams(BaseModel):
    """One training run.

    Attributes:
        arch: The NB201 cell, e.g. ``|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|...|``.
        task: ``cifar10``, ``cifar10-valid`` or a registered user task (module docstring).
        epochs, batch_size, lr, momentum, weight_decay: The schedule (NB201's by default).
        C, N: Width of the first stage and cells per stage (NB201: 16, 5).
        resolution: Image side (32: CIFAR's own).
        augment: Random crops (padding 4) and horizontal flips.
        train_images: Train on this many of the task's training images (a stratified subset; default all).
        seed: Initial weights, batch order and augmentation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: str = Field(min_length=1, max_length=512)
    task: str = Field("cifar10", min_length=1, max_length=64)
    epochs: int = Field(200, ge=1, le=1000)
    batch_size: int = Field(256, ge=1, le=4096)
    lr: float = Field(0.1, gt=0, le=10)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0, le=1)
    C: int = Field(16, ge=1, le=128)
    N: int = Field(5, ge=1, le=10)
    resolution: int = Field(32, ge=8, le=64)
    augment: bool = True
    train_images: int | None = Field(None, ge=1, le=1_000_000)
    seed: int = Field(0, ge=0, le=2**31 - 1)


def check_training_request(params: TrainingParams, data: Workspace, max_memory: int) -> None:
    """Everything a training request can be checked for from itself and stored metadata, in milliseconds: the
    task, the cell, the batch against the task's images, and the memory estimate of all the parameters together
    (:mod:`archgen.training.memory`) against ``max_memory`` bytes.

    Raises:
        UnknownNameError: a task without images.
        InvalidArchitectureError: not an NB201 cell.
        TrainingInputError: naming the parameters and the bound.
    """
    check_image_task(data, params.task, "task with images to train on")
    get_space("nb201").parse(params.arch)
    n = train_image_count(data, params.task)
    if params.train_images is not None:
        n = min(n, params.train_images)
    if params.batch_size > n:
        raise TrainingInputError(f"batch_size ({params.batch_size}) is larger than the {n} training images")
    est = training_memory(batch_size=params.batch_size, C=params.C, N=params.N, resolution=params.resolution,
                          images=n + heldout_image_count(data, params.task))  # fmt: skip
    if (over := est.over(max_memory)) is not None:
        raise TrainingInputError(
            f"batch_size {params.batch_size}, C {params.C}, N {params.N} and resolution {params.resolution} with "
            f"{n} training images {over}: lower batch_size, C, N, resolution or train_images"
        )


def task_images(
    data: Workspace, task: str, train_images: int | None = None
) -> tuple[ImageArrayDataset, ImageArrayDataset]:
    """``(train, test)`` images of a training task (module docstring; :func:`archgen.tasks.task_images`).

    Raises:
        UnknownNameError: a task without images here (listing those with).
    """
    check_image_task(data, task, "task with images to train on")
    ti = resolve(data, task)
    if train_images is None or train_images >= len(ti.train):
        return ti.train, ti.heldout
    key = ("training-images", ti.key, task, train_images)
    return data.memo(key, lambda: (ti.train.split(train_images / len(ti.train), seed=1)[1], ti.heldout))  # type: ignore[no-any-return]


def _evaluate(net: Any, x: Any, y: Any, batch: int = 1000) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((net(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    net.train()
    return 100.0 * correct / max(len(x), 1)


def accuracies(heldout: float, heldout_split: str, test: float | None, test_note: str | None) -> dict[str, Any]:
    """A result's accuracy fields (module docstring), each named for the split it was measured on."""
    return {
        "heldout_acc": heldout,
        "heldout_split": heldout_split,
        "val_acc": heldout if heldout_split == "validation" else None,
        "test_acc": heldout if heldout_split == "test" else test,
    } | ({"test_note": test_note} if test_note else {})


def curve_result(curve: list[dict[str, Any]], epoch: int) -> dict[str, Any] | None:
    """The row of ``curve`` (a result's learning curve) at ``epoch`` (``None``: not recorded)."""
    return next((r for r in curve if r["epoch"] == epoch), None)


def train_architecture(
    params: TrainingParams,
    data: Workspace,
    workdir: Path,
    *,
    on_progress: Callable[[float, str], None] | None = None,
    checkpoint_every: float = 60.0,
    report_every: float = 1.0,
    stop_epoch: int | None = None,
    curve: bool = False,
) -> dict[str, Any]:
    """Train ``params.arch`` on ``params.task`` (resuming from ``workdir``'s checkpoint); returns the result.

    ``on_progress(fraction, message)`` follows the steps, every ``report_every`` seconds (it may raise to stop: the
    checkpoint is written first).
    The result holds the accuracies (:func:`accuracies`), the final training loss, seconds (of the training steps,
    over every resumed part), wall seconds (the steps' and this call's set-up and test), the parameter count and the
    weights' file name and SHA-256; ``workdir`` keeps ``weights.npz`` and ``provenance.json``.

    ``stop_epoch`` (< ``params.epochs``): train to the end of that epoch of the schedule and stop there, checkpointed
    (the result has ``partial: true``; no weights); a later call continues from it. ``curve`` (implied by
    ``stop_epoch``): the result's ``curve`` lists per epoch ``{epoch, val_acc, test_acc, seconds}``.

    Raises:
        UnknownNameError: unknown task.
        InvalidArchitectureError: ``arch`` is not an NB201 cell.
        CheckpointError: ``workdir`` holds the checkpoint of another run.
    """
    called = time.monotonic()
    arch = get_space("nb201").parse(params.arch)  # InvalidArchitectureError names the problem
    train, test = task_images(data, params.task, params.train_images)
    if len(train) < params.batch_size:
        raise TrainingInputError(f"batch_size ({params.batch_size}) is larger than the {len(train)} training images")
    if stop_epoch is not None and not 1 <= stop_epoch <= params.epochs:
        raise TrainingInputError(f"stop_epoch must be in 1..{params.epochs} (the schedule's epochs), got {stop_epoch}")
    ti = resolve(data, params.task)
    curve = curve or stop_epoch is not None
    stop = params.epochs if stop_epoch is None else stop_epoch
    workdir.mkdir(parents=True, exist_ok=True)
    x, y = prepare_images(train, params.resolution)
    xt, yt = prepare_images(test, params.resolution)
    xs, ys = prepare_images(ti.test, params.resolution) if ti.test is not None else (None, None)
    net = NB201Network(arch.ops, len(train.classes), C=params.C, N=params.N)
    init_parameters_(net, torch_generator(params.seed))  # on the CPU: the same weights on any device
    device = auto_device()  # the first CUDA GPU when one is present
    net.to(device)
    x, y, xt, yt = x.to(device), y.to(device), xt.to(device), yt.to(device)
    if xs is not None and ys is not None:
        xs, ys = xs.to(device), ys.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay,
                          nesterov=params.momentum > 0)  # fmt: skip
    rng = np.random.default_rng(params.seed)
    gen = torch_generator(params.seed + 1)
    steps_per_epoch = max(1, len(x) // params.batch_size)
    total = params.epochs * steps_per_epoch
    stop_step = stop * steps_per_epoch
    step, seconds, loss_sum, loss_n = 0, 0.0, 0.0, 0
    rows: list[dict[str, Any]] = []  # the learning curve
    epoch_start = 0.0  # ``seconds`` when the current epoch started
    order = rng.permutation(len(x))
    ckpt = workdir / CHECKPOINT
    images_sha = hashlib.sha256(np.ascontiguousarray(train.images[:: max(1, len(train) // 997)]).tobytes()).hexdigest()
    expect = {"params": params.model_dump(mode="json"), "images": images_sha}
    if ckpt.is_file():
        meta = load_checkpoint(ckpt, net, opt, expect)
        step, seconds = int(meta["step"]), float(meta["seconds"])
        rows, epoch_start = list(meta.get("curve", [])), float(meta.get("epoch_start", seconds))
        curve = curve or bool(rows)  # a run that records its curve goes on recording it
        rng.bit_generator.state = meta["rng"]
        gen.set_state(torch.tensor(meta["gen"], dtype=torch.uint8))
        order = np.asarray(meta["order"], dtype=np.int64)

    def save() -> None:
        save_checkpoint(ckpt, net, opt, expect | {"step": step, "seconds": seconds, "rng": rng.bit_generator.state,
                                                  "gen": gen.get_state().tolist(), "order": order.tolist(),
                                                  "curve": rows, "epoch_start": epoch_start})  # fmt: skip

    started, last_save, last_report = time.monotonic(), time.monotonic(), 0.0
    base, excluded = seconds, 0.0  # excluded: this call's test passes (not charged)
    net.train()
    if step > stop_step:  # asked for an epoch this run has passed: its curve answers
        row = curve_result(rows, stop)
        if row is None:
            raise TrainingInputError(f"run in {workdir} is past epoch {stop} and recorded no learning curve")
        return _partial(params, arch, ti, row, rows, 0.0, time.monotonic() - called, net)
    try:
        while step < stop_step:
            k = step % steps_per_epoch
            if k == 0 and step > 0:
                order = rng.permutation(len(x))
            idx = torch.from_numpy(order[k * params.batch_size : (k + 1) * params.batch_size]).to(device)
            xb = augment(x[idx], gen, 4 * params.resolution // 32) if params.augment else x[idx]
            for g in opt.param_groups:
                g["lr"] = cosine_lr(params.lr, step, total)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xb), y[idx])
            loss.backward()
            opt.step()
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            step += 1
            now = time.monotonic()
            seconds = base + now - started - excluded
            if curve and step % steps_per_epoch == 0:
                v = _evaluate(net, xt, yt)
                t_test = time.monotonic()
                t = _evaluate(net, xs, ys) if xs is not None else None
                now = time.monotonic()
                excluded += now - t_test
                seconds = base + now - started - excluded
                rows.append({"epoch": step // steps_per_epoch, **accuracies(v, ti.heldout_split, t, None),
                             "seconds": seconds - epoch_start})  # fmt: skip
                epoch_start = seconds
            if now - last_save >= checkpoint_every or step % steps_per_epoch == 0:
                save()
                last_save = now
            if on_progress is not None and (now - last_report >= report_every or step == total):
                last_report = now
                on_progress(step / total, f"epoch {step // steps_per_epoch + (step % steps_per_epoch > 0)}/"
                            f"{params.epochs}, step {step}/{total}, loss {loss_sum / loss_n:.3f}")  # fmt: skip
                loss_sum, loss_n = 0.0, 0
    except BaseException:
        save()
        raise
    if stop_step < total:
        row = curve_result(rows, stop)
        if row is None:  # a checkpoint written before learning curves were recorded
            raise TrainingInputError(f"run in {workdir} recorded no learning curve at epoch {stop}: remove it")
        return _partial(params, arch, ti, row, rows, seconds, base + time.monotonic() - called - excluded, net)
    acc = _evaluate(net, xt, yt)
    test_acc = _evaluate(net, xs, ys) if xs is not None else None
    state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    weights = workdir / WEIGHTS
    tmp = workdir / (WEIGHTS + ".tmp.npz")
    np.savez(tmp, **state)
    tmp.replace(weights)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    card = ModelCard(get_space("nb201").format(arch), len(train.classes), params.C, params.N, list(train.classes),
                     int(train.images.shape[1]), params.resolution, train.mean, train.std, params.task, params.epochs,
                     {k: v for k, v in accuracies(acc, ti.heldout_split, test_acc, None).items()
                      if isinstance(v, float)})  # fmt: skip
    save_model(net, card, workdir)
    result = {
        "arch": get_space("nb201").format(arch), "task": params.task, **accuracies(acc, ti.heldout_split, test_acc,
        ti.test_note), "epochs": params.epochs, "steps": total, "seconds": seconds, "params": count_parameters(net),
        "train_images": len(x), "heldout_images": len(xt), "test_images": len(xs) if xs is not None else len(xt) if ti.heldout_split == "test" else 0,
        "weights": WEIGHTS, "weights_sha256": sha, "model": MODEL_WEIGHTS,
        "wall_seconds": base + time.monotonic() - called - excluded,
    } | ({"curve": rows} if curve else {})  # fmt: skip
    prov = result | {"request": params.model_dump(mode="json"), "images_sha256_sample": images_sha,
                     "versions": {"torch": torch.__version__, "numpy": np.__version__}, "device": str(device),
                     "format": "numpy .npz of NB201Network(ops, num_classes, C, N).state_dict(), no pickle"}  # fmt: skip
    (workdir / PROVENANCE).write_text(json.dumps(prov, indent=1))
    ckpt.unlink(missing_ok=True)
    return result


def _partial(params: TrainingParams, arch: Any, ti: Any, row: dict[str, Any], rows: list[dict[str, Any]],
             seconds: float, wall: float, net: Any) -> dict[str, Any]:  # fmt: skip
    """The result of a run stopped at ``row["epoch"]`` of its schedule (no weights: its checkpoint continues it)."""
    return {
        "arch": get_space("nb201").format(arch), "task": params.task,
        **accuracies(row["heldout_acc"], ti.heldout_split, row["test_acc"], ti.test_note),
        "epochs": params.epochs, "epochs_done": row["epoch"], "partial": True, "seconds": seconds,
        "params": count_parameters(net), "wall_seconds": wall, "curve": rows,
    }  # fmt: skip


def load_weights(path: Path) -> dict[str, Any]:
    """A saved ``weights.npz`` as a torch state dict (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: torch.from_numpy(z[k]) for k in z.files}


__all__ = [
    "TRAINING_TASKS",
    "TrainingInputError",
    "TrainingParams",
    "accuracies",
    "curve_result",
    "load_weights",
    "task_images",
    "train_architecture",
]
