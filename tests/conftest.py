"""Shared fixtures: the real benchmark data, a per-session cache, and the workspace built from them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.arch import Arch
from archgen.context import Paths, Workspace, workspace
from archgen.settings import default_data_dir

_SESSION_TMP: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Before any fixture (session-scoped ones too): archgen's cache and home point into a temporary directory.

    The fixtures below give each test its own; this keeps whatever runs before
    them (collection, session fixtures, subprocesses) out of the user's
    ``~/.cache/archgen`` and home.
    """
    global _SESSION_TMP
    _SESSION_TMP = Path(tempfile.mkdtemp(prefix="archgen-tests-"))
    os.environ["ARCHGEN_CACHE_DIR"] = str(_SESSION_TMP / "cache")
    os.environ["ARCHGEN_HOME"] = str(_SESSION_TMP / "home")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_TMP is not None:
        shutil.rmtree(_SESSION_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data (``../shared/data`` beside the checkout, as CI lays it out)."""
    path = default_data_dir()
    if not (path / "MANIFEST.sha256").is_file():
        pytest.fail(f"benchmark data not found at {path}; the tests need ../shared/data beside the repository")
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache for this test session, so first-time processing is exercised too."""
    return tmp_path_factory.mktemp("archgen-cache")


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """archgen's home for session-scoped fixtures (never the user's)."""
    return tmp_path_factory.mktemp("archgen-session-home")


@pytest.fixture(scope="session")
def paths(data_dir: Path, cache_dir: Path, session_home: Path) -> Paths:
    """The session's data, cache and home directories."""
    return Paths.of(data_dir, cache_dir, session_home)


@pytest.fixture(scope="session")
def ws(paths: Paths) -> Workspace:
    """The session's workspace: tables, spaces with rows, images, caches."""
    return workspace(paths)


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever reads settings at the edge (CLI, service) uses the session cache and a fresh home, never the user's."""
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("ARCHGEN_HOME", str(tmp_path_factory.mktemp("archgen-home")))
    monkeypatch.delenv("ARCHGEN_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def nb201_data(ws) -> tuple[list[Arch], np.ndarray]:
    """Every NB201 cell with its cifar10-valid validation accuracy."""
    from archgen.services.predictors import table_archs

    return table_archs(ws.table("nb201"), "cifar10-valid", "val_acc")


@pytest.fixture(scope="session")
def split(nb201_data) -> tuple[list[Arch], np.ndarray, list[Arch], np.ndarray]:
    """40 training and 30 test cells drawn with a fixed seed."""
    archs, y = nb201_data
    idx = np.random.default_rng(7).permutation(len(archs))
    tr, te = idx[:40], idx[40:70]
    return [archs[i] for i in tr], y[tr], [archs[i] for i in te], y[te]


@pytest.fixture(scope="session")
def heldout(nb201_data, split) -> tuple[list[Arch], np.ndarray]:
    """400 cells outside the training set of ``split``, for calibration checks."""
    archs, y = nb201_data
    idx = np.random.default_rng(7).permutation(len(archs))[100:500]
    return [archs[i] for i in idx], y[idx]


@pytest.fixture(scope="session")
def top_cells(nb201_data, split) -> tuple[list[Arch], np.ndarray]:
    """60 untrained cells drawn from the true top 5% of the space (where a NAS user reads predictions)."""
    archs, y = nb201_data
    trained = set(split[0])
    cut = np.quantile(y, 0.95)
    idx = [i for i in np.random.default_rng(8).permutation(len(archs)) if y[i] >= cut and archs[i] not in trained]
    return [archs[i] for i in idx[:60]], y[idx[:60]]
