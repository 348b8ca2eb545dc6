"""Generating architectures for a task: the one pipeline behind ``archgen generate`` and ``POST /v1/generate``.

The diffusion generator of a space is trained once on every architecture of
the space (no labels: the space is known without them) and kept in the
artifact store under :func:`generator_id`; later calls load it.

Guidance, each by a noise-aware surrogate
(:mod:`archgen.generators.diffusion.guidance`) whose gradient is added to the
score:

* **accuracy on the task**: the surrogate is trained on ``labelled`` random
  cells of the task's table (the predictors' target,
  :func:`archgen.services.predictors.default_target`);
* **zero-cost** (``guide_by="zero-cost"``, no label at all): the surrogate is
  trained on the label-free zero-cost vote (:data:`ZC_VOTE` proxies, mean
  percentile, :class:`~archgen.predictors.zc_ensemble.ZCVotePredictor`) computed
  on the task's images for ``labelled`` random cells, for a task without a table;
* **prior** (``guide_by="prior"``, no label of the task): the surrogate is trained on the task's label-free
  prior (:func:`archgen.services.task_prior.task_prior`: other tasks' published accuracies, proxies on its
  images, its supernet when stored), a percentile, for ``labelled`` random cells;
* **transfer** (``transfer_from``): trained only on *other* tasks' labels (the
  mean of their standardised targets on ``labelled`` random cells; never the
  task itself or a task on the same images), as DiffusionNAG's meta-predictor;
  the generated pool (``pool`` candidates per architecture) is then ranked by an
  unnoised predictor (LightGBM on the encoding) trained on the same labels;
* **constraints** (``max_params``, ``max_flops``, ``max_latency_ms`` on a
  ``device``): a surrogate per bounded quantity, trained on the published
  measurements of ``CONSTRAINT_CELLS`` random cells (parameters and FLOPs as
  published with the proxies; latency from HW-NAS-Bench or HELP), keeps
  sampling under the budget; every returned architecture meets it by its
  published value (rejection), and the share of raw samples that met it before
  rejection is reported.

The loaded generator and the fitted surrogates are cached in the process, and
the surrogates also on disk under the cache directory (:class:`SurrogateFiles`:
a later process, a job's worker or the CLI, loads them instead of refitting;
:func:`inline_ready` says whether a request would be answered in seconds). Each architecture comes back with the surrogate's
predicted accuracy (when guided by the task's labels), the transfer ranking
score (with ``transfer_from``), its constrained quantities and parameters as
published, and its measured accuracy (the table's value).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from archgen.artifacts import ArtifactRecord, ArtifactStore
from archgen.datasets.store import atomic_write_bytes
from archgen.errors import NoSupernetError, UnknownNameError, UnsupportedSpaceError
from archgen.generators.base import GeneratorInputError, Guidance, get_generator
from archgen.generators.diffusion import DiffusionGenerator
from archgen.generators.diffusion.generator import OBJECTIVE
from archgen.predictors.base import get_predictor
from archgen.predictors.zerocost import IMAGE_TASKS, SUPPORTED_SPACES, score_archs
from archgen.services.predictors import predictor_kwargs, table_archs
from archgen.services.requests import GenerateRequest
from archgen.services.supernets import supernet_evaluator, supernet_records
from archgen.services.task_prior import task_prior
from archgen.spaces import get_space
from archgen.tasks.resolve import ResolvedTask, resolve_task

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.context import Workspace
    from archgen.datasets.tables import BenchmarkTable

log = logging.getLogger(__name__)

#: Training epochs of a space's generator unless the service's settings say otherwise.
GENERATOR_EPOCHS = 200
#: Seed of the space generator the service trains and uses.
GENERATOR_SEED = 0
#: Seconds per training epoch of an NB201 generator on an idle 2-core machine (for the CLI's estimate).
FULL_EPOCH_S = 2.1
#: Random cells whose published measurement trains a constraint's surrogate.
CONSTRAINT_CELLS = 2000
#: Training epochs of a constraint's surrogate (``benchmarks/bench_quick_generator.py sweep`` measured the choice).
CONSTRAINT_EPOCHS = 30
#: Cells drawn from the space's sampler to train the generator of a space its table does not enumerate.
SAMPLED_CELLS = 20_000
#: Unguided samples the space's generator draws after training to fit its validity surrogate (kept only where
#: at least ``MIN_INVALID`` of them are invalid: NB101).
VALIDITY_SAMPLES = 3000


@dataclass
class Generated:
    """One generated architecture.

    Attributes:
        architecture: Its string form.
        predicted: The objective surrogate's prediction for it: accuracy (guided by the task's labels), or
            the zero-cost vote, a percentile in [0, 1] (``guide_by="zero-cost"``).
        score: The transfer ranking predictor's score (standardised source accuracy).
        measured: The task's published accuracy (the target's table value).
        values: Published values of its parameters and every constrained quantity.
    """

    architecture: str
    predicted: float | None
    score: float | None
    measured: float | None
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass
class GenerateResult:
    space: str
    task: str
    target: str
    generator_id: str
    guided: bool
    transfer_from: list[str] | None = None
    constraints: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: list[Generated] = field(default_factory=list)
    drawn: int = 0
    valid: int = 0
    met_before_rejection: float | None = None
    #: Share of the returned architectures the generator was not trained on.
    novelty: float = 0.0
    #: Which generator answered: ``"full"`` (the space's generator) or ``"quick"`` (a few epochs, while the
    #: full one is not trained yet).
    generator_stage: str = "full"

    @property
    def validity(self) -> float:
        return self.valid / max(1, self.drawn)

    @property
    def uniqueness(self) -> float:
        return len({g.architecture for g in self.items}) / max(1, len(self.items))

    def summary(self) -> dict[str, Any]:
        """JSON form (validity and uniqueness added)."""
        return asdict(self) | {"validity": self.validity, "uniqueness": self.uniqueness}


def generator_id(space: str, epochs: int, seed: int) -> str:
    """Store id of a space's trained diffusion generator."""
    return f"diffusion-{space}-e{epochs}-s{seed}"


