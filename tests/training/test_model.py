"""A trained model a user can load: the card beside the weights (classes in order, input size, normalisation,
the network's arguments), loading, classifying image files as the training saw its images, the ONNX export
agreeing with PyTorch, and corrupt files refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from archgen.datasets.images import ImageArrayDataset
from archgen.errors import ArtifactError
from archgen.tasks.store import scan_folder
from archgen.training.data import prepare_images
from archgen.training.model import MODEL_CARD, MODEL_WEIGHTS, export_onnx, load_model
from archgen.training.trainer import TrainingParams, train_architecture
from tests.tasks.folders import image_folder

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
TASK = "model-pets"


@pytest.fixture(scope="module")
def trained(ws, tmp_path_factory: pytest.TempPathFactory):
    folder = image_folder(ws, tmp_path_factory.mktemp("f") / "pets", classes=("ship", "cat", "dog"), per_class=20)
    if TASK not in ws.tasks:
        ws.tasks.add(TASK, folder, image_size=16)
    work = tmp_path_factory.mktemp("run")
    res = train_architecture(TrainingParams(arch=ARCH, task=TASK, epochs=3, batch_size=16, C=4, N=1, resolution=8),
                             ws, work)  # fmt: skip
    return folder, work, res


def test_the_model_carries_what_a_user_needs_to_use_it(ws, trained) -> None:
    _folder, work, res = trained
    card = json.loads((work / MODEL_CARD).read_text())
    rec = ws.tasks.record(TASK)
    assert card["classes"] == rec.classes == ["cat", "dog", "ship"]  # label order: the sorted folders
    assert card["image_size"] == 16 and card["resolution"] == 8 and len(card["mean"]) == len(card["std"]) == 3
    assert card["network"]["num_classes"] == 3 and card["network"]["C"] == 4 and card["network"]["N"] == 1
    assert card["accuracy"]["heldout_acc"] == pytest.approx(res["test_acc"])
    assert res["model"] == MODEL_WEIGHTS and (work / MODEL_WEIGHTS).is_file()


def test_the_loaded_model_classifies_image_files_as_the_training_saw_them(ws, trained) -> None:
    folder, work, res = trained
    model = load_model(work / MODEL_WEIGHTS)  # the file alone carries the card
    _, images, _ = scan_folder(folder, 10_000)
    files = [p for _, p in images]
    out = model.predict_files(files)
    arrays, labels, val, test = ws.tasks.arrays(TASK)
    ds = ImageArrayDataset(arrays, labels, model.card.classes, model.card.mean, model.card.std)
    expect = model.logits(prepare_images(ds, 8)[0]).argmax(1).numpy()
    assert [o["class"] for o in out] == [model.card.classes[k] for k in expect]
    acc = 100.0 * np.mean([model.card.classes.index(out[i]["class"]) == labels[i] for i in np.flatnonzero(val)])
    assert acc == pytest.approx(res["val_acc"])  # the validation accuracy, recomputed from the image files
    test_acc = 100.0 * np.mean([model.card.classes.index(out[i]["class"]) == labels[i] for i in np.flatnonzero(test)])
    assert test.any() and res["heldout_acc"] == res["val_acc"] and test_acc == pytest.approx(res["test_acc"])
    assert all(abs(sum(o["probabilities"].values()) - 1) < 1e-5 for o in out)


def test_the_onnx_export_agrees_with_pytorch_on_every_heldout_image(ws, trained, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    _, work, _ = trained
    model = load_model(work)
    path = export_onnx(model, tmp_path / "model.onnx")
    arrays, _labels, val, _test = ws.tasks.arrays(TASK)
    x = model.preprocess(arrays[val])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_logits = sess.run(None, {"images": x.numpy()})[0]
    torch_logits = model.logits(x).numpy()
    assert (onnx_logits.argmax(1) == torch_logits.argmax(1)).all()
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)


def test_corrupt_or_foreign_files_are_refused_naming_the_problem(trained, tmp_path) -> None:
    _, work, _ = trained
    with pytest.raises(ArtifactError, match="no model"):
        load_model(tmp_path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((work / MODEL_WEIGHTS).read_bytes()[:100])
    with pytest.raises(ArtifactError, match="not a readable safetensors"):
        load_model(bad)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ArtifactError, match="no archgen model card"):
        load_model(tmp_path / "plain.safetensors")
