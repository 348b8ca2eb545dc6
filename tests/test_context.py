"""Paths and workspaces: everything read from data comes from the workspace it was asked of."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archgen.context import Paths, Workspace, workspace
from archgen.datasets.store import read_manifest
from archgen.errors import DataNotFoundError


def _copy_nb201_index(src: Path, dst: Path) -> None:
    """A data directory holding only NB201's index file (a different data set to the library)."""
    name = "nb201-nats-csv/nats_bench.csv"
    digest = read_manifest(src / "MANIFEST.sha256")[name]
    (dst / name).parent.mkdir(parents=True)
    shutil.copy2(src / name, dst / name)
    (dst / "MANIFEST.sha256").write_text(f"{digest}  ./{name}\n")


def test_two_workspaces_do_not_see_each_others_data(data_dir: Path, tmp_path: Path) -> None:
    real = Workspace(Paths.of(data_dir, tmp_path / "c1", tmp_path / "h1"))
    missing = Workspace(Paths.of(tmp_path / "nowhere", tmp_path / "c2", tmp_path / "h2"))
    assert real.space("nb201").from_index(0).space == "nb201"
    with pytest.raises(DataNotFoundError, match="nowhere"):
        missing.space("nb201").from_index(0)
    with pytest.raises(DataNotFoundError, match="nowhere"):
        missing.table("nb201")
    assert real.table("nb201").num_rows == 15625  # unaffected by the other


def test_shared_workspace_per_paths_value(tmp_path: Path) -> None:
    a = workspace(Paths.of(tmp_path / "d", tmp_path / "c", tmp_path / "h"))
    assert workspace(Paths.of(tmp_path / "d", tmp_path / "c", tmp_path / "h")) is a
    assert workspace(Paths.of(tmp_path / "d2", tmp_path / "c", tmp_path / "h")) is not a


def test_memo_builds_once(tmp_path: Path) -> None:
    ws = Workspace(Paths.of(tmp_path, tmp_path, tmp_path))
    calls = []
    assert ws.memo("k", lambda: calls.append(1) or 5) == 5
    assert ws.memo("k", lambda: calls.append(1) or 6) == 5
    assert calls == [1]


def test_a_slow_build_does_not_hold_up_other_keys(tmp_path: Path) -> None:
    """Decoding images for one key (the zero-cost warm-up) never blocks a reader of another (a prediction)."""
    import threading

    ws = Workspace(Paths.of(tmp_path / "d", tmp_path / "c", tmp_path / "h"))
    ws.memo("table", lambda: "built")
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(30)
        return "images"

    builders = [threading.Thread(target=ws.memo, args=("images", slow)) for _ in range(2)]
    for t in builders:
        t.start()
    assert started.wait(30)
    try:
        assert ws.memo("table", lambda: "rebuilt") == "built"  # answered while "images" is being built
        assert ws.memo("other", lambda: "new") == "new"
    finally:
        release.set()
        for t in builders:
            t.join(30)
    assert ws.memo("images", lambda: "again") == "images" and calls == [1]  # the second caller waited, built nothing


def test_a_partial_data_directory_serves_what_it_has(data_dir: Path, tmp_path: Path) -> None:
    _copy_nb201_index(data_dir, tmp_path / "data")
    ws = Workspace(Paths.of(tmp_path / "data", tmp_path / "c", tmp_path / "h"))
    assert ws.space("nb201").from_index(3).ops  # the index file is enough for rows
    with pytest.raises(Exception, match="not listed|missing"):
        ws.table("nb201")
