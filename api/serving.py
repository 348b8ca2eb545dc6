"""Trained predictors as the service serves them: the defaults, loading, and a prediction cache.

Predictions of a stored model are deterministic, so :class:`ServedModel`
keeps every prediction it has made per table row. For spaces whose
benchmark table enumerates the space (NB201: 15,625 cells) a background pass
fills the whole table after loading, and requests become lookups.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from archgen.predictors.base import Predictor
from archgen.predictors.store import ModelRecord, ModelStore

from archgen.arch import Arch
from archgen.errors import ArchgenError, InvalidArchitectureError, UnknownNameError
from archgen.jobs import FAILED, SUCCEEDED, SYSTEM_OWNER, JobStore
from archgen.settings import Settings
from archgen.spaces import get_space

log = logging.getLogger("archgen.api")

#: Rows predicted per call when filling a model's table in the background.
FILL_CHUNK = 2048


class ServedModel:
    """A loaded predictor with a per-row cache of its predictions.

    Args:
        predictor: The fitted predictor.
        record: Its store record.
        num_rows: Rows of the space's benchmark table (``None``: no cache).
        cache_dir: Where the filled table of predictions is kept between starts
            (``None``: not kept). The file is named after the model's artifact
            hash, so a retrained or edited model never reads another's predictions.
    """

    def __init__(
        self, predictor: Predictor, record: ModelRecord, num_rows: int | None, cache_dir: Path | None = None
    ) -> None:
        self.predictor = predictor
        self.record = record
        self.space = get_space(record.space)
        self._lock = threading.Lock()
        self._mean = np.full(num_rows, np.nan) if num_rows else None
        self._std = np.full(num_rows, np.nan) if num_rows else None
        self._file = cache_dir / f"{record.id}-{record.artifact_sha256[:16]}.npz" if cache_dir and num_rows else None
        if self._file is not None and self._file.is_file():
            try:
                with np.load(self._file, allow_pickle=False) as z:
                    mean, std = z["mean"], z["std"]
                if mean.shape == (num_rows,) and std.shape == (num_rows,):
                    self._mean, self._std = mean.astype(np.float64), std.astype(np.float64)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:  # torn or foreign: recompute
                log.warning("ignoring prediction cache %s: %s", self._file, e)

    def _compute(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:  # one prediction at a time: the machine's cores are already used by each
            return self.predictor.predict_with_uncertainty(list(archs))

    def predict(self, archs: Sequence[Arch], rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of ``archs`` (``rows``: their table rows, -1 where none), shape ``(n,)`` each."""
        if self._mean is None or self._std is None or rows is None:
            return self._compute(archs)
        mean, std = np.empty(len(archs)), np.empty(len(archs))
        known = rows >= 0
        mean[known], std[known] = self._mean[rows[known]], self._std[rows[known]]
        miss = np.flatnonzero(~known | np.isnan(mean))
        if miss.size:
            m, s = self._compute([archs[i] for i in miss])
            mean[miss], std[miss] = m, s
            cached = miss[known[miss]]
            self._mean[rows[cached]], self._std[rows[cached]] = mean[cached], std[cached]
        return mean, std

    def fill(self, stop: threading.Event) -> None:
        """Predict every row of the table not predicted yet (until ``stop`` is set)."""
        if self._mean is None:
            return
        todo = np.flatnonzero(np.isnan(self._mean))
        if todo.size == 0:
            return
        t0 = time.perf_counter()
        for start in range(0, todo.size, FILL_CHUNK):
            if stop.is_set():
                return
            rows = todo[start : start + FILL_CHUNK]
            archs = [self.space.from_index(int(r)) for r in rows]
            self._mean[rows], self._std[rows] = self._compute(archs)
            time.sleep(0.01)  # let requests waiting for the lock in
        log.info("model %s: predicted all %d rows in %.1f s", self.record.id, todo.size, time.perf_counter() - t0)
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._file.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                np.savez(f, mean=self._mean, std=self._std)
            os.replace(tmp, self._file)

    def info(self) -> dict[str, Any]:
        """The ``predictor`` object of a predict response."""
        r = self.record
        return {
            "id": r.id,
            "kind": r.kind,
            "trained_on": {"space": r.space, "task": r.task, "target": "/".join(r.target), "architectures": r.n_train},
            "heldout_kendall_tau": r.heldout.get("kendall_tau"),
        }


@dataclass
class DefaultModel:
    """The state of one default predictor (``space/task``)."""

    space: str
    task: str
    model_id: str
    status: str = "pending"  # pending, loading, training, loaded, failed
    job_id: str | None = None
    error: str | None = None
    model: ServedModel | None = field(default=None, repr=False)

    def describe(self, jobs: JobStore) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "model_id": self.model_id}
        if self.job_id:
            out["job_id"] = self.job_id
            if self.status == "training":
                try:
                    job = jobs.get(self.job_id)
                    out["progress"] = job.progress
                    out["message"] = job.message
                except ArchgenError:
                    pass
        if self.error:
            out["error"] = self.error
        return out


