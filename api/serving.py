"""Trained predictors as the service serves them: the defaults and models loaded on demand.

A default predictor is trained by a ``train_predictor`` job on first start
(:class:`~archgen.services.predictors.TrainPredictorParams`, the same pipeline as
the CLI) and loaded on later starts. Predictions go through
:class:`archgen.services.inference.ServedModel`, which keeps each model's predictions per
table row.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from archgen.artifacts import ArtifactStore
from archgen.context import Workspace
from archgen.errors import ArchgenError, UnknownNameError
from archgen.jobs import SUCCEEDED, SYSTEM_OWNER, JobStore
from archgen.predictors.zerocost import warm_up
from archgen.services.inference import ServedModel
from archgen.services.predictors import TrainPredictorParams, model_id, train_predictor
from archgen.settings import Settings

log = logging.getLogger("archgen.api")


#: Prefix of the quick default models (a LightGBM fitted in seconds on a first start).
QUICK_PREFIX = "quick"


def served_info(model: ServedModel, stage: str = "final") -> dict[str, Any]:
    """The ``predictor`` object of a predict response.

    Args:
        stage: ``"final"``, or ``"quick"`` for the LightGBM a first start serves
            until the default model's job has finished.
    """
    r = model.record
    out: dict[str, Any] = {
        "id": r.id,
        "kind": r.kind,
        "stage": stage,
        "trained_on": {"space": r.space, "task": r.task, "target": "/".join(r.target), "architectures": r.n_train},
        "heldout_kendall_tau": r.heldout.get("kendall_tau"),
    }
    if stage == "quick":
        out["note"] = (
            f"quick default: a LightGBM fitted in seconds on first start (held-out Kendall tau "
            f"{r.heldout.get('kendall_tau', float('nan')):.3f}); the default model replaces it when its training job "
            "finishes (GET /v1/ready)"
        )
    return out


def target_info(data: Workspace, record: Any) -> dict[str, Any]:
    """What a model's ``mean`` and ``std`` predict: the space, task and column, with the column's description."""
    table = data.table(record.space)
    dataset, metric = record.target
    info = table.info.get((dataset, metric))
    return {
        "space": record.space,
        "task": record.task,
        "column": f"{dataset}/{metric}",
        "dataset": dataset,
        "metric": metric,
        "unit": info.unit if info else "",
        "description": info.description if info else "",
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
    #: The quick LightGBM served until ``model`` is loaded (first start only), and its state.
    quick_id: str | None = None
    quick_status: str | None = None  # pending, loaded, failed
    quick: ServedModel | None = field(default=None, repr=False)

    @property
    def serving(self) -> tuple[ServedModel, str] | None:
        """The model answering predictions now and its stage (``final`` or ``quick``), if any."""
        if self.model is not None:
            return self.model, "final"
        if self.quick is not None:
            return self.quick, "quick"
        return None

    def describe(self, jobs: JobStore) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "model_id": self.model_id}
        if self.quick_id is not None:
            out["serving"] = "final" if self.model is not None else ("quick" if self.quick is not None else None)
            out["quick"] = {"status": self.quick_status, "model_id": self.quick_id}
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
    return model_id(
        settings.default_kind, space, task, settings.default_train_size, settings.default_seed, prefix="default"
    )


#: Longest the first start's zero-cost warm-up waits for users' jobs to finish before it runs anyway.
WARM_UP_PATIENCE_S = 600.0
#: After a user's job ends, the warm-up waits this long for the user to be done: the same generation asked again
#: (inline, about 4 s) took 11-12 s when the warm-up's decoding started with it.
WARM_UP_QUIET_S = 15.0


class ModelService:
    """Default predictors (trained by a job on first start), and models loaded on demand.

    Args:
        settings: Defaults.
        data: Workspace: the model store under its home, the tables (row counts for the prediction cache).
        jobs: The job table (training jobs for missing defaults).
    """

    def __init__(self, settings: Settings, data: Workspace, jobs: JobStore) -> None:
        self.settings = settings
        self.data = data
        self.jobs = jobs
        self.store = ArtifactStore(data.paths.model_dir)
        self.defaults: dict[tuple[str, str], DefaultModel] = {}
        self._loaded: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set once the zero-cost warm-up has run (see :meth:`_warm_zero_cost`).
        self.zero_cost_warm = False
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
            if self.settings.quick_defaults:
                d.quick_id = model_id(
                    "lgbm",
                    d.space,
                    d.task,
                    self.settings.default_train_size,
                    self.settings.default_seed,
                    prefix=QUICK_PREFIX,
                )
                d.quick_status = "pending"
            params = TrainPredictorParams(
                space=d.space,
                task=d.task,
                kind=self.settings.default_kind,
                n_train=self.settings.default_train_size,
                seed=self.settings.default_seed,
                model_id=d.model_id,
            ).model_dump(mode="json")
            key = f"default:{d.model_id}"
            # an earlier start's attempt that failed is tried again
            job, created = self.jobs.create("train_predictor", params, SYSTEM_OWNER, key, retry_failed=True)
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
        for d in self.defaults.values():  # first: something to serve within seconds
            if d.quick_status == "pending" and d.model is None and not self._stop.is_set():
                self._quick_default(d)
        if any(space == "nb201" for space, _ in self.defaults) and not self._stop.is_set():
            threading.Thread(target=self._warm_zero_cost, name="archgen-zc-warm-up", daemon=True).start()
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

    def _quick_default(self, d: DefaultModel) -> None:
        """Fit (or load, after a restart) the quick LightGBM for ``d``; it serves until the default is loaded."""
        assert d.quick_id is not None
        t0 = time.perf_counter()
        try:
            if d.quick_id not in self.store.ids():
                spec = TrainPredictorParams(
                    space=d.space,
                    task=d.task,
                    kind="lgbm",
                    n_train=self.settings.default_train_size,
                    seed=self.settings.default_seed,
                    model_id=d.quick_id,
                )
                train_predictor(spec, self.data, self.store)
            d.quick = self.get(d.quick_id)
        except ArchgenError as e:
            d.quick_status = "failed"
            log.error("quick default for %s/%s failed: %s", d.space, d.task, e)
            return
        d.quick_status = "loaded"
        log.info(
            "quick default for %s/%s serving (%s, held-out Kendall tau %.3f) after %.1f s; the %s default is training",
            d.space,
            d.task,
            d.quick_id,
            d.quick.record.heldout.get("kendall_tau", float("nan")),
            time.perf_counter() - t0,
            self.settings.default_kind,
        )

    def _users_busy(self) -> bool:
        """Whether a user's job is queued or running (the first start's background work waits for none)."""
        if any(owner != SYSTEM_OWNER for owner in self.jobs.running_by_owner()):
            return True
        return any(j.owner != SYSTEM_OWNER for j in self.jobs.list(status="queued", limit=50))

    def _warm_zero_cost(self) -> None:
        """Decode CIFAR-10 and run the proxies once, so that the first inline zero-cost request is quick.

        It waits while users' jobs are queued or running, and :data:`WARM_UP_QUIET_S` after the last one (up to
        :data:`WARM_UP_PATIENCE_S` in all): on a first start on 2 cores it would take a share of the cores from a
        user's first generation, and from the inline request that often follows its result. Predictions never
        wait for it (:meth:`Workspace.memo` builds each item under a lock of its own)."""
        deadline = time.monotonic() + WARM_UP_PATIENCE_S
        last_busy: float | None = None
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                if self._users_busy():
                    last_busy = time.monotonic()
                elif last_busy is None or time.monotonic() - last_busy >= WARM_UP_QUIET_S:
                    break
            except ArchgenError:
                break
            self._stop.wait(1.0)
        if self._stop.is_set():
            return
        t0 = time.perf_counter()
        try:
            warm_up(self.data)
        except ArchgenError as e:  # the data's own error is what /v1/zero-cost will answer
            log.warning("zero-cost warm-up skipped: %s", e)
            return
        self.zero_cost_warm = True
        log.info("zero-cost proxies warmed up in %.1f s (CIFAR-10 mini-batch decoded)", time.perf_counter() - t0)

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
                predictor, record = self.store.load(model_id, data=self.data, artifact_type="predictor")
                table = self.data.table(record.space)
                served = ServedModel(
                    predictor, record, table.search_space, table.num_rows, self.data.paths.prediction_dir
                )
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
