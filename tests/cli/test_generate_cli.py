"""``archgen generate``: trains the space's generator once, guides toward a task, meets a parameter budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_predictors_cli import cli

TINY = ["--epochs", "5", "--steps", "20", "--labelled", "40"]


def test_generate_guided_under_a_budget_then_reuses_the_stored_generator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = ["--home", str(tmp_path)]
    code, out, err = cli(capsys, *home, "generate", "-n", "6", "--max-params", "0.9", *TINY, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["guided"] and res["target"] == "cifar10-valid/val_acc" and len(res["items"]) == 6
    assert all(
        g["values"]["params"] <= 0.9 and g["measured"] is not None and g["predicted"] is not None for g in res["items"]
    )
    assert res["constraints"]["params"]["max"] == 0.9 and 0 < res["met_before_rejection"] <= 1
    assert res["validity"] == res["valid"] / res["drawn"] and 0 <= res["novelty"] <= 1
    assert res["valid"] <= res["drawn"] and (tmp_path / "models" / res["generator_id"]).is_dir()
    code, out, err = cli(capsys, *home, "generate", "-n", "3", "--guidance", "0", *TINY)
    assert code == 0 and "unguided" in out and len(out.strip().splitlines()) == 2 + 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-n", "0"], "--n: Input should be greater than or equal to 1"),
        (["--task", "mnist"], "unknown task of space 'nb201' 'mnist'"),
        (["--space", "nasbench_graph", "--task", "cora", "--max-flops", "1"], "publishes no FLOPs"),
        (["--guide-by", "zero-cost", "--task", "cifar100"], "images"),
        (["--guide-by", "psychic"], "--guide-by"),
        (["--space", "nb101", "--max-params", "1"], "500 cells only"),
        (["--max-params", "-1"], "--max-params"),
        (["--device", "pixel3"], "max_latency_ms and device go together"),
        (["--max-latency-ms", "5", "--device", "toaster"], "'toaster'"),
        (["--transfer-from", "cifar10-valid"], "may not name 'cifar10-valid'"),
        (["--transfer-from", "mnist"], "'mnist'"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, err = cli(capsys, "--home", str(tmp_path), "generate", *args, *TINY)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--part", "everything"], "--part must be one of quality"),
        (["--scales", "1,x"], "--scales must be numbers"),
        (["--scales", "-1"], "--scales must be numbers in [0, 1000]"),
        (["--space", "nb101"], "part quality; NB101: part nb101"),
        (["--tasks", "mnist"], "'mnist'"),
    ],
)
def test_bench_generator_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, err = cli(capsys, "--home", str(tmp_path), "bench", "generator", *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
