"""The archgen command line, run as a user would (in-process via typer's runner and as a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archgen.cli.main import app

runner = CliRunner()


def run(*args: str, data_dir: Path, cache_dir: Path):
    return runner.invoke(app, ["--data-dir", str(data_dir), "--cache-dir", str(cache_dir), *args])


@pytest.mark.parametrize(
    "cmd",
    [[], ["data"], ["data", "verify"], ["data", "info"], ["space"], ["space", "list"], ["space", "sample"],
     ["space", "show"], ["space", "check-params"], ["generate"]],
)  # fmt: skip
def test_every_command_has_help(cmd: list[str]) -> None:
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_data_info_json_reports_published_bests(data_dir: Path, cache_dir: Path) -> None:
    result = run("data", "info", "--json", data_dir=data_dir, cache_dir=cache_dir)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)["spaces"]
    best = info["nb201"]["best"]
    assert best["cifar10/test_acc"]["value"] == pytest.approx(94.37, abs=0.005)
    assert best["cifar100/test_acc"]["value"] == pytest.approx(73.51, abs=0.005)
    assert best["ImageNet16-120/test_acc"]["value"] == pytest.approx(47.31, abs=0.005)
    assert best["cifar10-valid/val_acc"]["value"] == pytest.approx(91.61, abs=0.005)
    assert info["nb201"]["num_archs"] == 15625
    assert info["nasbench_graph"]["num_archs"] == 26206
    assert info["nb101"]["num_archs"] == 500


def test_space_sample_is_reproducible(data_dir: Path, cache_dir: Path) -> None:
    a = run("space", "sample", "nb201", "-n", "5", "--seed", "3", "--json", data_dir=data_dir, cache_dir=cache_dir)
    b = run("space", "sample", "nb201", "-n", "5", "--seed", "3", "--json", data_dir=data_dir, cache_dir=cache_dir)
    assert a.exit_code == 0 and a.output == b.output
    assert len(json.loads(a.output)["architectures"]) == 5


def test_space_show_by_index_and_string(data_dir: Path, cache_dir: Path) -> None:
    by_index = json.loads(
        run("space", "show", "nb201", "6111", "--json", data_dir=data_dir, cache_dir=cache_dir).output
    )
    text = by_index["architecture"]
    by_text = json.loads(run("space", "show", "nb201", text, "--json", data_dir=data_dir, cache_dir=cache_dir).output)
    assert by_text == by_index
    assert by_index["index"] == 6111
    assert by_index["metrics"]["cifar10"]["test_acc"] == pytest.approx(94.37, abs=0.005)
    assert by_index["canonical"] and by_index["naslib"]


def test_check_params_sample(data_dir: Path, cache_dir: Path) -> None:
    result = run(
        "space",
        "check-params",
        "nb201",
        "--sample",
        "25",
        "--workers",
        "1",
        "--json",
        data_dir=data_dir,
        cache_dir=cache_dir,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["checked"] == 25 and report["unexplained"] == 0 and report["ok"]
    assert report["matched"] + report["mismatched"] == 25


def _subprocess(*args: str, data_dir: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "archgen.cli.main", "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_bad_input_gives_one_line_error_and_exit_2(data_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    bad = _subprocess(
        "space",
        "show",
        "nb201",
        "|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|",
        data_dir=data_dir,
        cache_dir=cache_dir,
    )
    assert bad.returncode == 2
    assert "unknown operation 'bogus'" in bad.stderr and "position 18" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = _subprocess("space", "sample", "nb999", data_dir=data_dir, cache_dir=cache_dir)
    assert unknown.returncode == 2 and "nb201" in unknown.stderr
    missing = _subprocess("data", "info", data_dir=tmp_path / "nope", cache_dir=cache_dir)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    out_of_range = _subprocess("space", "show", "nb201", "15625", data_dir=data_dir, cache_dir=cache_dir)
    assert out_of_range.returncode == 2 and "0..15624" in out_of_range.stderr


def test_data_verify(data_dir: Path, cache_dir: Path) -> None:
    result = run("data", "verify", "--json", data_dir=data_dir, cache_dir=cache_dir)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["files"] == 36


@pytest.mark.parametrize(
    "argv",
    [["bogus"], ["space", "show"], ["data", "info", "--bogus"], ["predict", "1"], ["keys", "revoke"]],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from archgen.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
