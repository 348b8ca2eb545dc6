"""The trained-model store: predictors saved with what made them, loaded without pickle.

Layout: one directory per model under the store's root (``$ARCHGEN_HOME/models``)::

    <id>/model.json   provenance (space, task, target, training architectures,
                      seed, hyperparameters, package versions, held-out
                      metrics), the predictor's JSON state, and the sha256 of
                      every other file and of the artifact as a whole
    <id>/arrays.npz   numpy arrays (torch state dicts as arrays), loaded with
                      ``allow_pickle=False``
    <id>/texts.json   text blobs (LightGBM model strings)

A model is written to a temporary directory and renamed into place, so a
crash never leaves a half-written model under its id. Loading verifies every
checksum and refuses artifacts made for another space or by an incompatible
store format or archgen version.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from archgen.predictors.base import Predictor, PredictorState, get_predictor

from archgen import __version__
from archgen.errors import ArtifactError, UnknownNameError, UnsupportedSpaceError

#: Bumped when the on-disk layout or the meaning of a field changes.
STORE_FORMAT = 1
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
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
class ModelRecord:
    """Provenance of a stored model (``model.json`` without the state).

    Attributes:
        id: Store id (directory name).
        kind: Registered predictor name.
        space, task: What it was trained for.
        target: ``[task, metric]`` column it predicts.
        params: Constructor arguments.
        seed: Seed of the training draw.
        train_archs: Training architectures in the space's string form.
        heldout: Metrics on architectures not used for training.
        versions: :func:`package_versions` at training time.
        created: ISO 8601 UTC timestamp.
        artifact_sha256: Hash over the state and every file's hash.
        files: ``{file name: sha256}``.
        format: :data:`STORE_FORMAT` at training time.
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


class ModelStore:
    """A directory of trained predictors.

    Args:
        root: Store directory (created on first save).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def default(cls) -> ModelStore:
        """The store under the settings' home (``$ARCHGEN_HOME/models``)."""
        from archgen.settings import Settings

        return cls(Settings.from_env().model_dir)

    def _dir(self, model_id: str) -> Path:
        if not _ID_RE.match(model_id):
            raise UnknownNameError("model", model_id, self.ids())
        return self.root / model_id

    # -- write ---------------------------------------------------------------------
    def save(self, predictor: Predictor, record: ModelRecord) -> ModelRecord:
        """Write ``predictor`` (fitted) under ``record.id``; fills the hashes and timestamp.

        Raises:
            ArtifactError: the id exists already or is not a valid name.
        """
        if not _ID_RE.match(record.id):
            raise ArtifactError(f"invalid model id {record.id!r}: use letters, digits, '.', '_' and '-' (at most 128)")
        final = self.root / record.id
        if final.exists():
            raise ArtifactError(f"a model with id {record.id!r} exists already in {self.root}")
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
    def ids(self) -> list[str]:
        """Ids of the stored models (directories with a ``model.json``)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / "model.json").is_file()
        )

    def record(self, model_id: str) -> ModelRecord:
        """The provenance of a model, without loading (or verifying) its state."""
        return _record(self._read_doc(model_id)["record"], self._dir(model_id))

    def records(self) -> list[ModelRecord]:
        """Every readable record, newest first (unreadable ones are skipped; :meth:`load` names the problem)."""
        out = []
        for i in self.ids():
            try:
                out.append(self.record(i))
            except ArtifactError:
                continue
        return sorted(out, key=lambda r: r.created, reverse=True)

    def _read_doc(self, model_id: str) -> dict[str, Any]:
        path = self._dir(model_id) / "model.json"
        if not path.is_file():
            raise UnknownNameError("model", model_id, self.ids())
        try:
            doc = json.loads(path.read_text())
            doc["record"]["id"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise ArtifactError(f"model {model_id!r}: {path} is not a readable model.json ({e})") from None
        return doc

    def load(self, model_id: str, space: str | None = None) -> tuple[Predictor, ModelRecord]:
        """Verify and load a model.

        Args:
            model_id: Store id.
            space: If given, refuse a model trained for another space.

        Raises:
            UnknownNameError: no such model.
            ArtifactError: a checksum mismatch, a missing file, or a model
                written by an incompatible store format or archgen version.
            UnsupportedSpaceError: the model was trained for another space.
        """
        doc = self._read_doc(model_id)
        path = self._dir(model_id)
        rec = _record(doc["record"], path)
        if rec.format != STORE_FORMAT:
            raise ArtifactError(
                f"model {model_id!r} uses store format {rec.format}; this archgen ({__version__}) reads format "
                f"{STORE_FORMAT}: retrain it with `archgen predictors train`"
            )
        saved = rec.versions.get("archgen", "?")
        if not _compatible(saved, __version__):
            raise ArtifactError(
                f"model {model_id!r} was made by archgen {saved}, incompatible with this archgen {__version__}: "
                "retrain it with `archgen predictors train`"
            )
        if space is not None and rec.space != space:
            raise UnsupportedSpaceError(f"model {model_id!r} (trained on {rec.space})", space, [rec.space])
        blobs: dict[str, bytes] = {}
        for name, expected in rec.files.items():
            f = path / name
            if not f.is_file():
                raise ArtifactError(f"model {model_id!r} is incomplete: {f} is missing")
            blobs[name] = f.read_bytes()
            actual = _sha256(blobs[name])
            if actual != expected:
                raise ArtifactError(
                    f"model {model_id!r} is corrupt: sha256 of {f} is {actual}, model.json records {expected}"
                )
        if _artifact_hash(doc.get("state", {}), rec.files) != rec.artifact_sha256:
            raise ArtifactError(
                f"model {model_id!r} is corrupt: its state in {path / 'model.json'} does not match its sha256"
            )
        try:
            with np.load(io.BytesIO(blobs["arrays.npz"]), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            texts = json.loads(blobs["texts.json"])
        except (ValueError, KeyError, OSError) as e:
            raise ArtifactError(f"model {model_id!r} cannot be read: {e}") from None
        predictor = get_predictor(rec.kind, **rec.params)
        predictor.set_state(PredictorState(meta=doc.get("state", {}), arrays=arrays, texts=texts))
        predictor.space_ = rec.space
        predictor.fitted_ = True
        return predictor, rec


def _record(d: dict[str, Any], path: Path) -> ModelRecord:
    try:
        return ModelRecord(**d)
    except TypeError as e:
        raise ArtifactError(f"{path / 'model.json'} has an unexpected record ({e})") from None


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
