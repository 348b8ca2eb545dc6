"""Settings: the only module that reads environment variables.

The CLI and the HTTP service build one :class:`Settings` at their edge
(:meth:`Settings.from_env`, backed by ``pydantic-settings``) and pass what
library code needs explicitly: :attr:`Settings.paths` (data, cache and home
directories) to :class:`~archgen.context.Workspace`, numbers as arguments. No
library module reads the environment or a process-wide default.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from archgen.errors import SettingsError
from archgen.paths import Paths

#: Environment variable naming the benchmark data directory.
DATA_DIR_ENV = "ARCHGEN_DATA_DIR"
#: Environment variable naming the directory for parsed-table and image caches.
CACHE_DIR_ENV = "ARCHGEN_CACHE_DIR"
#: Environment variable naming archgen's home: the trained-model store, job
#: work files and the service's default database.
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


def default_workers() -> int:
    """Jobs at once by default: half the cores, at least 2 (one always free for users' jobs) and at most 8."""
    return max(2, min(8, (os.cpu_count() or 2) // 2))


def default_home() -> Path:
    """The user's data directory for archgen (e.g. ``~/.local/share/archgen``)."""
    return Path(platformdirs.user_data_dir("archgen", appauthor=False))


#: Prefix of every environment variable archgen reads: field ``x`` of
#: :class:`Settings` is read from ``ARCHGEN_X``.
ENV_PREFIX = "ARCHGEN_"
#: Environment variable naming a Ray cluster; setting it selects the ``ray`` worker backend.
RAY_ADDRESS_ENV = "ARCHGEN_RAY_ADDRESS"

# The environment :meth:`Settings.from_env` reads (``None``: ``os.environ``).
_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("archgen_environ", default=None)


class _EnvSource(EnvSettingsSource):
    """``ARCHGEN_*`` variables from the mapping given to :meth:`Settings.from_env` (default ``os.environ``)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        return {
            (k if self.case_sensitive else k.lower()): v
            for k, v in environ.items()
            if not (self.env_ignore_empty and v == "")
        }


class Settings(BaseSettings):
    """Typed settings of the library, the command line and the HTTP service.

    Every field ``x`` can be set with the environment variable ``ARCHGEN_X``
    (``ARCHGEN_DATA_DIR``, ``ARCHGEN_HOME``, ``ARCHGEN_DATABASE_URL``...);
    list fields take comma-separated values (``none`` for an empty list).

    Attributes:
        data_dir: Benchmark data directory, or ``None`` to use :func:`default_data_dir`.
        cache_dir: Where parsed tables, decoded images and computed zero-cost scores are cached.
        home: Where trained predictors (``home/models``), job work files
            (``home/jobs``) and, by default, the service database live.
        database_url: SQLAlchemy URL of the service database (jobs, API keys);
            default SQLite at ``home/archgen.db``. ``postgresql+psycopg://...`` works too.
        host, port: Where ``archgen serve`` listens.
        worker_backend: Where jobs run: ``local`` (worker processes on this
            machine), ``thread`` (threads of the server process) or ``ray``.
        workers: Jobs run at once (``local`` and ``thread``; Ray schedules by CPUs);
            default :func:`default_workers` (2 on a 2-core machine).
            The service's own jobs (default-model training) take at most
            ``workers - 1`` of them when there are two or more, so that a user's
            job never waits behind them.
        ray_address: Ray cluster address (``auto``, ``ray://host:10001``...);
            setting it selects the ``ray`` backend. ``None`` with ``ray`` starts a local Ray.
        max_archs: Most architectures in one predict or lookup request.
        max_zc_archs: Most architectures in one zero-cost request.
        zc_inline_cells: Zero-cost requests needing at most this many uncomputed
            cells are answered inline; larger ones become jobs.
        generate_inline: Generation requests for at most this many architectures
            are answered inline once the space's generator is trained; larger
            ones (and ones that need the generator trained) become jobs.
        generator_epochs: Training epochs of each space's diffusion generator
            (trained once by a job on first need, then kept in the model store).
        quick_generator_epochs: Training epochs of the quick generator that answers
            generation requests while the full one trains (0: none; requests wait for the full one). The service
            and ``archgen generate`` both read it; 4 was chosen by measurement (BENCHMARKS.md, "A first
            generation within a minute").
        max_body_bytes: Largest request body.
        rate_limit: Sustained requests per second allowed per API key.
        rate_burst: Requests a key may make at once above the sustained rate.
        default_models: ``space/task`` pairs the service trains (on first start)
            and serves a default predictor for.
        default_kind: Predictor kind of the defaults.
        default_train_size: Training architectures of the defaults.
        default_seed: Seed of the defaults.
        job_lease_s: A running job whose worker has not reported for this long
            is taken to be dead and is resumed from its last checkpoint.
        job_max_failures: A job whose worker died this many times is failed.
        shutdown_grace_s: On shutdown, how long running jobs get to checkpoint.
        job_cancel_grace_s: A running job asked to cancel that has not stopped
            after this many seconds has its worker stopped (process killed).
        job_max_runtime_s: Longest an attempt of any job may run before its
            worker is stopped and the job failed (a job kind may declare less).
        job_max_running_per_key: Jobs one API key may have running at once
            (its others wait in the queue while other keys' jobs start).
        job_max_open_per_key: Queued plus running jobs one API key may have;
            a submission over it is refused with 429.
        search_max_open_per_key: Searches (``POST /v1/searches``) one API key may have queued or
            running; they count against this instead of ``job_max_open_per_key`` (a batch of searches is
            one request). How many run at once is ``job_max_running_per_key``.
        search_max_budget_per_key: Most evaluations one key's queued and running searches may ask for
            together (a request over it is refused whole, with 429).
        search_max_batch: Most searches in one request.
        search_max_training_minutes_per_key: Most training minutes (``budget_minutes``) one key's queued and
            running training searches may ask for together.
        training_max_epochs: Most epochs a ``POST /v1/trainings`` request may ask for (NB201's schedule is 200).
        task_max_upload_bytes: Largest archive ``POST /v1/tasks`` accepts.
        task_max_unpacked_bytes, task_max_images: Most bytes an uploaded archive may unpack to, and most images
            a task may hold (an archive may hold 1,000 more members than that, folders included).
        task_max_decoded_bytes: Most bytes a task's decoded images may take (images x image_size^2 x 3),
            checked before any image is decoded.
        task_max_image_pixels: Most pixels one uploaded image may have (checked from its header).
        key_max_tasks, key_max_stored_bytes: One API key's quota: tasks, and bytes its tasks and supernets take
            on disk (an upload over either is refused with 413; an ``add_task`` job that would pass the bytes
            fails before registering).
        supernet_max_minutes: Longest training budget a ``POST /v1/supernets`` request may ask for.
        supernet_inline_archs: Most architectures one ``POST /v1/predict`` of a user task scores (by its supernet).
        job_threads: Torch's intra-op threads in each job's worker process (default: the cores divided
            among ``workers``, at least 1), so that jobs running at once do not oversubscribe the cores.
        job_max_memory_bytes: Most memory one training or supernet request may need by its estimate
            (:mod:`archgen.training.memory`); over it, the request is refused with a 422 naming its
            parameters. Default: three quarters of the machine's memory divided among ``workers``.
        search_workers: Threads that evaluate a search's batch at once.
        search_ray_address: A Ray cluster a search's evaluations run on (``local``: one started in the
            worker); ``None``: the worker's threads.
        quick_defaults: On a first start, fit a quick LightGBM default per task in
            seconds and serve it (declared as such) until the default job finishes.
        log_level: Logging level of ``archgen serve``.
        log_json: Structured JSON logs (one object per line) instead of plain text.
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix=ENV_PREFIX, env_ignore_empty=True, case_sensitive=False
    )

    data_dir: Path | None = None
    cache_dir: Path = default_cache_dir()
    home: Path = default_home()
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    worker_backend: Literal["local", "thread", "ray"] = "local"
    workers: int = Field(default_factory=lambda: default_workers(), ge=1, le=256)
    job_threads: int | None = Field(None, ge=1, le=256)
    job_max_memory_bytes: int | None = Field(None, ge=1 << 20)
    ray_address: str | None = None
    max_archs: int = Field(10_000, ge=1)
    max_zc_archs: int = Field(256, ge=1)
    zc_inline_cells: int = Field(2, ge=0)
    generate_inline: int = Field(64, ge=0, le=10_000)
    generator_epochs: int = Field(200, ge=1, le=2000)
    quick_generator_epochs: int = Field(4, ge=0, le=2000)
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    rate_limit: float = Field(100.0, gt=0, allow_inf_nan=False)
    rate_burst: int = Field(200, ge=1)
    default_models: Annotated[tuple[str, ...], NoDecode] = ("nb201/cifar10", "nb201/cifar100", "nb201/ImageNet16-120")
    default_kind: str = "stack"
    default_train_size: int = Field(469, ge=1)
    default_seed: int = 0
    job_lease_s: float = Field(15.0, gt=0, allow_inf_nan=False)
    job_max_failures: int = Field(3, ge=1)
    shutdown_grace_s: float = Field(20.0, ge=0, allow_inf_nan=False)
    job_cancel_grace_s: float = Field(15.0, ge=0, allow_inf_nan=False)
    job_max_runtime_s: float = Field(6 * 3600.0, gt=0, allow_inf_nan=False)
    job_max_running_per_key: int = Field(1, ge=1)
    job_max_open_per_key: int = Field(20, ge=1)
    search_max_open_per_key: int = Field(100, ge=1)
    search_max_budget_per_key: int = Field(50_000, ge=1)
    search_max_batch: int = Field(100, ge=1, le=10_000)
    search_max_training_minutes_per_key: float = Field(300.0, gt=0, allow_inf_nan=False)
    training_max_epochs: int = Field(200, ge=1, le=1000)
    task_max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    task_max_unpacked_bytes: int = Field(2 * 1024 * 1024 * 1024, ge=1024)
    task_max_images: int = Field(200_000, ge=10)
    task_max_decoded_bytes: int = Field(1 << 30, ge=1024)
    key_max_tasks: int = Field(20, ge=1)
    key_max_stored_bytes: int = Field(10 << 30, ge=1024)
    task_max_image_pixels: int = Field(40_000_000, ge=64)
    supernet_max_minutes: float = Field(240.0, gt=0, le=24 * 60)
    supernet_inline_archs: int = Field(256, ge=1, le=100_000)
    search_workers: int = Field(4, ge=1, le=256)
    search_ray_address: str | None = None
    quick_defaults: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = True

    @property
    def threads_per_job(self) -> int:
        """:attr:`job_threads`, or the machine's cores divided among :attr:`workers` (at least 1)."""
        return self.job_threads or max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def trainings_at_once(self) -> int:
        """Trainings a training search's job runs at once: one per thread of the job (:attr:`threads_per_job`),
        at most :attr:`search_workers`; the search's bounds (memory) hold for all of them together."""
        return max(1, min(self.search_workers, self.threads_per_job))

    @property
    def job_memory_bytes(self) -> int:
        """:attr:`job_max_memory_bytes`, or three quarters of the machine's memory divided among :attr:`workers`."""
        if self.job_max_memory_bytes is not None:
            return self.job_max_memory_bytes
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(total * 0.75 / self.workers)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # explicit values (CLI options, arguments) win over the environment; no .env or secret files
        return init_settings, _EnvSource(settings_cls)

    @model_validator(mode="before")
    @classmethod
    def _ray_address_selects_ray(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("ray_address") and not data.get("worker_backend"):
            data = {**data, "worker_backend": "ray"}
        return data

    @field_validator("default_models", mode="before")
    @classmethod
    def _comma_separated(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: comma-separated, "none" for an empty list
            return () if v.strip().lower() == "none" else tuple(x.strip() for x in v.split(",") if x.strip())
        return v

    @field_validator("default_models")
    @classmethod
    def _space_task_pairs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            if item.count("/") != 1 or not all(item.split("/")):
                raise ValueError(f"expected 'space/task', got {item!r}")
        return v

    @property
    def paths(self) -> Paths:
        """The data, cache and home directories, resolved (what library code receives)."""
        return Paths.of(self.data_dir if self.data_dir is not None else default_data_dir(), self.cache_dir, self.home)

    @property
    def model_dir(self) -> Path:
        """The trained-model store."""
        return self.paths.model_dir

    @property
    def job_dir(self) -> Path:
        """Work files of jobs (``job_dir/<job id>``)."""
        return self.paths.job_dir

    @property
    def db_url(self) -> str:
        """The database URL in effect."""
        return self.database_url or f"sqlite:///{self.home / 'archgen.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``ARCHGEN_*`` environment variables, then explicit overrides.

        Args:
            environ: The environment to read (default ``os.environ``).
            **overrides: Field values that win over the environment; ``None``
                values are ignored so that unset CLI options fall through.

        Raises:
            SettingsError: naming the variable or option whose value is invalid.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        token = _ENVIRON.set(environ)
        try:
            return cls(**given)  # type: ignore[arg-type]
        except ValidationError as e:
            problems = []
            for err in e.errors():
                name = str(err["loc"][0]) if err["loc"] else "?"
                where = f"option {name}" if name in given else f"environment variable {ENV_PREFIX}{name.upper()}"
                problems.append(f"{where}={err.get('input')!r}: {err['msg']}")
            raise SettingsError("invalid settings: " + "; ".join(problems)) from None
        finally:
            _ENVIRON.reset(token)
