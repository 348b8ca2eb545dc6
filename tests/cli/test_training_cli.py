"""``archgen train``: trains, prints the accuracy and where the weights are; bad input exits 2 in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_predictors_cli import cli

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


def test_train_keeps_weights_and_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    args = ["--home", str(tmp_path), "train", ARCH, "--epochs", "1", "--batch-size", "32", "--width", "4", "--depth", "1",
            "--resolution", "8", "--train-images", "200", "--out", str(out_dir)]  # fmt: skip
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["arch"] == ARCH and 0 <= res["test_acc"] <= 100 and (out_dir / "weights.npz").is_file()
    for bad, text in ((["|bad|"], "invalid architecture"), ([ARCH, "--epochs", "0"], "--epochs"),
                      ([ARCH, "--task", "mnist"], "mnist"), ([ARCH, "--width", "0"], "--width")):  # fmt: skip
        code, _, err = cli(capsys, "--home", str(tmp_path), "train", *bad, "--out", str(tmp_path / "x"))
        assert code == 2 and text in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_the_trained_model_classifies_images_and_exports_to_onnx_from_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ws
) -> None:
    """``archgen train`` leaves a model (model.safetensors with its card); ``archgen predict-images --model DIR``
    classifies image files with it and ``archgen export-onnx`` writes an ONNX file beside it; bad models are one
    line, exit 2."""
    from tests.tasks.folders import image_folder

    folder = image_folder(ws, tmp_path / "imgs", classes=("cat", "ship"), per_class=5)
    out_dir = tmp_path / "run"
    code, _, err = cli(capsys, "--home", str(tmp_path), "train", ARCH, "--epochs", "1", "--batch-size", "32", "--width", "4",
                       "--depth", "1", "--resolution", "8", "--train-images", "200", "--out", str(out_dir))  # fmt: skip
    assert code == 0, err
    files = sorted(str(p) for p in folder.rglob("*.png"))
    code, out, err = cli(capsys, "predict-images", "--model", str(out_dir), *files, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert len(res["predictions"]) == len(files) and res["model"]["classes"][:2] == ["airplane", "automobile"]
    assert all(p["class"] in res["model"]["classes"] for p in res["predictions"])
    code, out, err = cli(capsys, "export-onnx", "--model", str(out_dir / "model.safetensors"), "--json")
    assert code == 0 and (out_dir / "model.onnx").is_file(), err
    for args, text in ((["predict-images", "--model", str(tmp_path), files[0]], "no model"),
                       (["predict-images", "--model", str(out_dir), str(tmp_path / "nope.png")], "no image file")):  # fmt: skip
        code, _, err = cli(capsys, *args)
        assert code == 2 and text in err and len(err.strip().splitlines()) == 1, err
