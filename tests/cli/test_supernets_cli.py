"""``archgen bench supernet``: a tiny run prints the tau table and writes its files; bad options exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_predictors_cli import cli


def test_bench_supernet_reports_tau_beside_label_free_baselines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "sn"
    code, out, err = cli(
        capsys, "--home", str(tmp_path), "bench", "supernet", "--minutes", "0.2", "--width", "4", "--resolution", "8",
        "--batch-size", "32", "--epochs", "1", "--cells", "30", "--top-cells", "10", "--points", "2", "--seed", "0",
        "--out", str(out_dir),
    )  # fmt: skip
    assert code == 0, err
    assert "tau random" in out and "cifar10/params (published)" in out and "zero-cost vote" in out
    runs = json.loads((out_dir / "runs.json").read_text())
    rows = runs["rows"]
    assert 1 <= len(rows) <= 2 and all(-1 <= r["tau_random"] <= 1 and r["archs_per_s"] > 0 for r in rows)
    assert rows[-1]["step"] >= rows[0]["step"] >= 1
    assert runs["meta"]["truth"].startswith("nb201 cifar10-valid/val_acc")
    assert (out_dir / "tau.png").stat().st_size > 0 and not (out_dir / "supernet-checkpoint.npz").exists()
    code, _, err = cli(capsys, "--home", str(tmp_path), "bench", "supernet", "--sampling", "magic")
    assert code == 2 and "unknown sampling 'magic'" in err and "Traceback" not in err
