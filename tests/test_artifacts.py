"""The model store: provenance, checksums, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archgen.artifacts import ArtifactRecord, ArtifactStore, package_versions
from archgen.errors import ArtifactError, UnknownNameError, UnsupportedSpaceError
from archgen.predictors import get_predictor


@pytest.fixture
def saved(split, tmp_path, ws):
    tr, ytr, te, _ = split
    pred = get_predictor("lgbm", data=ws, task="cifar10", n_estimators=20, n_bags=2).fit(tr, ytr)
    store = ArtifactStore(tmp_path)
    rec = ArtifactRecord(
        id="lgbm-a",
        kind="lgbm",
        space="nb201",
        task="cifar10",
        target=["cifar10-valid", "val_acc"],
        params={},
        seed=3,
        train_archs=[str(a) for a in tr],
        heldout={"kendall_tau": 0.5},
    )
    store.save(pred, rec)
    return store, pred, te


def test_record_keeps_provenance(saved) -> None:
    store, pred, _ = saved
    rec = store.record("lgbm-a")
    assert rec.seed == 3 and rec.n_train == 40 and rec.target == ["cifar10-valid", "val_acc"]
    assert rec.params == json.loads(json.dumps(pred.get_params()))
    assert rec.versions["archgen"] == package_versions()["archgen"] and "lightgbm" in rec.versions
    assert len(rec.artifact_sha256) == 64 and set(rec.files) == {"arrays.npz", "texts.json"}
    assert [r.id for r in store.records()] == ["lgbm-a"]


def test_round_trip(saved) -> None:
    store, pred, te = saved
    loaded, _ = store.load("lgbm-a", data=pred.data)
    np.testing.assert_allclose(loaded.predict(te), pred.predict(te))


def test_a_corrupted_artifact_is_refused(saved) -> None:
    store, _, _ = saved
    path = store.root / "lgbm-a" / "texts.json"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="corrupt.*texts.json"):
        store.load("lgbm-a")


def _edit_model_json(store, model_id: str, edit) -> None:
    """Apply ``edit(doc)`` to a stored model's model.json (as a user editing the file would)."""
    path = store.root / model_id / "model.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_edited_state_is_refused(saved) -> None:
    store, _, _ = saved
    _edit_model_json(store, "lgbm-a", lambda d: d["state"].update(scale=123.0))
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        store.load("lgbm-a")


def test_missing_file_and_garbage_json_are_refused(saved) -> None:
    store, _, _ = saved
    (store.root / "lgbm-a" / "arrays.npz").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        store.load("lgbm-a")
    (store.root / "lgbm-a" / "model.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not a readable model.json") as e:
        store.load("lgbm-a")
    assert str(store.root) not in str(e.value)  # messages reach HTTP clients: no server path


def _as_written_by(doc: dict, **fields) -> None:
    """Change record fields and recompute its hash (a model another archgen wrote, not an edit)."""
    doc["record"].update(fields)
    doc["record"]["record_sha256"] = ArtifactRecord(**doc["record"]).provenance_sha256()


def test_other_space_and_incompatible_version_are_refused(saved) -> None:
    store, _, _ = saved
    with pytest.raises(UnsupportedSpaceError, match="nb201"):
        store.load("lgbm-a", space="nb101")
    versions = {**store.record("lgbm-a").versions, "archgen": "7.0.0"}
    _edit_model_json(store, "lgbm-a", lambda d: _as_written_by(d, versions=versions))
    with pytest.raises(ArtifactError, match="archgen 7.0.0, incompatible"):
        store.load("lgbm-a")
    _edit_model_json(store, "lgbm-a", lambda d: _as_written_by(d, format=99))
    with pytest.raises(ArtifactError, match="store format 99"):
        store.load("lgbm-a")


def test_unknown_duplicate_and_invalid_ids(saved) -> None:
    store, pred, _ = saved
    with pytest.raises(UnknownNameError, match="lgbm-a"):
        store.load("nope")
    with pytest.raises(UnknownNameError):
        store.load("../../etc")
    rec = store.record("lgbm-a")
    with pytest.raises(ArtifactError, match="exists already"):
        store.save(pred, rec)
    rec.id = "bad/id"
    with pytest.raises(ArtifactError, match="invalid model id"):
        store.save(pred, rec)
    store.delete("lgbm-a")
    assert store.ids() == []


def test_record_names_the_data_it_was_trained_on(tmp_path, ws, split) -> None:
    from archgen.services.predictors import TrainPredictorParams, train_predictor

    spec = TrainPredictorParams(
        space="nb201", task="cifar10", kind="lgbm", n_train=30, params={"n_estimators": 10, "n_bags": 2}, eval_max=50
    )
    _, rec = train_predictor(spec, ws, ArtifactStore(tmp_path))
    loaded = ArtifactStore(tmp_path).record(rec.id)
    assert loaded.data_sources == ws.table("nb201").sources and loaded.artifact_type == "predictor"


def test_an_artifact_of_another_type_is_refused(saved) -> None:
    store, _, _ = saved
    with pytest.raises(ArtifactError, match="not a generator"):
        store.load("lgbm-a", artifact_type="generator")


def test_nothing_is_pickled(saved) -> None:
    store, _, _ = saved
    with np.load(store.root / "lgbm-a" / "arrays.npz", allow_pickle=False) as npz:
        for k in npz.files:
            assert npz[k].dtype != object


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["heldout"].update(kendall_tau=0.999),
        lambda r: r["train_archs"].pop(),
        lambda r: r.update(seed=4),
        lambda r: r.update(task="cifar100"),
        lambda r: r.pop("record_sha256"),
    ],
)
def test_edited_provenance_is_refused_and_listed_as_broken(saved, edit) -> None:
    store, _, _ = saved
    _edit_model_json(store, "lgbm-a", lambda d: edit(d["record"]))
    for read in (store.record, store.load):
        with pytest.raises(ArtifactError, match="record_sha256.*retrain it.*delete it"):
            read("lgbm-a")
    assert store.records() == [] and "edited after training" in store.broken()["lgbm-a"]


def test_a_truncated_record_is_listed_as_broken_not_dropped(saved) -> None:
    store, _, _ = saved
    path = store.root / "lgbm-a" / "model.json"
    path.write_text(path.read_text()[:200])
    assert store.ids() == ["lgbm-a"] and store.records() == []
    assert "not a readable model.json" in store.broken()["lgbm-a"] and "delete it" in store.broken()["lgbm-a"]
