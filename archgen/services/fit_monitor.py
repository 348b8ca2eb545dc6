"""The bridge from a predictor's fit hooks to a job: progress, cancellation, checkpointed parts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archgen.artifacts import ArtifactRecord, ArtifactState, ArtifactStore
from archgen.errors import ArtifactError
from archgen.predictors.base import FitMonitor

if TYPE_CHECKING:
    from archgen.context import Workspace
    from archgen.jobs.base import JobContext

log = logging.getLogger("archgen.jobs")

#: Artifact type of a checkpointed part of a fit (its state alone).
PART_TYPE = "fit-part"


class _Part:
    """A finished part's state, in the form the artifact store saves."""

    name = PART_TYPE

    def __init__(self, state: ArtifactState) -> None:
        self.state = state

    def get_params(self) -> dict[str, Any]:
        return {}

    def get_state(self) -> ArtifactState:
        return self.state


def restore_part(
    kind: str, params: dict[str, Any], state: ArtifactState, record: ArtifactRecord, data: Workspace | None
) -> ArtifactState:
    return state


def _part_id(part: str) -> str:
    return part.replace("/", ".")


class JobFitMonitor(FitMonitor):
    """Reports a fit's progress to its job and keeps each finished part in the job's work directory.

    ``progress`` goes to :meth:`JobContext.progress`, which raises when the job is
    cancelled or its worker shuts down, so a long fit stops at its next report.
    Each saved part is written (checksummed, without pickle) under ``root`` and
    recorded in the job's checkpoint; a resumed job restores the parts listed there.

    Args:
        ctx: The running job.
        root: Directory for the parts (kept across resumptions).
    """

    def __init__(self, ctx: JobContext, root: Path) -> None:
        self.ctx = ctx
        self.store = ArtifactStore(root)
        self.parts: list[str] = list(ctx.state.get("parts", []))

    def progress(self, fraction: float, message: str | None = None) -> None:
        self.ctx.progress(fraction, message)

    def save(self, part: str, state: ArtifactState) -> None:
        pid = _part_id(part)
        if pid in self.store.ids():
            self.store.delete(pid)
        self.store.save(_Part(state), ArtifactRecord(pid, PART_TYPE, "", "", [], {}, 0, [], artifact_type=PART_TYPE))
        if part not in self.parts:
            self.parts.append(part)
        self.ctx.checkpoint({**self.ctx.state, "parts": self.parts}, message=f"checkpoint: {part} finished")
        log.info(
            "job %s: %s finished (%d parts kept)",
            self.ctx.job_id,
            part,
            len(self.parts),
            extra={"job_id": self.ctx.job_id, "job_kind": self.ctx.job.kind},
        )

    def restore(self, part: str) -> ArtifactState | None:
        if part not in self.parts:
            return None
        try:
            state, _ = self.store.load(_part_id(part), artifact_type=PART_TYPE)
        except (ArtifactError, KeyError):  # torn or missing: fit the part again
            return None
        return state  # type: ignore[no-any-return]
