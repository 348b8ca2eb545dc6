"""Domain exceptions.

Every error archgen raises for bad input or bad data derives from
:class:`ArchgenError`, so that callers (the CLI, the HTTP layer) can map them to
clear messages in one place. Each names what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable


class ArchgenError(Exception):
    """Base class of every archgen error."""


#: Longest repr of a user's input that an error message quotes.
QUOTE_LIMIT = 120


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length named (errors never echo a 1 MB input)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters as text"
    return f"{text[: limit - 1]}... ({size})"


class InvalidArchitectureError(ArchgenError, ValueError):
    """An architecture string or value that is not in its search space.

    Args:
        text: The offending input, as given.
        reason: What is wrong with it.
        position: Character offset (for strings) or element index where the
            problem was found, or ``None`` when it concerns the whole input.
    """

    def __init__(self, text: object, reason: str, position: int | None = None) -> None:
        self.text = text
        self.reason = reason if len(reason) <= 4 * QUOTE_LIMIT else f"{reason[: 4 * QUOTE_LIMIT]}... (cut)"
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"invalid architecture {quote(text)}{where}: {self.reason}")


class UnknownNameError(ArchgenError, KeyError):
    """A name (space, task, metric, proxy...) that is not registered.

    The message lists the valid names.
    """

    def __init__(self, kind: str, name: object, valid: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown {kind} {quote(name)}; valid: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class DataError(ArchgenError):
    """Benchmark data that is missing, corrupt or unusable."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The data directory or one of its files does not exist."""


class ChecksumMismatchError(DataError):
    """A data file whose sha256 differs from ``MANIFEST.sha256``."""

    def __init__(self, path: str, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"data file {path} is corrupt: sha256 {actual} does not match the manifest's "
            f"{expected}. Restore it from the original source (see its SOURCE.txt)."
        )


class NotFittedError(ArchgenError, RuntimeError):
    """A predictor used before ``fit`` (for one that needs fitting)."""

    def __init__(self, predictor: str) -> None:
        super().__init__(f"{predictor} is not fitted: call fit(archs, y) first")


class UnsupportedSpaceError(ArchgenError, ValueError):
    """A predictor or proxy asked about a search space it cannot handle."""

    def __init__(self, what: str, space: str, supported: Iterable[str]) -> None:
        self.space = space
        self.supported = sorted(supported)
        super().__init__(f"{what} does not support space {space!r}; supported: {', '.join(self.supported)}")


class PredictorInputError(ArchgenError, ValueError):
    """Training or prediction input a predictor cannot use (NaN targets, too few points...)."""


class ArtifactError(ArchgenError):
    """A stored model that is missing, corrupt, or made for something else."""


class NoDataError(DataError):
    """An operation needs benchmark data that the object was built without."""


class UnsupportedOperationError(ArchgenError, NotImplementedError):
    """The object does not offer this operation (e.g. a space without networks)."""


class ArchitectureListError(InvalidArchitectureError):
    """A malformed architecture at position ``index`` of a list of them."""

    def __init__(self, index: int, err: InvalidArchitectureError) -> None:
        self.index = index
        self.cause = err
        ArchgenError.__init__(self, f"architectures[{index}]: {err}")
        self.text, self.reason, self.position = err.text, err.reason, err.position


class TooManyArchitecturesError(ArchgenError, ValueError):
    """More architectures in one request than the configured limit."""

    def __init__(self, count: int, limit: int) -> None:
        self.count, self.limit = count, limit
        super().__init__(f"{count} architectures in one request; the limit is {limit}")


class TaskError(ArchgenError, ValueError):
    """A task that cannot be registered: a bad name, options, archive or image folder (the message says which)."""


class TaskExistsError(ArchgenError):
    """A task of that name is registered already."""


class TaskReadOnlyError(ArchgenError):
    """A shared task (the operator's, read by every key) that a key may not change or delete."""


class SupernetInputError(ArchgenError, ValueError):
    """Parameters or data a supernet cannot use (bad sizes, too few images, an architecture of another space)."""


class NoSupernetError(ArchgenError, LookupError):
    """A task has no trained supernet yet (train one first)."""


class JobParamsError(ArchgenError, ValueError):
    """Parameters that do not fit a job kind's params model (names the field)."""


class JobQuotaError(ArchgenError):
    """A key already has as many unfinished jobs as it may (HTTP 429)."""


class JobStateError(ArchgenError):
    """An operation the job's status does not allow (cancelling a finished job)."""


class IdempotencyConflictError(ArchgenError):
    """An ``Idempotency-Key`` reused with a different request."""


class JobNotFoundError(ArchgenError, KeyError):
    """No job with this id (visible to the caller)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job {job_id!r} among your jobs")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class TrainingInputError(ArchgenError, ValueError):
    """A training request that cannot run (an architecture of another space, too few images...)."""


class CheckpointError(ArchgenError, ValueError):
    """A file that is not a checkpoint, or the checkpoint of another run."""


class GeneratorInputError(ArchgenError, ValueError):
    """Training or sampling input a generator cannot use (empty, mixed spaces, bad ``n``...)."""


class SearchInputError(ArchgenError, ValueError):
    """A search request that cannot run (budget, batch size, strategy parameters)."""


class BenchInputError(ArchgenError, ValueError):
    """A benchmark's arguments it cannot run with, or a results file of another run to resume."""


class SettingsError(ArchgenError, ValueError):
    """A setting (environment variable or option) with a value archgen cannot use."""


class DatabaseError(ArchgenError):
    """The service database cannot be opened or has an unusable URL."""


class BudgetSpentError(ArchgenError):
    """A search's budget ran out while an evaluation was in flight (the evaluation stops, charged what it used)."""
