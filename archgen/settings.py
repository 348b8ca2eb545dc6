"""Settings: the only module that reads environment variables.

Library code takes paths as arguments; the CLI (and later the HTTP service)
builds a :class:`Settings` once with :meth:`Settings.from_env` and passes its
fields down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict

#: Environment variable naming the benchmark data directory.
DATA_DIR_ENV = "ARCHGEN_DATA_DIR"
#: Environment variable naming the directory for parsed-table and image caches.
CACHE_DIR_ENV = "ARCHGEN_CACHE_DIR"
#: Environment variable naming archgen's home: the trained-model store (and,
#: later, the service's database).
HOME_ENV = "ARCHGEN_HOME"


def repository_root() -> Path:
    """The directory that holds the ``archgen/`` package folder.

    In a source checkout (editable install) this is the repository root; in an
    installed wheel it is ``site-packages``.
    """
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``../shared/data`` beside the repository root: the layout of a checkout."""
    return repository_root().parent / "shared" / "data"


def default_cache_dir() -> Path:
    """The user's cache directory for archgen (e.g. ``~/.cache/archgen``)."""
    return Path(platformdirs.user_cache_dir("archgen", appauthor=False))


def default_home() -> Path:
    """The user's data directory for archgen (e.g. ``~/.local/share/archgen``)."""
    return Path(platformdirs.user_data_dir("archgen", appauthor=False))


class Settings(BaseModel):
    """Typed settings.

    Attributes:
        data_dir: Benchmark data directory, or ``None`` to use
            :func:`default_data_dir`.
        cache_dir: Where parsed tables, decoded images and computed
            zero-cost scores are cached.
        home: Where trained predictors are stored (``home/models``).
    """

    model_config = ConfigDict(frozen=True)

    data_dir: Path | None = None
    cache_dir: Path = default_cache_dir()
    home: Path = default_home()

    @property
    def model_dir(self) -> Path:
        """The trained-model store."""
        return self.home / "models"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from environment variables, then explicit overrides.

        Args:
            environ: The environment to read (default ``os.environ``).
            **overrides: Field values that win over the environment; ``None``
                values are ignored so that unset CLI options fall through.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get(DATA_DIR_ENV):
            values["data_dir"] = Path(env[DATA_DIR_ENV]).expanduser()
        if env.get(CACHE_DIR_ENV):
            values["cache_dir"] = Path(env[CACHE_DIR_ENV]).expanduser()
        if env.get(HOME_ENV):
            values["home"] = Path(env[HOME_ENV]).expanduser()
        values.update({k: v for k, v in _PROCESS_DEFAULTS.items() if v is not None})
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_PROCESS_DEFAULTS: dict[str, object] = {}


def use_dirs(
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    home: Path | None = None,
) -> None:
    """Make these directories this process's defaults (over the environment).

    The command line calls this once with its ``--data-dir`` / ``--cache-dir``
    options, so that library code that falls back to :meth:`Settings.from_env`
    (predictors loading tables, zero-cost caches) uses them too.
    """
    _PROCESS_DEFAULTS.update(data_dir=data_dir, cache_dir=cache_dir, home=home)