def generator_ready(
    store: ArtifactStore, space: str, epochs: int = GENERATOR_EPOCHS, seed: int = GENERATOR_SEED
) -> bool:
    """Whether the space's generator of ``epochs`` and ``seed`` is stored (trained)."""
    return generator_id(space, epochs, seed) in store.ids()


def training_cells(data: Workspace, space: str, seed: int) -> list[Arch]:
    """What a space's generator learns from (no labels): the whole space where the table enumerates it (NB201),
    else :data:`SAMPLED_CELLS` cells from the space's own sampler (NB101: the table holds 500 of its 423k cells)."""
    table = data.table(space)
    if table.enumerates:
        archs, _ = table_archs(table, *table.default_target(table.tasks()[0]))
        return archs
    return list(dict.fromkeys(data.space(space).sample(SAMPLED_CELLS, np.random.default_rng(seed))))


def space_generator(
    data: Workspace,
    store: ArtifactStore,
    space: str,
    *,
    epochs: int,
    steps: int,
    seed: int,
    validity_samples: int = VALIDITY_SAMPLES,
    on_progress: Callable[[float, str], None] | None = None,
) -> tuple[DiffusionGenerator, str]:
    """The space's diffusion generator: loaded from ``store``, or trained on every cell of the space and stored.

    ``validity_samples``: unguided samples of its validity probe (0: none; the quick generator skips it, as it
    takes a minute or two on a CPU and only NB101's samples are ever invalid). ``on_progress(fraction, message)``
    follows the training epochs when it trains.
    """

    gid = generator_id(space, epochs, seed)
    if not generator_ready(store, space, epochs, seed):
        with store.lock(gid):  # jobs needing it at once: one trains, the others wait and load
            if not generator_ready(store, space, epochs, seed):
                table = data.table(space)
                archs = training_cells(data, space, seed)
                gen = get_generator(
                    "diffusion", epochs=epochs, steps=steps, seed=seed, validity_samples=validity_samples
                )
                assert isinstance(gen, DiffusionGenerator)
                gen.on_progress = on_progress
                gen.fit(archs)
                gen.on_progress = None
                record = ArtifactRecord(
                    gid,
                    "diffusion",
                    space,
                    "",
                    [],
                    gen.get_params(),
                    seed,
                    [],
                    artifact_type="generator",
                    data_sources=dict(table.sources),
                )
                store.save(gen, record)
                return gen, gid
    gen, _ = store.load(gid, space, artifact_type="generator")
    gen.steps = steps
    return gen, gid


def prepared_generator(data: Workspace, space: str, *, epochs: int, seed: int) -> DiffusionGenerator:
    """The space's generator set up but not trained (:meth:`DiffusionGenerator.prepare`): what guidance
    surrogates are fitted on while :func:`space_generator` trains the same generator (they depend on its shape
    and cells only, so the fits are the ones the trained generator would make)."""
    gen = get_generator("diffusion", epochs=epochs, steps=200, seed=seed, validity_samples=0)
    assert isinstance(gen, DiffusionGenerator)
    return gen.prepare(training_cells(data, space, seed))


@dataclass(frozen=True)
class Bound:
    """A constraint of a request: its name, column, budget and unit."""

    name: str
    task: str
    metric: str
    budget: float
    unit: str
    description: str


def bounds_of(params: GenerateRequest, table: BenchmarkTable) -> list[Bound]:
    """The request's constraints as table columns.

    Raises:
        GeneratorInputError: a latency budget without a device or the reverse, or
            a quantity the table does not publish for the task.
        UnknownNameError: an unknown device.
    """

    out = []
    for name, budget, unit, what in (
        ("params", params.constraints.max_params, "M", "parameters"),
        ("flops", params.constraints.max_flops, "M", "FLOPs"),
    ):
        if budget is None:
            continue
        col = table.published_column(params.task, name)
        if col is None:
            raise GeneratorInputError(f"{table.space}/{params.task} publishes no {what}: max_{name} cannot be checked")
        out.append(Bound(name, *col, budget, unit, f"{what} (millions), as published"))
    if (params.constraints.max_latency_ms is None) != (params.constraints.device is None):
        raise GeneratorInputError("max_latency_ms and device go together: give both or neither")
    if params.constraints.max_latency_ms is not None and params.constraints.device is not None:
        t, m = table.device_column(params.task, params.constraints.device)
        src = "HW-NAS-Bench" if m.startswith("hw_") else ("HELP" if m.startswith("latency_") else "published")
        out.append(
            Bound(
                f"latency_{params.constraints.device}",
                t,
                m,
                params.constraints.max_latency_ms,
                "ms",
                f"{src} latency on {params.constraints.device} (ms)",
            )
        )
    return out


