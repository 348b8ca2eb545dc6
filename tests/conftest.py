"""Shared fixtures: the real benchmark data and a per-session cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from archgen import settings
from archgen.settings import default_data_dir


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


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Code that falls back to settings uses the session cache and a fresh home, never the user's."""
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("ARCHGEN_HOME", str(tmp_path_factory.mktemp("archgen-home")))
    monkeypatch.delenv("ARCHGEN_DATA_DIR", raising=False)
    # the CLI's --data-dir/--cache-dir become process defaults; do not let one test's leak into the next
    monkeypatch.setattr(settings, "_PROCESS_DEFAULTS", {})
