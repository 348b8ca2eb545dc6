"""Generating architectures for a task: the one pipeline behind ``archgen generate`` (and, next, ``/v1/generate``).

The diffusion generator of a space is trained once on every architecture of
the space (no labels: the space is known without them) and kept in the
artifact store under :func:`generator_id`; later calls load it. Guidance
toward a task's accuracy trains the noise-aware surrogate on ``labelled``
random cells of the task's table (the predictors' target,
:func:`archgen.predictors.training.default_target`); a parameter budget is a
constraint every sample meets. Each generated architecture comes back with
the surrogate's predicted accuracy (when guided), its parameter count and its
measured accuracy (the table's value: NB201 has one for every cell).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from archgen.artifacts import ArtifactRecord, ArtifactStore
from archgen.generators.base import Guidance, get_generator
from archgen.generators.diffusion import DiffusionGenerator

if TYPE_CHECKING:
    from archgen.context import Workspace


class GenerateParams(BaseModel):
    """A generation request (validated at the edge: CLI, HTTP).

    Attributes:
        space, task: Search space and the task whose accuracy guidance raises.
        n: Architectures to return.
        guidance_scale: Strength of the surrogate's gradient (0: unguided).
        labelled: Cells of the task's table the surrogate is trained on.
        max_params: Parameter budget in millions (``None``: none).
        seed: Seed of the labelled draw, the surrogate and the samples.
        epochs, steps: Training epochs and sampling steps of the generator.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field("nb201", min_length=1, max_length=64)
    task: str = Field("cifar10", min_length=1, max_length=64)
    n: int = Field(100, ge=1, le=10_000)
    guidance_scale: float = Field(20.0, ge=0, le=1000, allow_inf_nan=False)
    labelled: int = Field(156, ge=8, le=5000)
    max_params: float | None = Field(None, gt=0, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    epochs: int = Field(200, ge=1, le=2000)
    steps: int = Field(200, ge=1, le=2000)


@dataclass
class Generated:
    architecture: str
    predicted: float | None
    params_m: float | None
    measured: float | None


@dataclass
class GenerateResult:
    space: str
    task: str
    target: str
    generator_id: str
    guided: bool
    items: list[Generated] = field(default_factory=list)
    drawn: int = 0
    valid: int = 0

    @property
    def uniqueness(self) -> float:
        return len({g.architecture for g in self.items}) / max(1, len(self.items))


def generator_id(space: str, epochs: int, seed: int) -> str:
    """Store id of a space's trained diffusion generator."""
    return f"diffusion-{space}-e{epochs}-s{seed}"


def space_generator(
    data: Workspace, store: ArtifactStore, space: str, *, epochs: int, steps: int, seed: int
) -> tuple[DiffusionGenerator, str]:
    """The space's diffusion generator: loaded from ``store``, or trained on every cell of the space and stored."""
    from archgen.predictors.training import default_target, table_archs

    gid = generator_id(space, epochs, seed)
    if gid in store.ids():
        gen, _ = store.load(gid, space, artifact_type="generator")
        gen.steps = steps
        return gen, gid
    table = data.table(space)
    archs, _ = table_archs(table, *default_target(table, table.tasks()[0]))
    gen = get_generator("diffusion", epochs=epochs, steps=steps, seed=seed).fit(archs)
    assert isinstance(gen, DiffusionGenerator)
    record = ArtifactRecord(
        gid, "diffusion", space, "", [], gen.get_params(), seed, [], artifact_type="generator",
        data_sources=dict(table.sources),
    )
    store.save(gen, record)
    return gen, gid


def generate(
    params: GenerateParams, data: Workspace, store: ArtifactStore, *, log: Callable[[str], None] | None = None
) -> GenerateResult:
    """Architectures for ``params.task`` (see the module docstring).

    Raises:
        UnknownNameError: unknown space or task.
        UnsupportedSpaceError: the diffusion generator does not support the space yet.
        GeneratorInputError: a budget too few architectures meet.
    """
    from archgen.errors import UnknownNameError, UnsupportedSpaceError
    from archgen.predictors.training import default_target, table_archs

    say = log or (lambda _m: None)
    supported = DiffusionGenerator.capabilities.spaces
    if params.space not in supported:
        raise UnsupportedSpaceError("the diffusion generator", params.space, supported)
    table = data.table(params.space)
    if params.task not in table.tasks():
        raise UnknownNameError(f"task of space {params.space!r}", params.task, table.tasks())
    target = default_target(table, params.task)
    say(f"generator for {params.space} (trained once, then loaded from the store)")
    gen, gid = space_generator(data, store, params.space, epochs=params.epochs, steps=params.steps, seed=params.seed)
    archs, y = table_archs(table, *target)
    measured = dict(zip(archs, y, strict=True))
    params_col = np.asarray(table.column(params.task if params.space != "nb201" else "cifar10", "params"), dtype=float)
    sp = table.search_space

    def n_params(cells: list) -> np.ndarray:
        return params_col[sp.indices(cells)]

    constraint = None
    if params.max_params is not None:
        budget = params.max_params
        constraint = lambda cells: n_params(cells) <= budget
    guided = params.guidance_scale > 0
    if guided:
        rng = np.random.default_rng(params.seed)
        pick = rng.choice(len(archs), min(params.labelled, len(archs)), replace=False)
        say(f"surrogate on {len(pick)} labelled cells of {'/'.join(target)}")
        gen.fit_guidance([archs[i] for i in pick], y[pick], seed=params.seed)
    say(f"sampling {params.n} architectures ({params.steps} steps, guidance scale {params.guidance_scale:g})")
    cells = gen.sample(
        params.n, rng=np.random.default_rng(params.seed + 1), guidance=Guidance(scale=params.guidance_scale, constraint=constraint)
    )
    predicted: list[float | None] = [None] * len(cells)
    if guided:
        predicted = [float(v) for v in gen.guidance_mean(cells)]
    sizes = n_params(cells)
    result = GenerateResult(params.space, params.task, "/".join(target), gid, guided, drawn=gen.last_stats_["drawn"], valid=gen.last_stats_["valid"])
    for a, p, s in zip(cells, predicted, sizes, strict=True):
        m = measured.get(a)
        result.items.append(Generated(sp.format(a), p, float(s) if np.isfinite(s) else None, None if m is None else float(m)))
    return result
