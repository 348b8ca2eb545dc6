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
