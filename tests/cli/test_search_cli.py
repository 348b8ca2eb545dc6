"""``archgen search`` and ``archgen bench search`` on the NB201 table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from archgen.search import SearchHistory
from tests.cli.test_predictors_cli import cli


def test_search_ends_with_the_best_architecture_and_resumes_from_its_checkpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ckpt = tmp_path / "s.json"
    args = ["--home", str(tmp_path), "search", "--strategy", "re", "--budget", "24", "--batch-size", "3", "--seed", "4"]
    code, out, err = cli(capsys, *args, "--checkpoint", str(ckpt), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert len(res["evaluations"]) == 24 and res["oracle"] == "table:nb201/cifar10-valid/val_acc@200ep"
    assert res["best_value"] == max(e["value"] for e in res["evaluations"])
    assert SearchHistory.load(ckpt).finished
    code, out, _ = cli(capsys, *args, "--checkpoint", str(ckpt), "--json")  # a finished checkpoint: replayed
    assert code == 0 and json.loads(out)["best"] == res["best"]
    code, out, _ = cli(capsys, *args)
    assert code == 0 and res["best"] in out and "best" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--budget", "0"], "--budget: Input should be greater than or equal to 1"),
        (["--budget", "4", "--batch-size", "5"], "batch_size"),
        (["--strategy", "magic"], "unknown search strategy 'magic'"),
        (["--strategy", "mobo", "--minimize", "latency", "--device", "abacus"], "device with published latency"),
        (["--strategy", "bo", "--minimize", "params"], "optimises one objective"),
        (["--prior", "oracle"], "--prior"),
        (["--strategy", "robot"], "needs prior='zero-cost'"),
        (["--strategy", "mobo", "--minimize", "params", "--reference", "90,x"], "--reference takes two numbers"),
        (["--strategy", "mobo", "--minimize", "params", "--reference", "90,1,2"], "--reference"),
        (["--ray-address", "ray://127.0.0.1:1", "--budget", "4"], "cannot reach the Ray cluster"),
        (["--task", "mnist"], "'mnist'"),
        (["--metric", "speed"], "speed"),
    ],
)
def test_search_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, err = cli(capsys, "--home", str(tmp_path), "search", *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_bench_search_prints_the_table_and_writes_curves(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = cli(
        capsys, "--home", str(tmp_path), "bench", "search", "--strategies", "random,ls", "--budget", "12",
        "--seeds", "2", "--first-seed", "0", "--metric", "test_acc", "--out", str(out_dir),
    )  # fmt: skip
    assert code == 0, err
    assert "oracle cifar10/test_acc" in out and "RI %" in out
    with (out_dir / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["strategy"] for r in rows] == ["random", "ls"] and all(0 <= float(r["reached"]) <= 1 for r in rows)
    runs = json.loads((out_dir / "runs.json").read_text())["runs"]
    assert len(runs) == 4 and all(len(r["curve"]) == 12 for r in runs) and (out_dir / "regret.png").stat().st_size > 0
    code, _, err = cli(capsys, "--home", str(tmp_path), "bench", "search", "--strategies", "bo,nope")
    assert code == 2 and "unknown strategy 'nope'" in err
    code, _, err = cli(capsys, "--home", str(tmp_path), "bench", "search", "--strategies", "bo,re+generator")
    assert code == 2 and "only bo draws candidates from the generator" in err  # before the generator loads
    code, _, err = cli(capsys, "--home", str(tmp_path), "bench", "search", "--strategies", "bo+zero-cost+transfer")
    assert code == 2 and "prior" in err


def test_bench_search_multi_objective_reports_hypervolume(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "mo"
    args = ["--home", str(tmp_path), "bench", "search", "--strategies", "random,bo+zero-cost", "--budget", "8",
            "--seeds", "1", "--first-seed", "0", "--metric", "test_acc"]  # fmt: skip
    code, _, err = cli(capsys, *args, "--minimize", "latency", "--device", "pixel3")
    assert code == 2 and "optimises one objective" in err  # bo is one-objective: refused before any run
    code, out, err = cli(capsys, *args[:5], "random", *args[6:], "--minimize", "latency", "--device", "pixel3",
                         "--out", str(out_dir))  # fmt: skip
    assert code == 0, err
    assert "hypervolume / true front's" in out and "hv_median_at_10" not in out  # budget 8 < 10: no column at 10
    rows = json.loads((out_dir / "runs.json").read_text())["runs"]
    assert len(rows) == 1 and rows[0]["front_size"] >= 1
    code, _, err = cli(capsys, *args, "--minimize", "speed")
    assert code == 2 and "--minimize must be" in err


def test_a_training_search_on_a_user_task_prints_the_best_cell_and_its_weights(
    ws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.tasks.folders import image_folder

    home = ["--home", str(tmp_path / "home")]
    code, _, err = cli(capsys, *home, "tasks", "add", "pets", "--images", str(image_folder(ws, tmp_path / "pets")))
    assert code == 0, err
    ckpt = tmp_path / "search" / "history.json"
    ckpt.parent.mkdir()
    args = [*home, "search", "--task", "pets", "--evaluator", "training", "--budget-minutes", "0.1", "--prior", "none",
            "--fidelities", "1x32,1", "--schedule", "C=4,N=1,resolution=8,batch_size=16", "--final-epochs", "2",
            "--checkpoint", str(ckpt)]  # fmt: skip
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    res = json.loads(out)["search"]
    assert res["best"]["fidelity"] == "1ep" and res["spent_seconds"] >= 6
    final = res["result"]["final"]
    assert (
        final["epochs"] == 2
        and Path(final["weights"]).is_file()
        and Path(final["weights"]).parent.parent == ckpt.parent / "final"
    )
    code, out, _ = cli(capsys, *args)  # finished: replayed, nothing trained again
    assert code == 0 and f"best: {res['best']['value']:.2f}% at 1ep" in out and "final (2 epochs)" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--budget-minutes", "0"], "--budget-minutes: Input should be greater than 0"),
        (["--budget-minutes", "5", "--fidelities", "2x"], "--fidelities takes EPOCHS"),
        (["--budget-minutes", "5", "--fidelities", "2,x3"], "--fidelities takes EPOCHS"),
        (["--budget-minutes", "5", "--fidelities", "6,2"], "cheapest first"),
        (["--budget-minutes", "5", "--schedule", "C"], "--schedule takes KEY=VALUE"),
        (["--budget-minutes", "5", "--schedule", "width=3"], "--schedule: width: Extra inputs"),
        (["--budget-minutes", "5", "--task", "cifar100"], "task with images"),
        (["--budget-minutes", "5", "--budget", "10"], "not budget"),
        ([], "needs budget_minutes"),
    ],
)
def test_training_search_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, err = cli(capsys, "--home", str(tmp_path), "search", "--evaluator", "training", *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
