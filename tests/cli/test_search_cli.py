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
    assert res["best"]["fidelity"] == "1ep" and 5 <= res["spent_seconds"] <= 7  # the budget is a cap
    final = res["result"]["final"]
    runs = ckpt.parent / "history.runs"  # the trainings beside the checkpoint
    assert (
        final["epochs"] == 2 and Path(final["model"]).is_file() and Path(final["model"]).parent.parent == runs / "final"
    )
    assert json.loads(out)["runs"] == str(runs) and list((runs / "runs").iterdir())
    code, out, _ = cli(capsys, *args)  # finished: replayed, nothing trained again
    assert code == 0 and f"best: validation {res['best']['value']:.2f}% (selected by), test " in out
    assert "final (2 epochs): validation " in out


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
        (["--evaluator", "trainig", "--budget-minutes", "5"], "--evaluator: Input should be"),
        (["--budget-minutes", "5", "--checkpoint", "/nonexistent-folder/h.json"], "--checkpoint: folder"),
        (["--budget-minutes", "0.0001", "--schedule", "C=16"], "budget too small to train one cell"),
    ],
)
def test_training_search_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, err = cli(capsys, "--home", str(tmp_path), "search", "--evaluator", "training", *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_a_cli_search_whose_prior_cannot_score_within_its_share_still_returns_its_best(
    ws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A fresh task and a small budget: the prior's scoring stops at its share (a tenth) and the search goes on
    with what it had (the published columns alone), ending with a best cell and no traceback (the bug: the pool
    took the whole budget and the CLI crashed on a search with no best)."""
    from tests.tasks.folders import image_folder

    home = ["--home", str(tmp_path / "home")]
    code, _, err = cli(capsys, *home, "tasks", "add", "fresh-pets", "--images", str(image_folder(ws, tmp_path / "p")))
    assert code == 0, err
    args = [*home, "--data-dir", str(ws.paths.data_dir), "--cache-dir", str(ws.paths.cache_dir), "search", "--task",
            "fresh-pets", "--evaluator",
            "training", "--budget-minutes", "0.15", "--fidelities", "1x32,1", "--schedule",
            "C=4,N=1,resolution=8,batch_size=16", "--json"]  # fmt: skip
    code, out, err = cli(capsys, *args)
    assert code == 0 and "Traceback" not in err, err
    res = json.loads(out)["search"]
    scoring = res["result"]["prior_scoring"]
    assert scoring["seconds"] <= scoring["share_seconds"] + 1.0 and scoring["note"]
    assert res["best"] is not None and res["spent_seconds"] <= 9.0 + 1.0


def test_ctrl_c_stops_a_training_search_within_seconds_checkpointed_and_the_same_command_resumes(
    ws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """SIGINT while long trainings run: exit 130 within 5 s with one line naming the checkpoint, the trainings in
    flight checkpointed; without a terminal, progress lines on stderr; run again, it resumes and finishes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.tasks.folders import image_folder

    base = ["--data-dir", str(ws.paths.data_dir), "--cache-dir", str(ws.paths.cache_dir), "--home", str(tmp_path / "h")]
    code, _, err = cli(capsys, *base, "tasks", "add", "int-pets", "--images", str(image_folder(ws, tmp_path / "p")))
    assert code == 0, err
    ckpt = tmp_path / "s.json"
    args = [sys.executable, "-m", "archgen.cli.main", *base, "search", "--task", "int-pets", "--evaluator", "training",
            "--budget-minutes", "0.5", "--prior", "none", "--fidelities", "300", "--schedule",
            "C=4,N=1,resolution=8,batch_size=16", "--batch-size", "2", "--checkpoint", str(ckpt)]  # fmt: skip
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    runs = tmp_path / "s.runs" / "runs"
    deadline = time.monotonic() + 120
    while not (runs.is_dir() and list(runs.glob("*/checkpoint.npz"))):  # inside the first trainings
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - t0 < 5.0, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: interrupted (Ctrl-C); the search")
    assert str(ckpt) in err and list(runs.glob("*/checkpoint.npz"))
    done = subprocess.run([*args[:-2], "--checkpoint", str(ckpt), "--budget-minutes", "0.5"], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "best:" in done.stdout and "] " in done.stderr  # progress lines without a terminal
