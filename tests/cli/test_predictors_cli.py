"""The predictor commands, run through the console entry point as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archgen.cli.main import main

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``archgen ARGS`` in-process; returns exit status, stdout, stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "cmd",
    [["predictors", "train"], ["predictors", "list"], ["predictors", "show"], ["predictors", "kinds"], ["predict"],
     ["zc", "score"], ["bench", "predictors"], ["bench", "zc"]],
)  # fmt: skip
def test_help(cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *cmd, "--help")
    assert code == 0 and "Usage" in out


def test_train_list_predict_show_delete(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    code, out, err = cli(
        capsys, *home, "predictors", "train", "--space", "nb201", "--task", "cifar10", "--predictor", "lgbm",
        "--n-train", "60", "--seed", "1", "--param", "n_estimators=40", "--json",
    )  # fmt: skip
    assert code == 0, err
    rec = json.loads(out)
    assert rec["n_train"] == 60 and rec["params"]["n_estimators"] == 40 and rec["seed"] == 1
    assert rec["heldout"]["n"] == 15625 - 60 and rec["heldout"]["kendall_tau"] > 0.5
    code, out, _ = cli(capsys, *home, "predictors", "list", "--json")
    assert [m["id"] for m in json.loads(out)["models"]] == [rec["id"]]
    code, out, err = cli(capsys, *home, "predict", "--model", rec["id"], CELL, "6111", "--json")
    assert code == 0, err
    preds = json.loads(out)["predictions"]
    assert len(preds) == 2 and all(p["std"] > 0 and 60 < p["mean"] < 100 for p in preds)
    code, _, err = cli(capsys, *home, "predict", "--model", rec["id"], CELL, "|bad|")
    assert code == 2 and "position 1" in err and "Traceback" not in err
    code, _, err = cli(capsys, *home, "predict", "--model", "missing-model", CELL)
    assert code == 2 and "unknown model" in err and rec["id"] in err
    code, out, _ = cli(capsys, *home, "predictors", "show", rec["id"], "--json")
    assert json.loads(out)["artifact_sha256"] == rec["artifact_sha256"]
    code, _, _ = cli(capsys, *home, "predictors", "delete", rec["id"])
    assert code == 0


def test_train_rejects_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    code, _, err = cli(capsys, *home, "predictors", "train", "--predictor", "xgboost", "--n-train", "50")
    assert code == 2 and "unknown predictor 'xgboost'" in err and "lgbm" in err
    code, _, err = cli(capsys, *home, "predictors", "train", "--space", "nb999", "--predictor", "lgbm")
    assert code == 2 and "nb999" in err
    code, _, err = cli(capsys, *home, "predictors", "train", "--predictor", "lgbm", "--n-train", "3")
    assert code == 2 and "at least" in err
    code, _, err = cli(capsys, *home, "predictors", "train", "--predictor", "lgbm", "--param", 'n_estimators="x"')
    assert code == 2 and "params.n_estimators: must be an integer" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, *home, "predictors", "train", "--predictor", "lgbm", "--param", "n_bags=1000")
    assert code == 2 and "params.n_bags: must be in [1, 50]" in err and "Traceback" not in err


def test_zc_score_takes_proxies_then_architectures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        capsys, "zc", "score", "--space", "nb201", "--task", "cifar10", "--proxies", "synflow", "params",
        CELL, "6111", "--batch-size", "8", "--width", "4", "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["scores"]
    assert len(rows) == 2 and set(rows[0]) == {"architecture", "synflow", "params"}
    code, _, err = cli(capsys, "zc", "score", "--proxies", "all", "|nor_conv_3x3~0|")
    assert code == 2 and "position 0" in err


def test_bench_predictors_writes_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = cli(
        capsys, "bench", "predictors", "--space", "nb201", "--task", "cifar10", "--train-sizes", "30", "60",
        "--seeds", "2", "--predictors", "lgbm", "zc_vote", "--max-test", "300", "--features", "table",
        "--protocol", "heldout", "anchors", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "lgbm" in out and "zc_vote" in out and "anchors" in out
    for name in ("runs.jsonl", "runs.csv", "summary.csv", "summary.json", "tau.png"):
        assert (tmp_path / name).stat().st_size > 0
    summary = json.loads((tmp_path / "summary.json").read_text())["summary"]
    assert {(r["predictor"], r["n_train"], r["protocol"]) for r in summary} == {
        (p, n, proto) for p in ("lgbm", "zc_vote") for n in (30, 60) for proto in ("heldout", "anchors")
    }
    assert all(r["features"] == "table" and r["target"] == "cifar10-valid/val_acc" for r in summary)
    assert {r["eval_target"] for r in summary if r["protocol"] == "anchors"} == {"cifar10/test_acc"}
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert all(
        {"protocol", "features", "kendall_tau_strict", "coverage_1sigma_top5", "mae_top5", "over_max_top5"} <= set(r)
        for r in runs
    )
    code, _, err = cli(capsys, "bench", "predictors", "--features", "pixels", "--train-sizes", "30")
    assert code == 2 and "pixels" in err
    assert (
        len((tmp_path / "runs.jsonl").read_text().splitlines()) == 16
    )  # 2 predictors x 2 sizes x 2 draws x 2 protocols
