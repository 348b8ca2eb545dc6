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


class Settings(BaseModel):
    """Typed settings.

    Attributes:
        data_dir: Benchmark data directory, or ``None`` to use
            :func:`default_data_dir`.
        cache_dir: Where parsed tables and decoded images are cached.
    """

    model_config = ConfigDict(frozen=True)

    data_dir: Path | None = None
    cache_dir: Path = default_cache_dir()

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
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
