"""Settings: every field from ARCHGEN_<FIELD>, overrides win, bad values name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from archgen.settings import Settings, SettingsError


def test_environment_then_overrides() -> None:
    env = {
        "ARCHGEN_HOME": "/tmp/h",
        "ARCHGEN_PORT": "9001",
        "ARCHGEN_DEFAULT_MODELS": "nb201/cifar10, nb201/cifar100",
        "ARCHGEN_MAX_ARCHS": "50",
        "ARCHGEN_LOG_JSON": "false",
    }
    s = Settings.from_env(env, port=9002)
    assert s.home == Path("/tmp/h") and s.port == 9002 and s.max_archs == 50 and not s.log_json
    assert s.default_models == ("nb201/cifar10", "nb201/cifar100")
    assert s.db_url == "sqlite:////tmp/h/archgen.db"
    assert Settings.from_env({"ARCHGEN_DEFAULT_MODELS": "none"}).default_models == ()


def test_ray_address_selects_the_ray_backend() -> None:
    assert Settings.from_env({"ARCHGEN_RAY_ADDRESS": "auto"}).worker_backend == "ray"
    env = {"ARCHGEN_RAY_ADDRESS": "auto", "ARCHGEN_WORKER_BACKEND": "local"}
    assert Settings.from_env(env).worker_backend == "local"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ARCHGEN_PORT": "http"}, "ARCHGEN_PORT"),
        ({"ARCHGEN_WORKER_BACKEND": "k8s"}, "ARCHGEN_WORKER_BACKEND"),
        ({"ARCHGEN_DEFAULT_MODELS": "nb201"}, "ARCHGEN_DEFAULT_MODELS"),
        ({"ARCHGEN_RATE_LIMIT": "nan"}, "ARCHGEN_RATE_LIMIT"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_paths_resolve_the_directories(tmp_path: Path) -> None:
    env = {"ARCHGEN_DATA_DIR": str(tmp_path / "d"), "ARCHGEN_CACHE_DIR": str(tmp_path / "c")}
    p = Settings.from_env(env, home=tmp_path / "h").paths
    assert (p.data_dir, p.cache_dir, p.home) == (tmp_path / "d", tmp_path / "c", tmp_path / "h")
    assert p.model_dir == tmp_path / "h" / "models"


def test_explicit_values_win_and_the_environment_is_read_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARCHGEN_PORT", "9100")
    s = Settings.from_env(port=9200)
    assert s.port == 9200
    monkeypatch.setenv("ARCHGEN_PORT", "9300")
    assert s.port == 9200  # a built Settings is a frozen value
    with pytest.raises(Exception):
        s.port = 1  # type: ignore[misc]


@pytest.fixture(scope="session")
def settings_in_a_session_fixture() -> Settings:
    """Settings as a session-scoped fixture sees them (set up before the per-test autouse redirect)."""
    return Settings.from_env()


def test_the_test_session_never_uses_the_users_cache_or_home(settings_in_a_session_fixture: Settings) -> None:
    """Issue 12: the suite wrote into ~/.cache/archgen; conftest's pytest_configure redirects before any fixture."""
    import tempfile

    from archgen.settings import default_cache_dir, default_home

    s = settings_in_a_session_fixture
    for got, users in ((s.cache_dir, default_cache_dir()), (s.home, default_home())):
        assert not str(got).startswith(str(users)), got
        assert str(got).startswith(tempfile.gettempdir()), got
