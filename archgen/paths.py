"""The directories archgen reads and writes (a small immutable value; :mod:`archgen.context` re-exports it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """Directories archgen reads and writes.

    Attributes:
        data_dir: Benchmark data (holds ``MANIFEST.sha256``); read only.
        cache_dir: Parsed tables, decoded images, computed zero-cost scores.
        home: Trained artifacts (``home/models``), job work files (``home/jobs``),
            filled prediction tables (``home/predictions``), user tasks (``home/tasks``), the default database.
    """

    data_dir: Path
    cache_dir: Path
    home: Path

    @classmethod
    def of(cls, data_dir: str | Path, cache_dir: str | Path, home: str | Path) -> Paths:
        """Paths with ``~`` expanded and made absolute."""
        return cls(*(Path(p).expanduser().resolve() for p in (data_dir, cache_dir, home)))

    @property
    def model_dir(self) -> Path:
        """The artifact store (trained predictors, later generators and supernets)."""
        return self.home / "models"

    @property
    def job_dir(self) -> Path:
        """Work files of jobs (``job_dir/<job id>``)."""
        return self.home / "jobs"

    @property
    def task_dir(self) -> Path:
        """Registered user tasks (labelled image folders, ``task_dir/<name>``)."""
        return self.home / "tasks"

    def owner_dir(self, owner: str) -> Path:
        """What one API key made: its tasks (``tasks/``) and its artifacts (``models/``: supernets). A digest of
        the key's id names it, so no key id ever becomes a path."""
        return self.home / "keys" / hashlib.sha256(owner.encode()).hexdigest()[:16]

    @property
    def upload_dir(self) -> Path:
        """Archives uploaded to ``POST /v1/tasks``, each read by one ``add_task`` job (``upload_dir/<name>``)."""
        return self.home / "uploads"

    @property
    def prediction_dir(self) -> Path:
        """Filled prediction tables of served models."""
        return self.home / "predictions"
