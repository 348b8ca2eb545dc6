"""The artifact store: every kind of trained thing saved with what made it, loaded without pickle.

Predictors today; generators and supernets register their artifact type the
same way (:func:`register_artifact_type`). Layout: one directory per artifact
under the store's root (``$ARCHGEN_HOME/models``)::

    <id>/model.json   provenance (artifact type, kind, space, task, target,
                      training architectures, sha256 of the data tables
                      trained on, seed, hyperparameters, package versions,
                      held-out metrics), the JSON state, the sha256 of
                      every other file and of the artifact as a whole, and
                      ``record_sha256`` over the provenance itself
    <id>/arrays.npz   numpy arrays (torch state dicts as arrays), loaded with
                      ``allow_pickle=False``
    <id>/texts.json   text blobs (LightGBM model strings)

A model is written to a temporary directory and renamed into place, so a
crash never leaves a half-written model under its id. Reading a record
verifies ``record_sha256`` (an edited held-out tau or training set is
refused); loading verifies every checksum and refuses artifacts made for
another space or by an incompatible store format or archgen version. A model
that cannot be read is listed by :meth:`ArtifactStore.broken` with how to
recover, never dropped silently. The hashes detect edits and corruption; they
are not a signature (whoever can write the store can recompute them).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from archgen import __version__
from archgen.errors import ArtifactError, UnknownNameError, UnsupportedSpaceError
from archgen.registry import Registry

if TYPE_CHECKING:
    from archgen.context import Workspace

#: Bumped when the on-disk layout or the meaning of a field changes.
#: 2: ``artifact_type`` and ``data_sources``. 3: ``record_sha256`` over the provenance; older records have
#: no such hash, so they cannot be told from edited ones and are refused (retrain them).
STORE_FORMAT = 3
READABLE_FORMATS = (3,)
#: What a stored artifact's id may be (a directory name: no leading '.' or '-').
ARTIFACT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ID_RE = re.compile(ARTIFACT_ID_PATTERN)


_VERSIONED = (
    "numpy",
    "scipy",
    "torch",
    "torch-geometric",
    "lightgbm",
    "scikit-learn",
    "gpytorch",
    "botorch",
)


def package_versions() -> dict[str, str]:
    """Versions of archgen, Python and the packages predictors depend on."""
    out = {"archgen": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _compatible(saved: str, current: str) -> bool:
    """Same major version, and for 0.x the same minor version (semantic versioning)."""
    s, c = saved.split("."), current.split(".")
    return s[0] == c[0] and (s[0] != "0" or s[1:2] == c[1:2])


@dataclass
class ArtifactState:
    """Learned state in pickle-free form.

    Attributes:
        meta: JSON-serialisable values.
        arrays: Named numpy arrays (stored in an ``.npz`` without pickle).
        texts: Named text blobs (e.g. LightGBM model strings).
    """

    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


class Persistable(Protocol):
    """What the store saves: a registered ``name``, JSON constructor params and a pickle-free state."""

    name: str

    def get_params(self) -> dict[str, Any]: ...

    def get_state(self) -> ArtifactState: ...


@dataclass(frozen=True)
class ArtifactType:
    """How the store rebuilds one type of artifact.

    Attributes:
        name: ``"predictor"``, ``"generator"``, ``"supernet"``...
        restore: ``restore(kind, params, state, record, data) -> object``:
            a new instance of registered ``kind`` built with ``params`` and
            ``state`` set, bound to workspace ``data`` where it reads data.
    """

    name: str
    restore: Callable[[str, dict[str, Any], ArtifactState, ArtifactRecord, Workspace | None], Any]


#: Artifact types by name; :mod:`archgen.composition` registers the built-in ones (the store imports none of them).
_TYPES: Registry[ArtifactType] = Registry("artifact type")


def register_artifact_type(artifact_type: ArtifactType) -> ArtifactType:
    """Make the store able to load artifacts of this type (duplicate names raise)."""
    return _TYPES.add(artifact_type.name, artifact_type)


def get_artifact_type(name: str) -> ArtifactType:
    """The registered artifact type ``name`` (:class:`UnknownNameError` lists the registered ones)."""
    return _TYPES.get(name)


@dataclass
class ArtifactRecord:
    """Provenance of a stored artifact (``model.json`` without the state).

    Attributes:
        id: Store id (directory name).
        kind: Registered name within its type (e.g. predictor ``stack``).
        space, task: What it was trained for.
        target: ``[task, metric]`` column it predicts.
        params: Constructor arguments.
        seed: Seed of the training draw.
        train_archs: Training architectures in the space's string form.
        heldout: Metrics on architectures not used for training.
        versions: :func:`package_versions` at training time.
        created: ISO 8601 UTC timestamp.
        artifact_sha256: Hash over the state and every file's hash.
        record_sha256: Hash over every other field of the record (the provenance).
        files: ``{file name: sha256}``.
        format: :data:`STORE_FORMAT` at training time.
        artifact_type: ``"predictor"``, ``"generator"``, ``"supernet"``...
        data_sources: ``{data file: sha256}`` of the tables it was trained on.
    """

    id: str
    kind: str
    space: str
    task: str
    target: list[str]
    params: dict[str, Any]
    seed: int
    train_archs: list[str]
    heldout: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=package_versions)
    created: str = ""
    artifact_sha256: str = ""
    files: dict[str, str] = field(default_factory=dict)
    format: int = STORE_FORMAT
    artifact_type: str = "predictor"
    data_sources: dict[str, str] = field(default_factory=dict)
    record_sha256: str = ""

    def provenance_sha256(self) -> str:
        """SHA-256 of every field but ``record_sha256``, as JSON reads them back."""
        d = json.loads(json.dumps(asdict(self), default=_json_default))
        d.pop("record_sha256", None)
        return _sha256(json.dumps(d, sort_keys=True).encode())

    @property
    def n_train(self) -> int:
        return len(self.train_archs)

    def summary(self) -> dict[str, Any]:
        """The record without the (long) list of training architectures."""
        d = asdict(self)
        d.pop("train_archs")
        d["n_train"] = self.n_train
        return d


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _artifact_hash(state_meta: dict[str, Any], files: dict[str, str]) -> str:
    return _sha256(json.dumps({"state": state_meta, "files": files}, sort_keys=True).encode())


class ArtifactStore:
    """A directory of trained artifacts (predictors, later generators and supernets).

    Args:
        root: Store directory (created on first save).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _dir(self, model_id: str) -> Path:
        if not _ID_RE.match(model_id):
            raise UnknownNameError("model", model_id, self.ids())
        return self.root / model_id

    # -- write ---------------------------------------------------------------------
    def save(self, predictor: Persistable, record: ArtifactRecord) -> ArtifactRecord:
        """Write ``predictor`` (any fitted :class:`Persistable`) under ``record.id``; fills the hashes and timestamp.

        Raises:
            ArtifactError: the id exists already or is not a valid name.
        """
        if not _ID_RE.match(record.id):
            raise ArtifactError(f"invalid model id {record.id!r}: use letters, digits, '.', '_' and '-' (at most 128)")
        final = self.root / record.id
        if final.exists():
            raise ArtifactError(f"a model with id {record.id!r} exists already in the store")
        state = predictor.get_state()
        for k, v in state.arrays.items():
            if np.asarray(v).dtype == object:
                raise ArtifactError(
                    f"state array {k!r} of {predictor.name} has dtype object; the store refuses pickled data"
                )
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in state.arrays.items()})
        blobs = {
            "arrays.npz": buf.getvalue(),
            "texts.json": json.dumps(state.texts, sort_keys=True).encode(),
        }
        record.files = {name: _sha256(data) for name, data in blobs.items()}
        meta = json.loads(json.dumps(state.meta, default=_json_default))  # as it will read back
        record.artifact_sha256 = _artifact_hash(meta, record.files)
        record.created = record.created or datetime.now(UTC).isoformat(timespec="seconds")
        record.kind, record.params = predictor.name, predictor.get_params()
        record.format = STORE_FORMAT
        record.record_sha256 = record.provenance_sha256()
        doc = {"record": asdict(record), "state": meta}
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{record.id}.", dir=self.root))
        try:
            for name, data in blobs.items():
                (tmp / name).write_bytes(data)
            (tmp / "model.json").write_text(json.dumps(doc, indent=1, default=_json_default))
            for p in tmp.iterdir():
                with p.open("rb") as f:
                    os.fsync(f.fileno())
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return record

    def delete(self, model_id: str) -> None:
        """Remove a model (unknown ids raise :class:`UnknownNameError`)."""
        path = self._dir(model_id)
        if not path.is_dir():
            raise UnknownNameError("model", model_id, self.ids())
        shutil.rmtree(path)

    # -- read ----------------------------------------------------------------------
    @contextmanager
    def lock(self, model_id: str) -> Iterator[None]:
        """Hold an exclusive lock named after ``model_id`` (across processes on this file system).

        Whoever trains a model that several jobs may need at once (a space's
        generator) holds it while checking for, training and saving the model,
        so that the others wait and then load it instead of training it again.
        """
        self._dir(model_id)  # a valid name
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{model_id}.lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def ids(self) -> list[str]:
        """Ids of the stored models (directories with a ``model.json``)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / "model.json").is_file()
        )

    def record(self, model_id: str) -> ArtifactRecord:
        """The provenance of a model, its hash verified, without loading its state.

        Raises:
            UnknownNameError: no such model.
            ArtifactError: an unreadable, edited or too old ``model.json`` (the message says how to recover).
        """
        return self._verified_record(model_id, self._read_doc(model_id))

    def _verified_record(self, model_id: str, doc: dict[str, Any]) -> ArtifactRecord:
        path = self._dir(model_id)
        rec = _record(doc["record"], path)
        if rec.format not in READABLE_FORMATS:
            raise ArtifactError(
                f"model {model_id!r} uses store format {rec.format}; this archgen ({__version__}) reads format "
                f"{STORE_FORMAT}: {_RECOVER}"
            )
        if rec.record_sha256 != rec.provenance_sha256():
            raise ArtifactError(
                f"model {model_id!r}: its provenance in its model.json does not match its record_sha256 "
                f"(edited after training); {_RECOVER}"
            )
        return rec

    def scan(self, verify_files: bool = False) -> tuple[list[ArtifactRecord], dict[str, str]]:
        """Every stored model read once: the verified records, newest first, and
        ``{id: what is wrong and how to recover}`` of those whose record cannot be used (with ``verify_files``,
        also those whose files do not match their checksums: a store of small artifacts, such as supernets)."""
        good, bad = [], {}
        for i in self.ids():
            try:
                rec = self.record(i)
                if verify_files:
                    self._check_files(i, rec)
                good.append(rec)
            except ArtifactError as e:
                bad[i] = str(e)
        return sorted(good, key=lambda r: r.created, reverse=True), bad

    def _check_files(self, model_id: str, rec: ArtifactRecord) -> dict[str, bytes]:
        """The artifact's files, each checked against the checksum its record holds."""
        path = self._dir(model_id)
        blobs: dict[str, bytes] = {}
        for name, expected in rec.files.items():
            f = path / name
            if not f.is_file():
                raise ArtifactError(f"model {model_id!r} is incomplete: its {name} is missing; {_RECOVER}")
            blobs[name] = f.read_bytes()
            actual = _sha256(blobs[name])
            if actual != expected:
                raise ArtifactError(
                    f"model {model_id!r} is corrupt: sha256 of its {name} is {actual}, model.json records {expected}; "
                    f"{_RECOVER}"
                )
        return blobs

    def records(self) -> list[ArtifactRecord]:
        """Every verified record, newest first (the others are in :meth:`broken`)."""
        return self.scan()[0]

    def broken(self) -> dict[str, str]:
        """``{id: what is wrong and how to recover}`` of every stored model whose record cannot be used."""
        return self.scan()[1]

    def _read_doc(self, model_id: str) -> dict[str, Any]:
        path = self._dir(model_id) / "model.json"
        if not path.is_file():
            raise UnknownNameError("model", model_id, self.ids())
        try:
            doc = json.loads(path.read_text())
            doc["record"]["id"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise ArtifactError(f"model {model_id!r}: not a readable model.json ({e}); {_RECOVER}") from None
        return doc

    def load(
        self,
        model_id: str,
        space: str | None = None,
        *,
        data: Workspace | None = None,
        artifact_type: str | None = None,
    ) -> tuple[Any, ArtifactRecord]:
        """Verify and load an artifact.

        Args:
            model_id: Store id.
            space: If given, refuse an artifact trained for another space.
            data: Workspace the loaded object reads data from (bound to it).
            artifact_type: If given, refuse an artifact of another type.

        Raises:
            UnknownNameError: no such model.
            ArtifactError: a checksum mismatch, a missing file, or a model
                written by an incompatible store format or archgen version.
            UnsupportedSpaceError: the model was trained for another space.
        """
        doc = self._read_doc(model_id)
        rec = self._verified_record(model_id, doc)
        saved = rec.versions.get("archgen", "?")
        if not _compatible(saved, __version__):
            raise ArtifactError(
                f"model {model_id!r} was made by archgen {saved}, incompatible with this archgen {__version__}: "
                "retrain it with `archgen predictors train`"
            )
        if artifact_type is not None and rec.artifact_type != artifact_type:
            raise ArtifactError(f"artifact {model_id!r} is a {rec.artifact_type}, not a {artifact_type}")
        if space is not None and rec.space != space:
            raise UnsupportedSpaceError(f"model {model_id!r} (trained on {rec.space})", space, [rec.space])
        blobs = self._check_files(model_id, rec)
        if _artifact_hash(doc.get("state", {}), rec.files) != rec.artifact_sha256:
            raise ArtifactError(f"model {model_id!r} is corrupt: its state in its model.json does not match its sha256")
        try:
            with np.load(io.BytesIO(blobs["arrays.npz"]), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            texts = json.loads(blobs["texts.json"])
        except (ValueError, KeyError, OSError) as e:
            raise ArtifactError(f"model {model_id!r} cannot be read: {e}") from None
        restore = _TYPES.get(rec.artifact_type).restore
        state = ArtifactState(meta=doc.get("state", {}), arrays=arrays, texts=texts)
        return restore(rec.kind, rec.params, state, rec, data), rec


#: How to recover from a model that cannot be used.
_RECOVER = (
    "retrain it (`archgen predictors train`, or POST /v1/predictors) or delete it (`archgen predictors delete ID`)"
)


def _record(d: dict[str, Any], path: Path) -> ArtifactRecord:
    try:
        return ArtifactRecord(**d)
    except TypeError as e:
        raise ArtifactError(f"model {path.name!r}: its model.json has an unexpected record ({e}); {_RECOVER}") from None


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
