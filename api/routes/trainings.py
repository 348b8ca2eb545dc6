"""Training an architecture from scratch as a durable job, and downloading its weights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header
from fastapi.responses import FileResponse, JSONResponse

from archgen.api.errors import ApiError
from archgen.api.routes.common import job_json, job_of_kind, run_file, validated
from archgen.api.schemas import ErrorResponse, Job
from archgen.api.state import Data, Key, ServiceState, State
from archgen.jobs import JobRecord
from archgen.training.trainer import TrainingParams, check_training_request

router = APIRouter(prefix="/v1", tags=["trainings"])


def _training_json(job: JobRecord) -> dict:
    return job_json(job) | {"location": f"/v1/trainings/{job.id}", "weights": f"/v1/trainings/{job.id}/weights"}


def _training(state: ServiceState, job_id: str, owner: str) -> JobRecord:
    return job_of_kind(state, job_id, owner, "train", "training")


@router.post(
    "/trainings",
    status_code=202,
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
)
def submit_training(
    state: State,
    key: Key,
    data: Data,
    body: Annotated[
        dict,
        Body(
            description="TrainingParams: arch (NB201 cell), task (cifar10, cifar10-valid or a registered user task), epochs, batch_size, lr, "
            "momentum, weight_decay, C, N, resolution, augment, train_images, seed; NB201's schedule by default",
            examples=[
                {
                    "arch": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
                    "task": "cifar10",
                    "epochs": 200,
                }
            ],
        ),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Queue the training of one architecture (a job: 202 with its id); poll ``location``, then download
    ``weights`` (numpy ``.npz`` of the network's state dict, no pickle) when it has succeeded."""
    params = validated(TrainingParams, body)
    check_training_request(params, data, state.settings.job_memory_bytes)  # 404 / 422 before any job exists
    if params.epochs > state.settings.training_max_epochs:
        raise ApiError(422, "invalid_input", f"epochs: at most {state.settings.training_max_epochs} "
                       "(ARCHGEN_TRAINING_MAX_EPOCHS)")  # fmt: skip
    job = state.submit_job("train", params.model_dump(mode="json"), key.id, idempotency_key)
    return JSONResponse(_training_json(job), status_code=202, headers={"Location": f"/v1/trainings/{job.id}"})


@router.get("/trainings/{job_id}", responses={404: {"model": ErrorResponse}})
def get_training(job_id: str, state: State, key: Key) -> dict:
    """Status, progress (epoch, step, loss) and, when it has succeeded, the result: test accuracy, seconds,
    parameters, the weights' SHA-256."""
    return _training_json(_training(state, job_id, key.id))


@router.get(
    "/trainings/{job_id}/weights",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorResponse},
               409: {"model": ErrorResponse}},
)  # fmt: skip
def download_weights(job_id: str, state: State, key: Key, what: str = "weights") -> FileResponse:
    """The trained network, 409 until the training has succeeded. ``what``: ``weights`` (``weights.npz``, the
    state dict), ``model`` (``model.safetensors``: the state dict with the model card in its metadata: class names
    in label order, input size and normalisation, the network's arguments), ``card`` (``model.json``, that card),
    ``onnx`` (exported on the first request; runs in onnxruntime) or ``provenance``."""
    job = _training(state, job_id, key.id)
    if job.status != "succeeded":
        raise ApiError(409, "not_ready", f"training {job_id} has no weights yet (status {job.status}); poll it")
    return run_file(state.settings.job_dir / job.id, what, job.id)


@router.delete(
    "/trainings/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}
)
def cancel_training(job_id: str, state: State, key: Key) -> dict:
    """Cancel: a queued training at once, a running one at its next progress report (its checkpoint is kept)."""
    _training(state, job_id, key.id)
    return job_json(state.jobs.request_cancel(job_id, key.id))