class _SurrogateCache:
    """Loaded generators and fitted surrogates by key, least recently used dropped first (thread-safe)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: fits take seconds
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def has(self, key: tuple) -> bool:
        with self._lock:
            return key in self._items


SURROGATES = _SurrogateCache()

#: Version of the surrogate files and of what their digest covers.
SURROGATE_FORMAT = 1


class SurrogateFiles:
    """Fitted guidance surrogates on disk (``<digest>.npz``: weights, label mean and std).

    Content-addressed: the digest (:func:`surrogate_digest`) covers the
    generator's shape, the fit's settings and every labelled cell with its
    label, so a file is only ever reused for the very same fit (a user task
    re-created under the same name, with other images, gets other files). An
    unreadable file is refitted and replaced; a cache that cannot be written
    costs a refit next time, never a failed request.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        return self.root / f"{digest}.npz"

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def load(self, digest: str) -> tuple[dict[str, np.ndarray], float, float] | None:
        """Weights, mean and std of the fit ``digest``; ``None`` when absent or unreadable."""
        try:
            with np.load(self.path(digest), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            mu, sd = float(arrays.pop("__mu__")), float(arrays.pop("__sd__"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            log.warning("surrogate file %s is unreadable (%s): refitting it", self.path(digest).name, e)
            return None
        return arrays, mu, sd

    def save(self, digest: str, weights: dict[str, np.ndarray], mu: float, sd: float) -> None:
        buf = io.BytesIO()
        np.savez(buf, __mu__=np.float64(mu), __sd__=np.float64(sd), **weights)
        try:
            atomic_write_bytes(self.path(digest), buf.getvalue())
        except OSError as e:
            log.warning("surrogate not cached on disk (%s): the next process refits it", e)


def surrogate_files(data: Workspace) -> SurrogateFiles:
    """The workspace's surrogate files (beside its other caches)."""
    return SurrogateFiles(data.paths.cache_dir / "surrogates")


def surrogate_shape(space: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a surrogate's network depends on: the space and the generator's width, depth, heads and SDE (not its
    trained weights, nor its epochs: the quick generator's surrogates serve the full one)."""
    return {"format": SURROGATE_FORMAT, "space": space, **{k: params.get(k) for k in ("sde", "dim", "depth", "heads")}}


def surrogate_digest(
    shape: dict[str, Any], cells: list[str], y: np.ndarray, seed: int, epochs: int, batch_size: int
) -> str:
    """The digest of one surrogate fit: the generator's shape, the settings, each labelled cell and its label."""
    h = hashlib.sha256(json.dumps([shape, seed, epochs, batch_size, len(cells)], sort_keys=True).encode())
    h.update("\n".join(cells).encode())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return h.hexdigest()[:40]


def shared_generator(
    data: Workspace,
    store: ArtifactStore,
    space: str,
    *,
    epochs: int,
    seed: int = 0,
    validity_samples: int = VALIDITY_SAMPLES,
    on_progress: Callable[[float, str], None] | None = None,
) -> tuple[DiffusionGenerator, frozenset[str]]:
    """The space's generator (:func:`space_generator`: trained on first use) and the string forms of its training
    cells, loaded once per process and store. Shared: work on :meth:`DiffusionGenerator.request_copy`."""

    def load() -> tuple[DiffusionGenerator, frozenset[str]]:
        gen, _ = space_generator(
            data, store, space, epochs=epochs, steps=200, seed=seed, validity_samples=validity_samples,
            on_progress=on_progress,
        )  # fmt: skip
        return gen, frozenset(_seen(gen))

    return SURROGATES.get((str(store.root), generator_id(space, epochs, seed)), load)  # type: ignore[no-any-return]


def _fit_one(
    gen: DiffusionGenerator,
    files: SurrogateFiles,
    digest: str,
    archs: list[Arch],
    y: np.ndarray,
    seed: int,
    epochs: int,
    batch_size: int,
    should_stop: Callable[[], bool] | None = None,
):
    """The surrogate of fit ``digest``: loaded from ``files``, or fitted on a scratch copy of ``gen`` (left as it
    was) and saved there."""
    scratch = gen.request_copy()
    scratch.surrogates_ = {}
    stored = files.load(digest)
    if stored is not None:
        try:
            scratch.set_surrogate(OBJECTIVE, *stored)
            return scratch.surrogates_[OBJECTIVE]
        except GeneratorInputError as e:
            log.warning("surrogate file %s: %s; refitting it", digest, e)
    scratch.fit_guidance(archs, y, epochs=epochs, seed=seed, batch_size=batch_size, should_stop=should_stop)
    files.save(digest, *scratch.surrogate_weights(OBJECTIVE))
    return scratch.surrogates_[OBJECTIVE]


def check_sources(table: BenchmarkTable, space: str, task: str, sources: tuple[str, ...]) -> None:
    """Refuse transfer sources that are unknown, or whose labels are the task's own.

    Raises:
        GeneratorInputError: a source that is the task itself or on the task's images.
        UnknownNameError: an unknown source task.
    """
    banned = {task} | table.same_image_tasks(task)
    for s in sources:
        if s not in table.tasks():
            raise UnknownNameError(f"transfer source task of space {space!r}", s, table.tasks())
        if s in banned:
            raise GeneratorInputError(
                f"transfer_from may not name {s!r}: its labels are {task}'s own (same task or same images)"
            )


def transfer_labels(
    table: BenchmarkTable, space: str, task: str, sources: tuple[str, ...], cells: int, seed: int
) -> tuple[list[Arch], np.ndarray]:
    """``cells`` random cells labelled by the mean of the source tasks' standardised targets.

    Raises:
        GeneratorInputError, UnknownNameError: see :func:`check_sources`.
    """
    check_sources(table, space, task, sources)
    cols = []
    for s in sources:
        v = np.asarray(table.column(*table.default_target(s)), dtype=np.float64)
        cols.append((v - np.nanmean(v)) / np.nanstd(v))
    mean = np.nanmean(np.stack(cols), axis=0) if len(cols) > 1 else cols[0]
    rows = np.flatnonzero(np.isfinite(mean))
    pick = np.random.default_rng(seed).choice(rows, min(cells, len(rows)), replace=False)
    sp = table.search_space
    return [sp.from_index(int(i)) for i in pick], mean[pick]


def _ranker(table: BenchmarkTable, params: GenerateRequest, data: Workspace):
    """The unnoised predictor that ranks a transfer pool: LightGBM on the encoding, fitted on the source labels.

    The source tables are complete, so it learns from every cell they label
    (the surrogate, whose fit costs more, from ``labelled`` of them).
    """
    assert params.transfer_from is not None
    archs, y = transfer_labels(table, params.space, params.task, params.transfer_from, table.num_rows, params.seed)
    kwargs = predictor_kwargs("lgbm", params.task, params.seed, zc="none")
    return get_predictor("lgbm", data=data, **kwargs).fit(archs, y)


#: Proxies of the zero-cost vote that guides without labels (the predictors' default vote, one per family).
ZC_VOTE = ("synflow", "jacov", "nwot", "params")


def random_cells(data: Workspace, space: str, cells: int, seed: int) -> list[Arch]:
    """Up to ``cells`` distinct random cells of the space (the label-free guides' training cells), drawn with ``seed``."""
    return data.space(space).sample_distinct(cells, np.random.default_rng(seed))


def zero_cost_labels(
    data: Workspace, space: str, task: str, cells: int, seed: int, on_cell: Callable[[int, int], None] | None = None
) -> tuple[list[Arch], np.ndarray]:
    """``cells`` random cells of the space, each labelled by its zero-cost vote on the task's images (no table).

    The proxies are computed on the built networks and a CIFAR-10 mini-batch
    (cached on disk per cell); the vote is each cell's mean percentile among
    the ``cells``. ``on_cell(done, total)`` follows the computation.
    """
    archs = random_cells(data, space, cells, seed)
    score_archs(archs, task, ZC_VOTE, data=data, on_cell=on_cell)  # fills the cache, with progress
    vote = get_predictor("zc_vote", data=data, task=task, proxies=ZC_VOTE, source="computed")
    return archs, np.asarray(vote.predict(archs), dtype=np.float64)


def supernet_labels(
    data: Workspace, space: str, task: str, cells: int, seed: int, on_cell: Callable[[int, int], None] | None = None
) -> tuple[list[Arch], np.ndarray, str]:
    """``cells`` random cells of the space labelled by the task's newest stored supernet (held-out accuracy of
    each path after batch-norm recalibration; no label of the task), and the supernet's id."""
    ev = supernet_evaluator(data, task)
    archs = random_cells(data, space, cells, seed)
    y = np.empty(len(archs))
    for k, a in enumerate(archs):
        y[k] = ev.evaluate([a])[0].value
        if on_cell is not None:
            on_cell(k + 1, len(archs))
    return archs, y, ev.source.removeprefix("supernet:")


@dataclass(frozen=True)
class GeneratePlan:
    """A checked request and what checking it found: the space's table and the constraints as table columns.

    :func:`check_request` makes it; :func:`generate` takes it, so a request is checked once.
    """

    request: GenerateRequest
    task: ResolvedTask
    table: BenchmarkTable
    bounds: list[Bound]


def check_request(params: GenerateRequest, data: Workspace) -> GeneratePlan:
    """Everything about a request that can be checked in milliseconds (the HTTP route does, before any job).

    Returns:
        The plan :func:`generate` executes.

    Raises:
        UnknownNameError: unknown space, task, device or source task.
        UnsupportedSpaceError: the diffusion generator does not support the space yet.
        GeneratorInputError: bad combinations (transfer without guidance, a source on the task's images...).
    """
    supported = DiffusionGenerator.capabilities.spaces
    if params.space not in supported:
        raise UnsupportedSpaceError("the diffusion generator", params.space, supported)

    resolved = resolve_task(data, params.space, params.task)  # unknown names raise listing the valid ones
    table, user = resolved.table, resolved.user
    if params.guide_by is None:  # a user task has no table: its label-free prior guides it unless told otherwise
        params = params.model_copy(update={"guide_by": "prior" if user else "table"})
    if user and params.guidance_scale > 0 and params.guide_by == "table":
        raise GeneratorInputError(
            f"user task {params.task!r} has no table: guide by 'prior' (its label-free prior), 'supernet' (its "
            "trained supernet) or 'zero-cost'"
        )
    if user and params.transfer_from is not None:
        raise GeneratorInputError("transfer_from ranks by other tasks' labels of the table's tasks: not for user tasks")
    bounds = bounds_of(params.model_copy(update={"task": table.hardware_task(params.task)}), table)
    if bounds and not table.enumerates:
        raise GeneratorInputError(
            f"constraints are met by published values, which the {params.space} table has for {table.num_rows} "
            "cells only: not available on this space yet"
        )
    if params.guide_by == "zero-cost":
        if params.guidance_scale == 0:
            raise GeneratorInputError("guide_by='zero-cost' needs guidance_scale > 0")
        if params.transfer_from is not None:
            raise GeneratorInputError("guide_by='zero-cost' and transfer_from exclude each other")
        if params.space not in SUPPORTED_SPACES:
            raise GeneratorInputError(
                f"zero-cost guidance builds the networks, which archgen can for {', '.join(SUPPORTED_SPACES)} only"
            )
        if params.task not in IMAGE_TASKS and not user:
            raise GeneratorInputError(
                f"zero-cost guidance computes the proxies on the task's images; archgen has images for "
                f"{', '.join(IMAGE_TASKS)} and the user tasks, not {params.task!r}"
            )
    if params.guide_by == "prior":
        if params.guidance_scale == 0 or params.transfer_from is not None:
            raise GeneratorInputError("guide_by='prior' needs guidance_scale > 0 and no transfer_from")
        if params.space != "nb201" or (params.task not in IMAGE_TASKS and not user):
            raise GeneratorInputError(
                f"a task's prior is of the nb201 space and reads the proxies on its images (archgen has images for "
                f"{', '.join(IMAGE_TASKS)} and the user tasks), not {params.space}/{params.task}"
            )
    if params.guide_by == "supernet":
        if params.guidance_scale == 0:
            raise GeneratorInputError("guide_by='supernet' needs guidance_scale > 0")
        if params.transfer_from is not None:
            raise GeneratorInputError("guide_by='supernet' and transfer_from exclude each other")
        if params.space != "nb201":
            raise GeneratorInputError(f"supernets are of the nb201 space, not {params.space!r}")
        if not supernet_records(data.owned, params.task):
            raise NoSupernetError(
                f"task {params.task!r} has no trained supernet to guide by: train one first (POST /v1/supernets with "
                f'{{"task": "{params.task}"}}, or `archgen supernets train --task {params.task}`)'
            )
    if params.transfer_from is not None:
        if params.guidance_scale == 0:
            raise GeneratorInputError("transfer_from needs guidance_scale > 0")
        check_sources(table, params.space, params.task, params.transfer_from)
    return GeneratePlan(params, resolved, table, bounds)


@dataclass(frozen=True)
class _GuidanceInputs:
    """What every guidance builder reads: the checked request, where data and models are, the space's generator."""

    plan: GeneratePlan
    data: Workspace
    store: ArtifactStore
    base: DiffusionGenerator
    gid: str
    say: Callable[[str], None]
    report: Callable[[float, str], None]
    archs: list[Arch]  # the cells with a published target, in row order (empty for a user task)
    y: np.ndarray  # their published target
    shape: dict[str, Any]  # the generator's surrogate_shape
    #: A dry run (:func:`inline_ready`): ``fit`` records whether each surrogate is cached instead of fitting it.
    probe: list[bool] | None = None
    #: Set when the fits are abandoned (they run beside the generator's training, which failed or was cancelled).
    stop: threading.Event | None = None

    def fit(self, key: tuple, archs: list[Arch], y: np.ndarray, epochs: int, batch_size: int) -> Any:
        """A noise-aware surrogate of ``y`` on the generator's latent: from the process's cache, the surrogate
        files, or fitted (and then kept in both). ``key`` names the fit in messages only: the cache keys are the
        fit's digest."""
        p, files = self.plan.request, surrogate_files(self.data)
        sp = get_space(p.space)
        digest = surrogate_digest(self.shape, [sp.format(a) for a in archs], y, p.seed, epochs, batch_size)
        mem = ("surrogate", str(files.root), digest)
        if self.probe is not None:
            self.probe.append(SURROGATES.has(mem) or files.has(digest))
            return None
        stop = None if self.stop is None else self.stop.is_set
        return SURROGATES.get(
            mem, lambda: _fit_one(self.base, files, digest, archs, y, p.seed, epochs, batch_size, stop)
        )


@dataclass(frozen=True)
class _Objective:
    """The objective guidance of a request: its surrogate (``None``: unguided), what it stands for, and the
    ranking predictor that orders a transfer request's pool."""

    surrogate: Any
    target: tuple[str, str]
    ranker: Any = None


def _table_guidance(g: _GuidanceInputs, target: tuple[str, str]) -> _Objective:
    """The task's published accuracy of ``labelled`` random cells of its table."""
    p = g.plan.request
    archs, y = g.archs, g.y
    pick = np.random.default_rng(p.seed).choice(len(archs), min(p.labelled_cells(), len(archs)), replace=False)
    g.say(f"surrogate on {len(pick)} labelled cells of {'/'.join(target)}")
    la, ly = [archs[i] for i in pick], y[pick]
    return _Objective(g.fit(("task", p.space, target, p.labelled_cells(), p.seed), la, ly, 300, 128), target)


def _transfer_guidance(g: _GuidanceInputs, target: tuple[str, str]) -> _Objective:
    """Other tasks' labels only; a LightGBM on the same labels ranks the pool."""
    p = g.plan.request
    assert p.transfer_from is not None
    src, cells = p.transfer_from, p.labelled_cells()
    xa, xy = transfer_labels(g.plan.table, p.space, p.task, src, cells, p.seed)
    g.say(f"transfer: surrogate and ranking predictor on {len(xa)} cells labelled by {', '.join(src)} only")
    key = ("transfer", p.space, p.task, src, cells, p.seed)
    rkey = (str(g.store.root), g.gid, *key, "ranker")
    if g.probe is not None:
        g.probe.append(SURROGATES.has(rkey))  # a LightGBM fit, kept in the process only
        return _Objective(g.fit(key, xa, xy, 100, 256), target)
    ranker = SURROGATES.get(rkey, lambda: _ranker(g.plan.table, p, g.data))
    return _Objective(g.fit(key, xa, xy, 100, 256), target, ranker)


def _zero_cost_guidance(g: _GuidanceInputs, target: tuple[str, str]) -> _Objective:
    """No label: the zero-cost vote computed on the task's images for ``labelled`` random cells."""
    p = g.plan.request
    cells = p.labelled_cells()
    g.say(f"zero-cost vote ({', '.join(ZC_VOTE)}) on {p.task}'s images for {cells} random cells (no labels)")
    za, zy = zero_cost_labels(
        g.data, p.space, p.task, cells, p.seed,
        on_cell=lambda d, t: g.report(0.4 + 0.2 * d / max(t, 1), f"guidance: zero-cost scores, {d}/{t} cells"),
    )  # fmt: skip
    key = ("zero-cost", p.space, p.task, cells, p.seed)
    return _Objective(g.fit(key, za, zy, 300, 128), ("zc_vote", "+".join(ZC_VOTE)))


def _supernet_guidance(g: _GuidanceInputs, target: tuple[str, str]) -> _Objective:
    """No label: the task's newest stored supernet's estimates of ``labelled`` random cells."""
    p = g.plan.request
    cells = p.labelled_cells()
    sa, sy, sid = supernet_labels(
        g.data, p.space, p.task, cells, p.seed,
        on_cell=lambda d, t: g.report(0.4 + 0.2 * d / max(t, 1), f"guidance: supernet estimates, {d}/{t} cells"),
    )  # fmt: skip
    g.say(f"supernet {sid}: held-out accuracy of {len(sa)} random cells' paths on {p.task} (no labels)")
    return _Objective(g.fit(("supernet", sid, p.space, p.task, cells, p.seed), sa, sy, 300, 128), ("supernet", sid))


def _prior_guidance(g: _GuidanceInputs, target: tuple[str, str]) -> _Objective:
    """No label of the task: its label-free prior's percentile of ``labelled`` random cells."""
    p = g.plan.request
    cells = p.labelled_cells()
    prior = task_prior(
        g.data, p.task,
        on_cell=lambda d, t: g.report(0.4 + 0.05 * d / max(t, 1), f"guidance: the prior's reference cells, {d}/{t}"),
    )  # fmt: skip
    g.say(f"{prior.describe()}: its percentile of {cells} random cells (no label of {p.task})")
    archs = random_cells(g.data, p.space, cells, p.seed)
    vals = prior.values(
        archs, on_cell=lambda d, t: g.report(0.45 + 0.15 * d / max(t, 1), f"guidance: prior's sources, {d}/{t} cells")
    )
    y, _ = prior.model.percentile(vals)
    key = ("prior", p.space, p.task, prior.supernet_id, cells, p.seed)
    return _Objective(g.fit(key, archs, np.asarray(y, dtype=np.float64), 300, 128), ("prior", "percentile"))


#: The objective guidance of each ``guide_by`` (``transfer_from`` takes precedence: it is table guidance by
#: other tasks' labels).
_GUIDANCE = {
    "table": _table_guidance,
    "zero-cost": _zero_cost_guidance,
    "supernet": _supernet_guidance,
    "prior": _prior_guidance,
}


def _objective_guidance(g: _GuidanceInputs, target: tuple[str, str]) -> _Objective:
    """The request's objective guidance, from the builder of its source (none when ``guidance_scale`` is 0)."""
    p = g.plan.request
    if p.guidance_scale == 0:
        return _Objective(None, target)
    build = _transfer_guidance if p.transfer_from is not None else _GUIDANCE[p.guide_by or "table"]
    return build(g, target)


def _bound_columns(plan: GeneratePlan) -> dict[str, np.ndarray]:
    """The published column of each constraint, and of parameters (reported beside every architecture)."""
    table, p = plan.table, plan.request
    cols = {b.name: np.asarray(table.column(b.task, b.metric), dtype=np.float64) for b in plan.bounds}
    pcol = table.published_column(table.hardware_task(p.task), "params")
    if pcol is not None and "params" not in cols:
        cols["params"] = np.asarray(table.column(*pcol), dtype=np.float64)
    return cols


def _constraint_surrogates(g: _GuidanceInputs, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    """A surrogate per constraint on :data:`CONSTRAINT_CELLS` published cells (none with ``constraint_scale`` 0)."""
    p, sp = g.plan.request, g.plan.table.search_space
    out: dict[str, Any] = {}
    if p.constraint_scale == 0:
        return out
    for b in g.plan.bounds:
        g.say(f"constraint surrogate: {b.description} on {CONSTRAINT_CELLS} cells")
        rows = np.flatnonzero(np.isfinite(cols[b.name]))
        pick = np.random.default_rng(p.seed + 7).choice(rows, min(CONSTRAINT_CELLS, len(rows)), replace=False)
        ca, cy = [sp.from_index(int(i)) for i in pick], cols[b.name][pick]
        out[b.name] = g.fit(("bound", p.space, b.task, b.metric, p.seed), ca, cy, CONSTRAINT_EPOCHS, 256)
    return out


def _fits_only(plan: GeneratePlan) -> bool:
    """Whether the request's guidance is surrogates fitted on labels at hand (the table's, other tasks', the
    constraints' columns): no label is computed first (zero-cost scores, a supernet's estimates)."""
    p = plan.request
    return not plan.task.user and (p.guidance_scale == 0 or p.transfer_from is not None or p.guide_by == "table")


class _Beside:
    """A request's guidance surrogates fitted in a thread of their own while its generator trains.

    A surrogate depends on the generator's shape and training cells, not on its weights (:func:`surrogate_shape`),
    so it is fitted on a prepared generator at the same time: on two cores the first generation takes the longer
    of the two instead of their sum. The fits are the same as after the training (same digest, same files).
    """

    def __init__(self, g: _GuidanceInputs, target: tuple[str, str], cols: dict[str, np.ndarray]) -> None:
        assert g.stop is not None
        self._g = g
        self._out: tuple[_Objective, dict[str, Any]] | None = None
        self._err: BaseException | None = None
        # the two works share the caller's torch threads (the CLI's cores; a job's 1 stays 1): oversubscribed,
        # each slows the other (a first CLI generation measured 43-45 s with 2 threads each, 34-36 s with 1)
        self._threads = torch.get_num_threads()
        self._half = max(1, self._threads // 2)
        torch.set_num_threads(self._half)
        self._thread = threading.Thread(target=self._run, args=(target, cols), name="guidance-beside", daemon=True)
        self._thread.start()

    def _run(self, target: tuple[str, str], cols: dict[str, np.ndarray]) -> None:
        torch.set_num_threads(self._half)
        try:
            self._out = (_objective_guidance(self._g, target), _constraint_surrogates(self._g, cols))
        except BaseException as e:  # handed to the request's thread by result()
            self._err = e

    def result(self) -> tuple[_Objective, dict[str, Any]]:
        self._thread.join()
        torch.set_num_threads(self._threads)
        if self._err is not None:
            raise self._err
        assert self._out is not None
        return self._out

    def abandon(self) -> None:
        """Stop the fits at their next epoch (the training failed or was cancelled); nothing waits for them."""
        assert self._g.stop is not None
        self._g.stop.set()
        torch.set_num_threads(self._threads)


def _stage(
    store: ArtifactStore, space: str, generator_epochs: int, generator_seed: int, quick_epochs: int | None
) -> tuple[str, int]:
    """Which generator answers (``"full"`` or ``"quick"``) and its epochs: the quick one while the full one is not
    stored."""
    if (
        quick_epochs is not None
        and quick_epochs < generator_epochs
        and not generator_ready(store, space, generator_epochs, generator_seed)
    ):
        return "quick", quick_epochs
    return "full", generator_epochs


def inline_ready(
    plan: GeneratePlan,
    data: Workspace,
    store: ArtifactStore,
    *,
    generator_epochs: int = GENERATOR_EPOCHS,
    generator_seed: int = GENERATOR_SEED,
    quick_epochs: int | None = None,
) -> bool:
    """Whether :func:`generate` would answer ``plan`` in seconds: its generator is stored and every surrogate it
    needs is cached (in this process or on disk). Nothing is fitted or trained; guidance by zero-cost scores or a
    supernet (which computes labels first) is never quick."""
    p = plan.request
    if plan.task.user or (p.guidance_scale > 0 and p.transfer_from is None and p.guide_by != "table"):
        return False
    _, epochs = _stage(store, p.space, generator_epochs, generator_seed, quick_epochs)
    if not generator_ready(store, p.space, epochs, generator_seed):
        return False
    gid = generator_id(p.space, epochs, generator_seed)
    target = plan.table.default_target(p.task)
    archs, y = table_archs(plan.table, *target)
    shape = surrogate_shape(p.space, store.record(gid).params)
    noop = lambda *_a: None
    probe: list[bool] = []
    inputs = _GuidanceInputs(plan, data, store, None, gid, noop, noop, archs, y, shape, probe)  # type: ignore[arg-type]
    _objective_guidance(inputs, target)
    _constraint_surrogates(inputs, _bound_columns(plan))
    return all(probe)


def generate(
    request: GenerateRequest | GeneratePlan,
    data: Workspace,
    store: ArtifactStore,
    *,
    generator_epochs: int = GENERATOR_EPOCHS,
    generator_seed: int = GENERATOR_SEED,
    quick_epochs: int | None = None,
    log: Callable[[str], None] | None = None,
    on_progress: Callable[[float, str], None] | None = None,
) -> GenerateResult:
    """Architectures for the request's task (see the module docstring).

    Progress phases: the generator (0-0.4, trained on first use), the guidance (0.4-0.6), sampling (0.6-1).
    ``request`` is a request, or the plan :func:`check_request` made of it (then it is not checked again).
    ``generator_epochs`` and ``generator_seed`` name the space's generator (a server setting: trained once
    per pair and stored). With ``quick_epochs`` (fewer than ``generator_epochs``), a generator trained for that many
    epochs answers while the full one is not stored (``generator_stage`` says which answered; the caller trains the
    full one, as the service's ``train_generator`` job does). ``on_progress(fraction, message)`` is called as
    sampling moves (jobs report it and stop there when cancelled).

    Raises:
        UnknownNameError: unknown space, task, device or source task.
        UnsupportedSpaceError: the diffusion generator does not support the space yet.
        GeneratorInputError: a budget too few architectures meet, bad combinations.
    """
    say = log or (lambda _m: None)
    plan = request if isinstance(request, GeneratePlan) else check_request(request, data)
    params, table, bounds = plan.request, plan.table, plan.bounds
    user = plan.task.user
    target = ("supernet", "heldout_acc") if user else table.default_target(params.task)
    transfer = params.transfer_from is not None
    report = on_progress or (lambda _f, _m: None)
    stage, generator_epochs = _stage(store, params.space, generator_epochs, generator_seed, quick_epochs)
    say(f"{stage} generator for {params.space} ({generator_epochs} epochs; trained once, then loaded from the store)")
    gid = generator_id(params.space, generator_epochs, generator_seed)
    archs: list[Arch] = []
    y = np.empty(0)
    measured: dict = {}
    if not user:
        archs, y = table_archs(table, *target)
        measured = dict(zip(archs, y, strict=True))
    sp = table.search_space
    cols = _bound_columns(plan)

    beside = None
    if _fits_only(plan) and not generator_ready(store, params.space, generator_epochs, generator_seed):
        # the generator trains first: its surrogates are fitted meanwhile, on a prepared copy of its shape
        prepared = prepared_generator(data, params.space, epochs=generator_epochs, seed=generator_seed)
        shape = surrogate_shape(params.space, prepared.get_params())
        early = _GuidanceInputs(
            plan, data, store, prepared, gid, say, lambda _f, _m: None, archs, y, shape, stop=threading.Event()
        )
        beside = _Beside(early, target, cols)
    try:
        base, seen = shared_generator(
            data, store, params.space, epochs=generator_epochs, seed=generator_seed,
            validity_samples=0 if stage == "quick" else VALIDITY_SAMPLES,
            on_progress=lambda f, m: report(0.4 * f, f"{stage} generator for {params.space}: {m}"),
        )  # fmt: skip
    except BaseException:
        if beside is not None:
            beside.abandon()
        raise
    report(0.4, "guidance: surrogates")
    gen = base.request_copy()  # the request's own surrogates go beside the validity one
    gen.steps = params.steps
    if beside is not None:
        objective, constraint_surrogates = beside.result()
    else:
        shape = surrogate_shape(params.space, base.get_params())
        inputs = _GuidanceInputs(plan, data, store, base, gid, say, report, archs, y, shape)
        objective = _objective_guidance(inputs, target)
        constraint_surrogates = _constraint_surrogates(inputs, cols)
    target, ranker = objective.target, objective.ranker
    if objective.surrogate is not None:
        gen.surrogates_[OBJECTIVE] = objective.surrogate
    gen.surrogates_.update(constraint_surrogates)

    def meets(cand: list) -> np.ndarray:
        ok = np.ones(len(cand), dtype=bool)
        idx = sp.indices(cand)
        for b in bounds:
            v = cols[b.name][idx]
            ok &= np.isfinite(v) & (v <= b.budget)
        return ok

    guidance = Guidance(
        score=None if ranker is None else ranker.predict,
        scale=params.guidance_scale,
        constraint=meets if bounds else None,
        bounds={b.name: b.budget for b in bounds} if params.constraint_scale > 0 else {},
        bound_scale=params.constraint_scale,
    )
    gen.pool, gen.method = params.pool, params.method
    report(0.6, "sampling")
    gen.on_progress = lambda f, m: report(0.6 + 0.4 * f, f"sampling: {m}")
    say(f"sampling {params.n} architectures ({params.steps} steps, guidance scale {params.guidance_scale:g})")
    try:
        out = gen.sample(params.n, rng=np.random.default_rng(params.seed + 1), guidance=guidance)
    except GeneratorInputError as e:
        raise GeneratorInputError(
            f"{e} (constraints: {', '.join(f'{b.name} <= {b.budget:g} {b.unit}' for b in bounds)})"
        ) from None
    stats = gen.last_stats_
    result = GenerateResult(
        params.space,
        params.task,
        "/".join(target),
        gid,
        params.guidance_scale > 0,
        list(params.transfer_from) if transfer else None,
        {
            b.name: {"max": b.budget, "unit": b.unit, "source": b.description, "column": f"{b.task}/{b.metric}"}
            for b in bounds
        },
        drawn=stats["drawn"],
        valid=stats["valid"],
        met_before_rejection=stats["met"] / max(1, stats["valid"]) if bounds else None,
        generator_stage=stage,
    )
    predicted: list[float | None] = [None] * len(out)
    if params.guidance_scale > 0 and not transfer:
        predicted = [float(v) for v in gen.guidance_mean(out)]
    scores: list[float | None] = [None] * len(out)
    if ranker is not None:
        scores = [float(v) for v in ranker.predict(out)]
    idx = sp.rows_or_missing(out)
    for i, (a, p, s) in enumerate(zip(out, predicted, scores, strict=True)):
        m = measured.get(a)
        values = {k: (float(c[idx[i]]) if idx[i] >= 0 and np.isfinite(c[idx[i]]) else None) for k, c in cols.items()}
        result.items.append(Generated(sp.format(a), p, s, None if m is None else float(m), values))
    result.novelty = float(np.mean([g.architecture not in seen for g in result.items])) if result.items else 0.0
    return result


def _seen(gen: DiffusionGenerator) -> list[str]:
    """String forms of the cells the generator was trained on (in memory after a fit, from the store after a load)."""
    if getattr(gen, "seen_", None):
        space = get_space(gen.space_)
        return [space.format(a) for a in gen.seen_]
    return [s for s in getattr(gen, "seen_text_", "").split("\n") if s]


__all__ = [
    "CONSTRAINT_CELLS",
    "Bound",
    "GenerateRequest",
    "GenerateResult",
    "Generated",
    "bounds_of",
    "check_request",
    "generate",
    "generator_id",
    "inline_ready",
    "prepared_generator",
    "shared_generator",
    "space_generator",
    "transfer_labels",
    "zero_cost_labels",
]
