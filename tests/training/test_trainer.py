"""The training evaluator's loop: weights and provenance, resume after a kill, errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from archgen.errors import InvalidArchitectureError, UnknownNameError
from archgen.spaces.nb201_network import NB201Network
from archgen.training.checkpoint import CheckpointError
from archgen.training.trainer import TrainingInputError, TrainingParams, load_weights, task_images, train_architecture

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
TINY = {"epochs": 2, "batch_size": 32, "C": 4, "N": 1, "resolution": 8, "train_images": 320}


def test_training_keeps_weights_that_reproduce_its_accuracy(ws, tmp_path) -> None:
    from archgen.spaces import get_space
    from archgen.training.data import prepare_images

    res = train_architecture(TrainingParams(arch=ARCH, **TINY), ws, tmp_path)
    assert 0 <= res["test_acc"] <= 100 and res["test_images"] == 10_000 and 300 <= res["train_images"] <= 340
    weights = tmp_path / res["weights"]
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == res["weights_sha256"]
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert prov["request"]["arch"] == ARCH and prov["weights_sha256"] == res["weights_sha256"]
    assert not (tmp_path / "checkpoint.npz").exists()
    net = NB201Network(get_space("nb201").parse(ARCH).ops, 10, C=4, N=1)
    net.load_state_dict(load_weights(weights))
    net.eval()
    x, y = prepare_images(task_images(ws, "cifar10")[1], 8)
    with torch.no_grad():
        acc = 100.0 * float((net(x).argmax(1) == y).float().mean())
    assert acc == pytest.approx(res["test_acc"], abs=1e-6)


def test_a_killed_training_resumes_to_the_uninterrupted_result(ws, tmp_path) -> None:
    params = TrainingParams(arch=ARCH, **TINY)
    whole = train_architecture(params, ws, tmp_path / "whole")

    class Stop(Exception):
        pass

    def stop(fraction: float, _m: str) -> None:
        if fraction >= 0.5:
            raise Stop

    with pytest.raises(Stop):
        train_architecture(params, ws, tmp_path / "killed", on_progress=stop, checkpoint_every=0.0)
    assert (tmp_path / "killed" / "checkpoint.npz").is_file()
    with pytest.raises(CheckpointError, match="another run"):
        train_architecture(params.model_copy(update={"lr": 0.05}), ws, tmp_path / "killed")
    resumed = train_architecture(params, ws, tmp_path / "killed")
    assert resumed["test_acc"] == whole["test_acc"]
    a, b = load_weights(tmp_path / "whole" / "weights.npz"), load_weights(tmp_path / "killed" / "weights.npz")
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def test_bad_requests_name_the_problem(ws, tmp_path) -> None:
    with pytest.raises(UnknownNameError, match="mnist"):
        train_architecture(TrainingParams(arch=ARCH, task="mnist", **TINY), ws, tmp_path)
    with pytest.raises(InvalidArchitectureError):
        train_architecture(TrainingParams(arch="|conv~0|", **TINY), ws, tmp_path)
    with pytest.raises(TrainingInputError, match="larger than the"):
        train_architecture(TrainingParams(arch=ARCH, **TINY | {"batch_size": 4000}), ws, tmp_path)
    with pytest.raises(ValueError):
        TrainingParams(arch=ARCH, epochs=0)
    assert not any(tmp_path.iterdir()), "nothing is written for a refused request"
    assert np.isfinite(TrainingParams(arch=ARCH).lr)


def test_a_run_stopped_at_an_epoch_continues_to_the_uninterrupted_result_and_records_its_curve(ws, tmp_path) -> None:
    params = TrainingParams(arch=ARCH, **TINY)
    whole = train_architecture(params, ws, tmp_path / "whole", curve=True)
    part = train_architecture(params, ws, tmp_path / "staged", stop_epoch=1)
    assert part["partial"] and part["epochs_done"] == 1 and len(part["curve"]) == 1
    assert not (tmp_path / "staged" / "weights.npz").exists() and (tmp_path / "staged" / "checkpoint.npz").is_file()
    assert part["curve"][0]["test_acc"] == whole["curve"][0]["test_acc"]  # epoch 1 of the same run
    again = train_architecture(params, ws, tmp_path / "staged", stop_epoch=1)  # paid already: read from the curve
    assert again["test_acc"] == part["test_acc"] and again["seconds"] == part["seconds"]  # no step trained again
    rest = train_architecture(params, ws, tmp_path / "staged")
    assert rest["weights_sha256"] == whole["weights_sha256"] and rest["test_acc"] == whole["test_acc"]
    assert [r["epoch"] for r in rest["curve"]] == [1, 2] and all(r["seconds"] > 0 for r in rest["curve"])
    assert rest["curve"][-1]["test_acc"] == pytest.approx(whole["test_acc"])
    assert rest["wall_seconds"] < whole["wall_seconds"] + part["wall_seconds"] + 5  # epoch 1 not trained twice
    with pytest.raises(TrainingInputError, match="stop_epoch"):
        train_architecture(params, ws, tmp_path / "x", stop_epoch=3)


def test_the_test_split_never_reaches_training_or_selection(ws, tmp_path) -> None:
    """Two tasks that differ only in their test images (another class's pictures under the same labels) train to
    the same weights and the same validation accuracy; only the reported test accuracy differs."""
    from tests.tasks.folders import image_folder

    base = image_folder(ws, tmp_path / "base", classes=("cat", "ship"), per_class=40)
    t1 = image_folder(ws, tmp_path / "t1", classes=("cat", "ship"), per_class=50)
    t2 = tmp_path / "t2"
    for c in ("cat", "ship"):  # the same file names, other pictures: frogs labelled cat, trucks labelled ship
        (t2 / c).mkdir(parents=True)
        for p, q in zip(sorted((t1 / c).iterdir()), sorted(image_folder(ws, tmp_path / f"o-{c}", classes=(
                "frog" if c == "cat" else "truck",), per_class=50).rglob("*.png")), strict=False):  # fmt: skip
            (t2 / c / p.name).write_bytes(q.read_bytes())
    ws.tasks.add("split-a", base, image_size=8, test_images=t1)
    ws.tasks.add("split-b", base, image_size=8, test_images=t2)
    try:
        kw = {"epochs": 2, "batch_size": 16, "C": 4, "N": 1, "resolution": 8}
        a = train_architecture(TrainingParams(arch=ARCH, task="split-a", **kw), ws, tmp_path / "a", curve=True)
        b = train_architecture(TrainingParams(arch=ARCH, task="split-b", **kw), ws, tmp_path / "b", curve=True)
        assert a["weights_sha256"] == b["weights_sha256"]  # nothing of the test images reached training
        assert a["val_acc"] == b["val_acc"] == a["heldout_acc"]  # what selection reads is the validation figure
        assert a["test_images"] == b["test_images"] == 100 and a["heldout_split"] == "validation"
        assert a["test_acc"] != b["test_acc"]  # the test accuracy is measured on each task's own test images
        assert [r["val_acc"] for r in a["curve"]] == [r["val_acc"] for r in b["curve"]]
    finally:
        ws.tasks.remove("split-a")
        ws.tasks.remove("split-b")