def default_predictor_id(settings: Settings, space: str, task: str) -> str:
    """Store id of the default predictor for ``space/task`` under these settings."""
    return f"default-{settings.default_kind}-{space}-{task}-n{settings.default_train_size}-s{settings.default_seed}"


class ModelService:
    """Default predictors (trained by a job on first start), and models loaded on demand.

    Args:
        settings: Defaults, store location.
        jobs: The job table (training jobs for missing defaults).
        num_rows: ``num_rows(space)``: rows of the space's benchmark table (for the prediction cache).
    """

    def __init__(self, settings: Settings, jobs: JobStore, num_rows: Callable[[str], int | None]) -> None:
        self.settings = settings
        self.jobs = jobs
        self.store = ModelStore(settings.model_dir)
        self.num_rows = num_rows
        self.defaults: dict[tuple[str, str], DefaultModel] = {}
        self._loaded: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for item in settings.default_models:
            space, task = item.split("/")
            self.defaults[(space, task)] = DefaultModel(space, task, default_predictor_id(settings, space, task))

    # -- defaults -------------------------------------------------------------------
    def start(self, on_job: Any = None) -> None:
        """Queue training for missing defaults; load the others (in a background thread)."""
        stored = set(self.store.ids())
        for d in self.defaults.values():
            if d.model_id in stored:
                d.status = "loading"
                continue
            params = {
                "space": d.space,
                "task": d.task,
                "kind": self.settings.default_kind,
                "n_train": self.settings.default_train_size,
                "seed": self.settings.default_seed,
                "model_id": d.model_id,
            }
            key = f"default:{d.model_id}"
            job, created = self.jobs.create("train_predictor", params, SYSTEM_OWNER, key)
            if job.status in (FAILED, "cancelled"):  # an earlier start's attempt failed: try again
                job, created = self.jobs.create("train_predictor", params, SYSTEM_OWNER, f"{key}:{time.time_ns()}")
            d.status, d.job_id = "training", job.id
            log.info(
                "no default predictor for %s/%s: %s training job %s (%s, %d cells)",
                d.space,
                d.task,
                "queued" if created else "resuming",
                job.id,
                self.settings.default_kind,
                self.settings.default_train_size,
                extra={"job_id": job.id},
            )
            if on_job is not None:
                on_job("train_predictor")
        self._thread = threading.Thread(target=self._run, name="archgen-models", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for d in self.defaults.values():
                if d.status == "loading":
                    self._load_default(d)
                elif d.status == "training" and d.job_id:
                    try:
                        job = self.jobs.get(d.job_id)
                    except ArchgenError:
                        continue
                    if job.status == SUCCEEDED:
                        d.status = "loading"
                        self._load_default(d)
                    elif job.done:
                        d.status, d.error = "failed", f"training job {job.id} {job.status}: {job.error}"
                        log.error("default predictor %s/%s: %s", d.space, d.task, d.error)
            for d in self.defaults.values():
                if d.status == "loaded" and d.model is not None:
                    d.model.fill(self._stop)
            if all(d.status in ("loaded", "failed") for d in self.defaults.values()):
                return
            self._stop.wait(0.5)

    def _load_default(self, d: DefaultModel) -> None:
        t0 = time.perf_counter()
        try:
            d.model = self.get(d.model_id)
        except ArchgenError as e:
            d.status, d.error = "failed", str(e)
            log.error("default predictor %s/%s cannot be loaded: %s", d.space, d.task, e)
            return
        d.status = "loaded"
        log.info("default predictor %s/%s loaded (%s) in %.2f s", d.space, d.task, d.model_id, time.perf_counter() - t0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def ready(self) -> bool:
        return all(d.status == "loaded" for d in self.defaults.values())

    # -- lookups ----------------------------------------------------------------------
    def get(self, model_id: str) -> ServedModel:
        """A stored model, loaded once (raises ``UnknownNameError`` / ``ArtifactError``)."""
        with self._lock:
            served = self._loaded.get(model_id)
            if served is None:
                predictor, record = self.store.load(model_id)
                served = ServedModel(predictor, record, self.num_rows(record.space), self.settings.home / "predictions")
                self._loaded[model_id] = served
        return served

    def default_for(self, space: str, task: str) -> DefaultModel:
        """The default entry for ``space/task``.

        Raises:
            UnknownNameError: no default is configured for it (lists those that are).
        """
        d = self.defaults.get((space, task))
        if d is None:
            raise UnknownNameError(
                "default predictor (train one with POST /v1/predictors and pass its id as 'predictor')",
                f"{space}/{task}",
                [f"{s}/{t}" for s, t in self.defaults],
            )
        return d

    def is_default(self, model_id: str) -> bool:
        return any(d.model_id == model_id for d in self.defaults.values())


def table_rows(space_name: str, archs: Sequence[Arch]) -> np.ndarray:
    """Row of each architecture in its space's table, -1 where it has none."""
    space = get_space(space_name)
    try:
        return space.indices(archs)
    except (InvalidArchitectureError, KeyError, AttributeError, NotImplementedError):
        out = np.full(len(archs), -1, dtype=np.int64)
        for k, a in enumerate(archs):
            try:
                out[k] = space.index(a)
            except (InvalidArchitectureError, KeyError):
                pass
        return out
