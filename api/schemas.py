"""Request and response bodies of the HTTP API (validated at the edge, plain values inside)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from archgen.services.requests import ArchitectureIn

Name = Annotated[str, Field(min_length=1, max_length=128)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorInfo(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. 'invalid_architecture'.")
    message: str = Field(description="What is wrong, in words.")
    index: int | None = Field(None, description="Position in the request's list of the offending architecture.")
    valid: list[str] | None = Field(None, description="Valid names, for an unknown name.")
    limit: int | None = Field(None, description="The limit exceeded, for a request that is too large.")


class ErrorResponse(BaseModel):
    error: ErrorInfo
    request_id: str | None = None


# -- spaces -----------------------------------------------------------------------
class TaskInfo(BaseModel):
    metrics: list[str]
    default_predictor: str | None = Field(None, description="'space/task' served by a default predictor, if any.")


class SpaceInfo(BaseModel):
    name: str
    operations: list[str]
    num_architectures: int | None
    tasks: dict[str, TaskInfo]
    zero_cost: bool = Field(description="Whether zero-cost proxies can be computed for this space.")


class SpacesResponse(BaseModel):
    spaces: list[SpaceInfo]


# -- predict ----------------------------------------------------------------------
class PredictRequest(_Body):
    space: Name = "nb201"
    task: Name = "cifar10"
    architectures: list[ArchitectureIn] = Field(min_length=1)
    predictor: Name | None = Field(
        None,
        description="Model id from GET /v1/predictors; default: the service's default. A user task (no table): "
        "default its label-free prior (percentile among the space); 'supernet' or a supernet's id: that supernet's "
        "held-out accuracy.",
    )
    uncertainty: bool = True


class PredictorInfo(BaseModel):
    id: str
    kind: str
    stage: Literal["final", "quick"] = Field(
        "final",
        description="'quick' while a first start serves a LightGBM fitted in seconds, until the default model is trained",
    )
    trained_on: dict[str, Any] = Field(description="space, task, target metric and number of training architectures")
    heldout_kendall_tau: float | None
    note: str | None = None


class TargetInfo(BaseModel):
    """What ``mean`` and ``std`` predict."""

    space: str
    task: str
    column: str = Field(description="dataset/metric of the benchmark table, e.g. 'cifar10-valid/val_acc'")
    dataset: str
    metric: str
    unit: str
    description: str = Field(description="e.g. '200-epoch validation accuracy on cifar10-valid'")


class Prediction(BaseModel):
    architecture: str | int
    canonical: str
    mean: float
    std: float | None


class PredictResponse(BaseModel):
    target: TargetInfo
    predictor: PredictorInfo
    predictions: list[Prediction]


# -- zero-cost ----------------------------------------------------------------------
class ZeroCostResult(BaseModel):
    architecture: str | int
    canonical: str
    scores: dict[str, float | None]


class ZeroCostResponse(BaseModel):
    space: str
    task: str
    settings: dict[str, int]
    results: list[ZeroCostResult]
    cells: int = Field(description="Distinct cells (isomorphism classes) among the architectures.")
    cells_computed_by_this_run: int = Field(description="Cells computed by this request or job (the rest were cached).")


# -- generate (the request model is archgen.services.requests.GenerateRequest) ---------
class GeneratedArchitecture(BaseModel):
    architecture: str
    predicted: float | None = Field(
        description="The objective surrogate's prediction: accuracy (task's labels) or the zero-cost vote in [0, 1]."
    )
    score: float | None = Field(description="Transfer: the ranking predictor's score (standardised source accuracy).")
    measured: float | None = Field(description="The task's published value of the target, where the table has it.")
    values: dict[str, float | None] = Field(description="Published parameters and constrained quantities.")


class GenerateResponse(BaseModel):
    space: str
    task: str
    target: str
    generator_id: str
    guided: bool
    transfer_from: list[str] | None
    constraints: dict[str, dict[str, Any]]
    items: list[GeneratedArchitecture]
    drawn: int = Field(description="Raw samples drawn.")
    valid: int = Field(description="Raw samples that decoded to a valid architecture.")
    met_before_rejection: float | None = Field(description="Share of valid samples meeting the constraints.")
    validity: float
    uniqueness: float
    novelty: float = Field(description="Share of the returned architectures the generator was not trained on.")
    generator_stage: Literal["full", "quick"] = Field(
        "full",
        description="Which generator answered: the space's full one, or the quick one (a few epochs) that answers "
        "while the full one trains as the service's job.",
    )


# -- lookup ---------------------------------------------------------------------------
class LookupRequest(_Body):
    space: Name = "nb201"
    architectures: list[ArchitectureIn] = Field(min_length=1)
    tasks: list[Name] | None = Field(
        None, min_length=1, max_length=64, description="Tasks to report (default: all; an empty list is refused)."
    )
    metrics: list[Name] | None = Field(
        None, min_length=1, max_length=256, description="Metrics to report (default: all of each task; not empty)."
    )


class LookupResult(BaseModel):
    architecture: str | int
    canonical: str
    index: int
    metrics: dict[str, dict[str, float | None]] = Field(description="{task: {metric: value}}; null where unpublished")


class LookupResponse(BaseModel):
    space: str
    results: list[LookupResult]


# -- predictors --------------------------------------------------------------------------
class ModelSummary(BaseModel):
    id: str
    kind: str
    space: str
    task: str
    target: list[str]
    n_train: int
    seed: int
    created: str
    heldout: dict[str, Any]
    default: bool = False


class ModelDetail(ModelSummary):
    params: dict[str, Any]
    versions: dict[str, str]
    artifact_sha256: str
    record_sha256: str
    train_archs: list[str]


class BrokenModel(BaseModel):
    id: str
    error: str = Field(description="What is wrong (unreadable, edited after training, old format) and how to recover.")


class ModelList(BaseModel):
    predictors: list[ModelSummary]
    broken: list[BrokenModel] = Field(
        default_factory=list, description="Stored models that cannot be served; each names how to recover."
    )


# -- jobs ---------------------------------------------------------------------------------
class JobSummary(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float
    message: str | None
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    eta_s: float | None = Field(
        None,
        description="Seconds left, estimated from the progress made since the job (or its last resume) started: "
        "linear in progress, so a phase slower than the ones before it makes it grow. Null unless running with at "
        "least 2% done.",
    )


class Job(JobSummary):
    params: dict[str, Any]
    result: dict[str, Any] | None


class JobList(BaseModel):
    jobs: list[JobSummary] = Field(description="Summaries; GET /v1/jobs/{id} has params and result.")
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null on the last page.")


# -- health -----------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    ready: bool
    data: dict[str, Any] = Field(
        default_factory=dict, description="'ok', and 'error' naming the file when the data fails its MANIFEST.sha256"
    )
    tables: dict[str, str]
    models: dict[str, dict[str, Any]]
