"""One request model per operation that several edges submit: the HTTP body, the CLI's parameters and the
stored job's parameters are the same validated object.

:class:`GenerateRequest` (``POST /v1/generate``, ``archgen generate``, the ``generate`` job) and
:class:`ZeroCostRequest` (``POST /v1/zero-cost``, the ``zero_cost`` job). Server settings (the space
generator's training epochs and seed) are not part of them: the service passes them beside them.
Other operations' models live beside their service: ``SearchParams`` (:mod:`archgen.services.search`),
``TrainPredictorParams`` (:mod:`archgen.services.predictors`), ``SupernetParams``
(:mod:`archgen.services.supernets`), ``TrainingParams`` (:mod:`archgen.training.trainer`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints, field_validator

#: An architecture as its space's string form (``|nor_conv_3x3~0|+...``) or its index in the benchmark table.
ArchitectureIn = Annotated[
    StrictStr | StrictInt,
    Field(description="The space's string form (the NB201 arch string) or the row index in its benchmark table."),
]
#: A name of a space, task, device or source task.
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: Default number of labelled cells: of the task, or of the source tasks with transfer.
DEFAULT_LABELLED = 156
DEFAULT_TRANSFER_LABELLED = 2000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constraints(_Request):
    """Budgets every returned architecture meets by its published value (``None``: no budget)."""

    max_params: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False, description="Parameters, millions.")
    max_flops: float | None = Field(None, gt=0, le=1e9, allow_inf_nan=False, description="FLOPs, millions.")
    max_latency_ms: float | None = Field(
        None, gt=0, le=1e6, allow_inf_nan=False, description="Latency on `device`, ms."
    )
    device: Name | None = Field(
        None, description="Device of the latency budget: an HW-NAS-Bench (edgegpu, pixel3...) or HELP name."
    )


class GenerateRequest(_Request):
    """A generation request.

    Attributes:
        space, task: Search space and the task whose accuracy guidance raises.
        n: Architectures to return.
        guidance_scale: Strength of the accuracy surrogate's gradient (0: unguided).
        constraints: Budgets (parameters, FLOPs, latency on a device), followed by gradient and met by rejection.
        constraint_scale: Strength of the constraints' gradient (0: rejection only).
        transfer_from: Guide by these other tasks' labels only (none of the task's).
        guide_by: What the objective surrogate learns (default: ``"table"`` for a benchmark task, ``"prior"`` for
            a user task): ``"table"``, the task's published accuracy on
            ``labelled`` cells; ``"zero-cost"``, no label: the zero-cost vote computed on the task's images;
            ``"supernet"``, no label: the task's newest stored supernet's estimates; ``"prior"``, no label of the
            task: its label-free prior (:mod:`archgen.services.task_prior`: other tasks' published accuracies,
            proxies on its images, its supernet when stored).
        labelled: Cells the accuracy surrogate is trained on (default 156; 2,000 with ``transfer_from``).
        pool: Candidates generated per returned architecture when a ranking predictor orders them (transfer).
        steps, method: Sampling steps and sampler (``pc`` predictor-corrector, DiffusionNAG's; ``euler``
            reverse SDE; ``ode`` probability flow).
        seed: Seed of the labelled draw, the surrogates and the samples.
    """

    space: Name = "nb201"
    task: Name = "cifar10"
    n: int = Field(16, ge=1, le=10_000, description="Architectures to return; above the inline limit, a job.")
    guidance_scale: float = Field(20.0, ge=0, le=1000, allow_inf_nan=False, description="0: unguided.")
    constraints: Constraints = Field(default_factory=Constraints)
    constraint_scale: float = Field(30.0, ge=0, le=1000, allow_inf_nan=False, description="0: rejection only.")
    transfer_from: tuple[Name, ...] | None = Field(
        None, min_length=1, max_length=8, description="Guide by these other tasks' labels only (none of the task's)."
    )
    guide_by: Literal["table", "zero-cost", "supernet", "prior"] | None = Field(
        None,
        description="default: table for a benchmark task, prior for a user task. table: the task's published "
        "accuracy on `labelled` cells; zero-cost: no label, the zero-cost "
        "vote computed on the task's images for `labelled` cells (always a job: the proxies take about 1 s a cell); "
        "supernet: no label, the task's newest stored supernet's estimates of `labelled` cells (always a job; the "
        "guide of a user task, which has no table); prior: no label of the task, its label-free prior's percentile "
        "of `labelled` cells (other tasks' published accuracies, proxies on its images, its supernet when stored; "
        "always a job).",
    )
    labelled: int | None = Field(
        None, ge=8, le=15_625, description="Cells the accuracy surrogate learns from (156; 2,000 with transfer)."
    )
    pool: int = Field(4, ge=1, le=64, description="Candidates per returned architecture when transfer ranks them.")
    steps: int = Field(200, ge=1, le=1000, description="Sampling steps.")
    method: Literal["pc", "euler", "ode"] = Field(
        "pc",
        description="Sampler: predictor-corrector (DiffusionNAG's), reverse-SDE Euler (fastest), probability-flow ODE.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @field_validator("transfer_from", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):  # the CLI's comma-separated form
            return tuple(s.strip() for s in v.split(",") if s.strip())
        return v

    def labelled_cells(self) -> int:
        if self.labelled is not None:
            return self.labelled
        return DEFAULT_TRANSFER_LABELLED if self.transfer_from else DEFAULT_LABELLED


class ZeroCostRequest(_Request):
    """Zero-cost proxies of architectures on a task's images.

    Attributes:
        space, task: Search space and a task with images (CIFAR-10's or a user task's).
        architectures: String forms or table row indices, answered as given.
        proxies: Proxy names.
        batch_size, width, seed: Mini-batch size, first-stage width, seed of the batch and the weights.
    """

    space: Name = "nb201"
    task: Name = "cifar10"
    architectures: list[ArchitectureIn] = Field(min_length=1, max_length=100_000)
    proxies: list[Name] = Field(default=["synflow", "jacov", "nwot", "params"], min_length=1, max_length=32)
    batch_size: int = Field(64, ge=1, le=256)
    width: int = Field(16, ge=1, le=64, description="Channels of the network's first stage.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
