"""A task's stored supernets: the records, newest first, and the loaded supernet (once per process)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from archgen.artifacts import ArtifactRecord, ArtifactStore
from archgen.errors import NoSupernetError, UnknownNameError
from archgen.supernets.oneshot import OneShotSupernet

if TYPE_CHECKING:
    from archgen.context import Workspace


def supernet_records(
    store: ArtifactStore, task: str | None = None, records: list[ArtifactRecord] | None = None
) -> list[ArtifactRecord]:
    """Stored supernets (of ``task``), newest first; ``records``: the store's verified records when the caller has
    scanned it already (:meth:`ArtifactStore.scan`)."""
    recs = store.records() if records is None else records
    found = [r for r in recs if r.artifact_type == "supernet" and (task is None or r.task == task)]
    return sorted(found, key=lambda r: (r.created, r.id), reverse=True)


_LOADED: dict[tuple, Any] = {}
_LOADED_LOCK = threading.Lock()


def task_supernet(data: Workspace, task: str, model_id: str | None = None) -> tuple[OneShotSupernet, ArtifactRecord]:
    """The newest stored supernet of ``task`` (or ``model_id``), loaded once per process.

    Raises:
        NoSupernetError: none is stored for the task.
        UnknownNameError: ``model_id`` is not a supernet of the task.
    """
    store = data.owned  # the owner's supernets only
    if model_id is None:
        recs = supernet_records(store, task)
        if not recs:
            raise NoSupernetError(
                f"task {task!r} has no trained supernet: train one first (POST /v1/supernets with "
                f'{{"task": "{task}"}}, or `archgen supernets train --task {task}`)'
            )
        model_id = recs[0].id
    # keyed by the files' sizes and times too: a supernet changed on disk (corrupted, replaced) is loaded again,
    # which verifies it, instead of being served from this process's copy while other processes refuse it
    key = (str(store.root), model_id, task, _stamp(store, model_id))
    with _LOADED_LOCK:
        hit = _LOADED.get(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    sn, rec = store.load(model_id, artifact_type="supernet", data=data)
    if rec.task != task:
        raise UnknownNameError(f"supernet of task {task!r}", model_id, [r.id for r in supernet_records(store, task)])
    with _LOADED_LOCK:
        for old in [k for k in _LOADED if k[:3] == key[:3]]:  # the copy of files since changed
            del _LOADED[old]
        _LOADED[key] = (sn, rec)
    return sn, rec


def _stamp(store: ArtifactStore, model_id: str) -> tuple:
    """Name, size and modification time of each of the artifact's files (a cheap change detector)."""
    d = store.root / model_id
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in d.iterdir() if p.is_file()))
    except OSError:
        return ()
