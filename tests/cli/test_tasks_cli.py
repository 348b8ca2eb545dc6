"""``archgen tasks`` and ``archgen supernets``: register, list, show, remove; train and list a task's supernet;
bad input exits 2 in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_predictors_cli import cli
from tests.tasks.folders import image_folder


def test_tasks_and_supernets_commands(ws, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = image_folder(ws, tmp_path / "pets", per_class=25)
    home = ["--home", str(tmp_path / "home")]
    code, out, err = cli(capsys, *home, "tasks", "add", "pets", "--images", str(folder), "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert (rec["train"], rec["validation"], rec["test"]) == (45, 15, 15)
    code, out, _ = cli(capsys, *home, "tasks", "list")
    assert code == 0 and out.startswith("pets: 3 classes, 45+15+15 images (train+validation+test)")
    code, out, _ = cli(capsys, *home, "tasks", "show", "pets", "--json")
    assert code == 0 and json.loads(out)["classes"] == ["cat", "dog", "ship"]
    code, out, err = cli(capsys, *home, "supernets", "train", "--task", "pets", "--minutes", "0.05", "--epochs", "2",
                         "--batch-size", "16", "--width", "4", "--resolution", "8", "--calib-batches", "2", "--workdir", str(tmp_path / "w"),
                         "--id", "sn-pets", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["id"] == "sn-pets"
    code, out, _ = cli(capsys, *home, "supernets", "list", "--task", "pets")
    assert code == 0 and out.startswith("sn-pets: pets")
    for bad, text in (
        (["tasks", "add", "pets", "--images", str(folder)], "exists already"),
        (["tasks", "add", "Pets", "--images", str(folder)], "invalid task name"),
        (["tasks", "add", "x", "--images", str(tmp_path / "none")], "does not exist"),
        (["tasks", "add", "x", "--images", str(folder / "cat")], "outside class folders"),
        (["tasks", "show", "nope"], "nope"),
        (["supernets", "train", "--task", "nope"], "nope"),
        (["supernets", "train", "--task", "pets"], "lower batch_size"),
        (["supernets", "train", "--task", "pets", "--width", "0"], "--width"),
    ):
        code, _, err = cli(capsys, *home, *bad)
        assert code == 2 and text in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (bad, err)
    code, out, _ = cli(capsys, *home, "tasks", "remove", "pets")
    assert code == 0 and "removed" in out
    code, out, _ = cli(capsys, *home, "tasks", "list")
    assert "no user tasks" in out


def test_tasks_add_says_which_files_it_skipped(ws, capsys, tmp_path) -> None:
    from tests.cli.test_predictors_cli import cli
    from tests.tasks.folders import image_folder

    folder = image_folder(ws, tmp_path / "imgs", classes=("cat", "ship"), per_class=5)
    (folder / "cat" / "notes.txt").write_text("not an image")
    code, out, err = cli(capsys, "--home", str(tmp_path / "h"), "tasks", "add", "skippy", "--images", str(folder))
    assert code == 0, err
    assert "skipped 1 files that are not images: cat/notes.txt" in out and "shared read-only" in out
