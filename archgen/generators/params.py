"""Parameters of a generation request (light: the HTTP schemas and job kinds import it without torch)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Default number of labelled cells: of the task, or of the source tasks with transfer.
DEFAULT_LABELLED = 156
DEFAULT_TRANSFER_LABELLED = 2000


class GenerateParams(BaseModel):
    """A generation request (validated at the edge: CLI, HTTP, job).

    Attributes:
        space, task: Search space and the task whose accuracy guidance raises.
        n: Architectures to return.
        guidance_scale: Strength of the accuracy surrogate's gradient (0: unguided).
        guide_by: What the objective surrogate learns: ``"table"``, the task's
            published accuracy on ``labelled`` cells; ``"zero-cost"``, no label
            at all: the label-free zero-cost vote (``zc_vote``) computed on the
            task's images for ``labelled`` random cells (for a task without a
            table, or a search that may not see the task's labels); ``"supernet"``,
            no label either: the task's newest stored supernet's estimates of
            ``labelled`` random cells (a user task's natural guide).
        labelled: Cells the accuracy surrogate is trained on (of the task; of
            the source tasks with ``transfer_from``); default 156 / 2,000.
        transfer_from: Guide by these other tasks' labels only (none of the task's).
        max_params, max_flops: Budgets in millions (``None``: none).
        max_latency_ms, device: Latency budget on a named device (both or neither).
        constraint_scale: Strength of the constraints' gradient (0: rejection only).
        pool: Candidates generated per returned architecture when a ranking
            predictor orders them (transfer).
        seed: Seed of the labelled draw, the surrogates and the samples.
        epochs, generator_seed: Training epochs and seed of the space's generator
            (one generator per pair, trained once and stored).
        steps, method: Sampling steps and sampler: ``pc`` (predictor-corrector,
            DiffusionNAG's; two score calls a step), ``euler`` (reverse SDE,
            one call a step) or ``ode`` (probability flow, deterministic).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field("nb201", min_length=1, max_length=64)
    task: str = Field("cifar10", min_length=1, max_length=64)
    n: int = Field(100, ge=1, le=10_000)
    guidance_scale: float = Field(20.0, ge=0, le=1000, allow_inf_nan=False)
    guide_by: Literal["table", "zero-cost", "supernet"] = "table"
    labelled: int | None = Field(None, ge=8, le=15_625)
    transfer_from: tuple[str, ...] | None = Field(None, min_length=1, max_length=8)
    max_params: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False)
    max_flops: float | None = Field(None, gt=0, le=1e9, allow_inf_nan=False)
    max_latency_ms: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False)
    device: str | None = Field(None, min_length=1, max_length=64)
    constraint_scale: float = Field(30.0, ge=0, le=1000, allow_inf_nan=False)
    pool: int = Field(4, ge=1, le=64)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    epochs: int = Field(200, ge=1, le=2000)
    generator_seed: int = Field(0, ge=0, le=2**31 - 1)
    steps: int = Field(200, ge=1, le=2000)
    method: Literal["pc", "euler", "ode"] = "pc"

    @field_validator("transfer_from", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(s.strip() for s in v.split(",") if s.strip())
        return v

    def labelled_cells(self) -> int:
        if self.labelled is not None:
            return self.labelled
        return DEFAULT_TRANSFER_LABELLED if self.transfer_from else DEFAULT_LABELLED
