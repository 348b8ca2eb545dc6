"""Registering a labelled image folder: validation errors name the problem, the split is recorded, nothing is
left behind by a failed add, a corrupt file is detected."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from archgen.errors import DataError, TaskError, TaskExistsError, UnknownNameError
from archgen.tasks import TaskStore, task_images
from archgen.tasks.store import MIN_PER_CLASS, stratified_mask
from tests.tasks.folders import image_folder


@pytest.fixture(scope="module")
def folder(ws, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_folder(ws, tmp_path_factory.mktemp("folder") / "pets", per_class=20)


def test_add_records_classes_counts_checksums_and_split(folder: Path, tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks")
    rec = store.add("pets", folder, val_fraction=0.25, seed=3)
    assert rec.classes == ["cat", "dog", "ship"]
    assert rec.images_per_class == {"cat": 20, "dog": 20, "ship": 20}
    assert (rec.train, rec.validation, rec.test) == (33, 15, 12)  # the default test split: a fifth of each class
    assert len(rec.source_sha256) == len(rec.arrays_sha256) == 64
    assert store.names() == ["pets"] and "pets" in store
    train, val, test = store.datasets("pets")
    assert len(train) == 33 and len(val) == 15 and test is not None and len(test) == 12
    assert train.images.shape[1:] == (32, 32, 3)
    for c in range(3):  # stratified: five of each class held out for validation, four for test
        assert (val.labels == c).sum() == 5 and (test.labels == c).sum() == 4
    again = TaskStore(tmp_path / "again").add("pets", folder, val_fraction=0.25, seed=3)
    assert again.source_sha256 == rec.source_sha256 and again.arrays_sha256 == rec.arrays_sha256


def test_a_second_add_of_a_name_is_refused_and_keeps_the_first(folder: Path, tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    first = store.add("pets", folder)
    with pytest.raises(TaskExistsError, match="exists already"):
        store.add("pets", folder)
    assert store.record("pets").arrays_sha256 == first.arrays_sha256


@pytest.mark.parametrize(
    ("name", "words"),
    [("Pets", "invalid task name"), ("a/b", "invalid task name"), ("", "invalid task name"),
     ("cifar10", "built-in"), ("x" * 49, "invalid task name")],
)  # fmt: skip
def test_bad_names_are_refused(name: str, words: str, folder: Path, tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=words):
        TaskStore(tmp_path).add(name, folder)


def _copy(src: Path, dst: Path, classes: dict[str, int]) -> Path:
    for c, n in classes.items():
        (dst / c).mkdir(parents=True)
        for p in sorted((src / c).iterdir())[:n]:
            (dst / c / p.name).write_bytes(p.read_bytes())
    return dst


def test_folder_errors_name_the_problem(folder: Path, tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks")
    with pytest.raises(TaskError, match="does not exist"):
        store.add("a", tmp_path / "missing")
    one = _copy(folder, tmp_path / "one", {"cat": 10})
    with pytest.raises(TaskError, match="at least two class folders"):
        store.add("a", one)
    loose = _copy(folder, tmp_path / "loose", {"cat": 10, "dog": 10})
    (loose / "stray.png").write_bytes(
        (loose / "cat" / sorted(p.name for p in (loose / "cat").iterdir())[0]).read_bytes()
    )
    with pytest.raises(TaskError, match="outside class folders.*stray.png"):
        store.add("a", loose)
    small = _copy(folder, tmp_path / "small", {"cat": 10, "dog": MIN_PER_CLASS - 1})
    with pytest.raises(TaskError, match=r"at least 5 images; too few in: dog \(4\)"):
        store.add("a", small)
    empty = _copy(folder, tmp_path / "empty", {"cat": 10, "dog": 10})
    (empty / "bird").mkdir()
    (empty / "bird" / "notes.txt").write_text("x")
    with pytest.raises(TaskError, match="'bird'.*holds no images"):
        store.add("a", empty)
    broken = _copy(folder, tmp_path / "broken", {"cat": 10, "dog": 10})
    (broken / "dog" / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(TaskError, match="cannot read image dog/bad.jpg"):
        store.add("a", broken)
    assert store.names() == []
    assert not (tmp_path / "tasks").exists() or not any((tmp_path / "tasks").iterdir())  # nothing half-written left


@pytest.mark.parametrize(("fmt", "suffix"), [("GIF", ".png"), ("TIFF", ".jpg"), ("BMP", ".png"), ("EPS", ".png")])
def test_only_jpeg_and_png_are_decoded_whatever_the_name(fmt: str, suffix: str, folder: Path, tmp_path: Path) -> None:
    """Pillow would decode GIF, TIFF and BMP, and hand EPS to Ghostscript: each is refused by its content."""
    import io

    from PIL import Image

    src = _copy(folder, tmp_path / "src", {"cat": 10, "dog": 10})
    buf = io.BytesIO()
    if fmt == "EPS":
        buf.write(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n")
    else:
        Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format=fmt)
    (src / "dog" / f"odd{suffix}").write_bytes(buf.getvalue())
    with pytest.raises(TaskError, match=f"dog/odd{suffix}: not a JPEG or PNG"):
        TaskStore(tmp_path / "tasks").add("a", src)


def test_pixels_and_decoded_bytes_are_bounded_before_decoding(folder: Path, tmp_path: Path) -> None:
    import io

    from PIL import Image

    src = _copy(folder, tmp_path / "src", {"cat": 10, "dog": 10})
    buf = io.BytesIO()
    Image.new("L", (3000, 3000)).save(buf, format="PNG")  # 9 M pixels in a few kilobytes
    (src / "dog" / "huge.png").write_bytes(buf.getvalue())
    with pytest.raises(TaskError, match=r"dog/huge.png is 3000x3000 pixels; the limit is 1,000,000"):
        TaskStore(tmp_path / "tasks", max_pixels=1_000_000).add("a", src)
    with pytest.raises(TaskError, match=r"21 images at image_size 64 decode to 258,048 bytes; the limit is 100,000"):
        TaskStore(tmp_path / "tasks", max_decoded_bytes=100_000).add("a", src, image_size=64)


def test_limits_and_options_are_checked(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="more than 30 images"):
        TaskStore(tmp_path, max_images=30).add("a", folder)
    with pytest.raises(TaskError, match="val_fraction"):
        TaskStore(tmp_path).add("a", folder, val_fraction=0.9)
    with pytest.raises(TaskError, match="image_size"):
        TaskStore(tmp_path).add("a", folder, image_size=4)


def test_other_files_are_skipped_and_recorded(folder: Path, tmp_path: Path) -> None:
    src = _copy(folder, tmp_path / "src", {"cat": 10, "dog": 10})
    (src / "cat" / "README.txt").write_text("notes")
    rec = TaskStore(tmp_path / "tasks").add("a", src)
    assert rec.skipped == ["cat/README.txt"]
    assert rec.train + rec.validation + rec.test == 20


def test_a_corrupt_arrays_file_is_reported_not_used(folder: Path, tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    store.add("pets", folder)
    path = tmp_path / "pets" / "images.npz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        TaskStore(tmp_path).arrays("pets")


def test_remove_and_unknown_names(folder: Path, tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    store.add("pets", folder)
    store.remove("pets")
    assert store.names() == []
    with pytest.raises(UnknownNameError):
        store.record("pets")
    with pytest.raises(UnknownNameError):
        store.remove("pets")


def test_stratified_mask_holds_out_at_least_one_and_leaves_one() -> None:
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    val = stratified_mask(labels, 2, 0.2, seed=0)
    assert val[labels == 0].sum() == 1 and val[labels == 1].sum() == 2


def test_the_resolver_gives_a_user_task_its_split_and_a_keyed_cache(ws, folder: Path) -> None:
    ws.tasks.add("resolver-pets", folder)
    try:
        ti = task_images(ws, "resolver-pets")
        assert ti.user and ti.num_classes == 3
        assert len(ti.train) + len(ti.heldout) + len(ti.test) == 60 and ti.heldout_split == "validation"
        assert ti.key.startswith("task-resolver-pets-")
        builtin = task_images(ws, "cifar10-valid")
        assert not builtin.user and len(builtin.train) == len(builtin.heldout) == 25_000
        with pytest.raises(UnknownNameError, match="resolver-pets"):  # the valid names are listed
            task_images(ws, "no-such-task")
    finally:
        ws.tasks.remove("resolver-pets")


def test_the_test_split_is_disjoint_stratified_fixed_by_the_seed_and_keeps_the_old_validation(folder, tmp_path) -> None:
    a = TaskStore(tmp_path / "a").add("pets", folder, seed=5)
    _, labels, val, test = TaskStore(tmp_path / "a").arrays("pets")
    assert not (val & test).any() and (~val & ~test).sum() == a.train
    for c in range(3):
        assert test[labels == c].sum() == 4 and val[labels == c].sum() == 4
    _, _, val2, test2 = (
        TaskStore(tmp_path / "b").add("pets", folder, seed=5),
        TaskStore(tmp_path / "b").arrays("pets"),
    )[1]
    assert (val2 == val).all() and (test2 == test).all()  # fixed by the task's seed
    none = TaskStore(tmp_path / "c").add("pets", folder, seed=5, test_fraction=0.0)
    _, _, val0, test0 = TaskStore(tmp_path / "c").arrays("pets")
    assert none.test == 0 and not test0.any() and (val0 == stratified_mask(labels, 3, 0.2, 5)).all()


def test_a_user_test_folder_becomes_the_test_split(folder: Path, tmp_path: Path) -> None:
    extra = _copy(folder, tmp_path / "test-folder", {"cat": 5, "ship": 6})
    rec = TaskStore(tmp_path / "t").add("pets", folder, test_images=extra)
    assert rec.test == 11 and rec.train + rec.validation == 60 and rec.test_source == str(extra.resolve())
    _, _, test = TaskStore(tmp_path / "t").datasets("pets")
    assert test is not None and sorted(set(test.labels.tolist())) == [0, 2]
    wrong = _copy(folder, tmp_path / "wrong", {"cat": 5})
    (wrong / "cat").rename(wrong / "horse")
    (wrong / "dog").mkdir()
    for p in sorted((folder / "dog").iterdir())[:5]:
        (wrong / "dog" / p.name).write_bytes(p.read_bytes())
    with pytest.raises(TaskError, match="horse are not classes"):
        TaskStore(tmp_path / "w").add("pets", folder, test_images=wrong)
    with pytest.raises(TaskError, match="test_fraction"):
        TaskStore(tmp_path / "w").add("pets", folder, test_fraction=0.7)


def test_a_task_registered_before_test_splits_reads_as_one_without_and_says_so(ws, folder: Path) -> None:
    ws.tasks.add("old-pets", folder, test_fraction=0.0)
    try:
        d = ws.tasks.root / "old-pets"
        rec = json.loads((d / "task.json").read_text())
        for k in ("test", "test_fraction", "test_source"):
            rec.pop(k)
        rec["format"] = 1
        images, labels, val, _ = ws.tasks.arrays("old-pets")
        np.savez(d / "images.npz", images=images, labels=labels, validation=val)  # no test mask, as format 1 wrote
        rec["arrays_sha256"] = hashlib.sha256((d / "images.npz").read_bytes()).hexdigest()
        (d / "task.json").write_text(json.dumps(rec))
        ti = task_images(ws, "old-pets")
        assert ti.test is None and ws.tasks.record("old-pets").test == 0
        assert "no test split" in (ti.test_note or "")
    finally:
        ws.tasks.remove("old-pets")
