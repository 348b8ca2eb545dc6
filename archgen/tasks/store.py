"""User tasks: a labelled image folder registered under a name, with a checksum and a recorded split.

``archgen tasks add NAME --images DIR`` and ``POST /v1/tasks`` (an archive of the folder) call
:meth:`TaskStore.add`. The folder is ``DIR/<class>/*.jpg|jpeg|png``: at least two class folders, each with at
least :data:`MIN_PER_CLASS` readable images. Every image is decoded once, resized to ``image_size`` square
(bilinear) and kept as ``uint8`` arrays in ``home/tasks/<NAME>/images.npz`` (pickle-free) beside ``task.json``:
the classes, the counts, the SHA-256 of the source files (names and bytes, in sorted order) and of the arrays
file, and the class-stratified train/validation/test split (``val_fraction``, ``test_fraction``, ``seed``) as two
boolean masks (``validation``, ``test``), or a test folder the user supplies (``test_images``: the same classes, its
images appended and marked ``test``). Trainings train on the training part, select on validation only, and report
the test accuracy beside it (:mod:`archgen.tasks.images`); no training or selection reads the test part. A task
registered before test splits existed has none (``test == 0``): its results say so. Loading verifies the arrays'
SHA-256, so a corrupt file is reported, never used.

A task is written to a temporary directory and renamed into place: a failed or interrupted ``add`` leaves no
task behind, and an existing task is never overwritten (remove it first).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from archgen.datasets.images import ImageArrayDataset
from archgen.errors import DataError, TaskError, TaskExistsError, TaskReadOnlyError, UnknownNameError

if TYPE_CHECKING:
    from archgen.datasets.images import ImageArrayDataset

#: Suffixes read as images (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: The only image formats decoded (by content, whatever the file's suffix): no GIF, TIFF, BMP, and never
#: PostScript (Pillow hands EPS to Ghostscript).
DECODED_FORMATS = ("JPEG", "PNG")
#: Most pixels one source image may have (checked from its header, before decoding).
MAX_IMAGE_PIXELS = 40_000_000
#: Most bytes a task's decoded images may take (images x image_size^2 x 3), checked before decoding.
MAX_DECODED_BYTES = 1 << 30
#: Fewest images per class: at least one for training and one for validation, and a few to train on.
MIN_PER_CLASS = 5
#: Names of tasks with built-in images or tables; a user task may not take them.
RESERVED = frozenset({"cifar10", "cifar10-valid", "cifar100", "imagenet16-120", "ImageNet16-120"})
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
#: Store format of ``task.json`` (2: a test split; a format-1 record reads as a task without one).
TASK_FORMAT = 2
#: Default fraction of each class held out as the test split.
TEST_FRACTION = 0.2


@dataclass
class TaskRecord:
    """What ``task.json`` holds.

    Attributes:
        name: The task's name.
        classes: Class names (the sub-folders, sorted); labels index into it.
        images_per_class: Image count of each class.
        train, validation: Images in each part of the split.
        image_size: Side the images were resized to.
        val_fraction, split_seed: The stratified split's fraction and seed.
        test: Images in the test split (0: none, a task registered before test splits).
        test_fraction: Fraction of each class in it (0 with a test folder or none).
        test_source: The test folder the user supplied ("": cut from the task's images).
        source: Where the images came from (the folder, or the uploaded archive's name).
        source_sha256: SHA-256 over every source image's relative path and bytes, in sorted order.
        arrays_sha256: SHA-256 of ``images.npz``.
        skipped: Files ignored in the class folders (not images).
        created: ISO 8601 UTC timestamp.
    """

    name: str
    classes: list[str]
    images_per_class: dict[str, int]
    train: int
    validation: int
    image_size: int
    val_fraction: float
    split_seed: int
    source: str
    source_sha256: str
    arrays_sha256: str
    skipped: list[str] = field(default_factory=list)
    created: str = ""
    format: int = 1
    test: int = 0
    test_fraction: float = 0.0
    test_source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d["images"] = self.train + self.validation + self.test
        d["skipped"] = len(self.skipped)
        return d


def check_task_name(name: str) -> str:
    """``name`` if it can name a user task (lower-case letters, digits, ``-``, ``_``; not a built-in task)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise TaskError(
            f"invalid task name {name!r}: use 1-48 lower-case letters, digits, '-' and '_', starting with a letter or digit"
        )
    if name in RESERVED or name.lower() in {r.lower() for r in RESERVED}:
        raise TaskError(f"task name {name!r} is a built-in task's; choose another")
    return name


def scan_folder(
    root: Path, max_images: int, label: str | None = None
) -> tuple[list[str], list[tuple[int, Path]], list[str]]:
    """The classes, the ``(label, file)`` images and the skipped files of a labelled folder (validated).
    ``label`` names the folder in errors (default: its path; an upload's is "the archive", never a server path).

    Raises:
        TaskError: naming what is wrong (missing folder, images outside class folders, fewer than two
            classes, an empty or too small class, too many images).
    """
    if not root.is_dir():
        raise TaskError(f"image folder {label or root} does not exist or is not a folder")
    where = label or str(root)
    loose = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if loose:
        raise TaskError(
            f"{where} holds images outside class folders ({', '.join(loose[:3])}{'...' if len(loose) > 3 else ''}): "
            "put each class's images in a folder of its own (<class>/)"
        )
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes: list[str] = []
    images: list[tuple[int, Path]] = []
    skipped: list[str] = []
    small: list[str] = []
    for d in dirs:
        files = sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))
        imgs = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped += [str(p.relative_to(root)) for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
        if not imgs:
            raise TaskError(f"class folder {d.name!r} of {where} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if len(imgs) < MIN_PER_CLASS:
            small.append(f"{d.name} ({len(imgs)})")
        images += [(len(classes), p) for p in imgs]
        classes.append(d.name)
        if len(images) > max_images:
            raise TaskError(f"{where} holds more than {max_images} images (the limit); use fewer")
    if len(classes) < 2:
        raise TaskError(
            f"{where} needs at least two class folders with images (<class>/*.jpg|png); found {len(classes)}"
            + (f": {classes[0]}" if classes else "")
        )
    if small:
        raise TaskError(f"every class needs at least {MIN_PER_CLASS} images; too few in: {', '.join(small)}")
    return classes, images, skipped


def _decode(
    root: Path,
    images: list[tuple[int, Path]],
    size: int,
    on_image: Callable[[int, int], None] | None,
    max_pixels: int = MAX_IMAGE_PIXELS,
):
    """Decode each image (JPEG or PNG only, whatever its name says; at most ``max_pixels`` each, checked from the
    header before any pixel is decoded) into a ``uint8`` array resized to ``size``; and the source checksum."""
    arr = np.empty((len(images), size, size, 3), dtype=np.uint8)
    h = hashlib.sha256()
    for k, (_, p) in enumerate(images):
        raw = p.read_bytes()
        rel = p.relative_to(root)
        h.update(str(rel).encode() + b"\0" + hashlib.sha256(raw).digest())
        try:
            with Image.open(io.BytesIO(raw), formats=DECODED_FORMATS) as im:
                w, hgt = im.size
                if w * hgt > max_pixels:
                    raise TaskError(
                        f"image {rel} is {w}x{hgt} pixels; the limit is {max_pixels:,} pixels an image: resize it"
                    )
                arr[k] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
        except TaskError:
            raise
        except UnidentifiedImageError:
            raise TaskError(f"cannot read image {rel}: not a JPEG or PNG file (only those are decoded)") from None
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
            raise TaskError(f"cannot read image {rel}: {e}") from None
        if on_image is not None and (k % 200 == 0 or k + 1 == len(images)):
            on_image(k + 1, len(images))
    return arr, h.hexdigest()


def decode_files(paths: list[Path], size: int, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Image files decoded as a task's images are (:func:`_decode`: JPEG or PNG, RGB, resized to ``size`` square).

    Raises:
        TaskError: a missing file, or one that is not a readable JPEG or PNG (naming it).
    """
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for k, p in enumerate(paths):
        p = Path(p)
        if not p.is_file():
            raise TaskError(f"no image file {p}")
        out[k] = _decode(p.parent, [(0, p)], size, None, max_pixels)[0][0]
    return out


def stratified_mask(labels: np.ndarray, num_classes: int, val_fraction: float, seed: int) -> np.ndarray:
    """Boolean validation mask: ``round(n_c * val_fraction)`` (at least one, at most ``n_c - 1``) of each class."""
    return stratified_split(labels, num_classes, val_fraction, 0.0, seed)[0]


def stratified_split(
    labels: np.ndarray, num_classes: int, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``(validation, test)`` masks, disjoint: of each class's ``n_c`` images, ``round(n_c *
    test_fraction)`` test (at least one when the fraction is positive) and ``round(n_c * val_fraction)``
    validation (at least one), at least one left to train on. One shuffle per class (``seed``): the validation
    part of a split without test images is the one :func:`stratified_mask` gave before test splits existed."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(labels), dtype=bool)
    test = np.zeros(len(labels), dtype=bool)
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        k = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1)
        t = 0 if test_fraction <= 0 else min(max(1, round(len(idx) * test_fraction)), len(idx) - 1 - k)
        val[idx[:k]] = True
        test[idx[k : k + t]] = True
    return val, test


class TaskStore:
    """User tasks under one directory (``home/tasks``): ``<name>/task.json`` and ``<name>/images.npz``.

    Args:
        root: The directory (created on the first ``add``).
        max_images: Most images one task may hold.
        max_decoded_bytes: Most bytes its decoded images may take (images x image_size^2 x 3).
        max_pixels: Most pixels one source image may have.
        shared: Tasks readable through this store but not its own (an API key's view reads the operator's, added
            with ``archgen tasks add``): listed, recorded and read like its own, never removed or replaced
            through it; a name of its own comes first.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        max_images: int = 100_000,
        max_decoded_bytes: int = MAX_DECODED_BYTES,
        max_pixels: int = MAX_IMAGE_PIXELS,
        shared: TaskStore | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_images = max_images
        self.max_decoded_bytes = max_decoded_bytes
        self.max_pixels = max_pixels
        self.shared = shared
        self._lock = threading.Lock()

    def own_names(self) -> list[str]:
        """This store's own task names, sorted (not the shared ones)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "task.json").is_file())

    def names(self) -> list[str]:
        """Every task readable here (its own and the shared ones), sorted."""
        return sorted({*self.own_names(), *(self.shared.names() if self.shared is not None else ())})

    def owns(self, name: object) -> bool:
        """Whether ``name`` is a task of this store's own."""
        return isinstance(name, str) and _NAME_RE.match(name) is not None and (self.root / name / "task.json").is_file()

    def is_shared(self, name: str) -> bool:
        """Whether ``name`` is read from the shared tasks (read-only here)."""
        return not self.owns(name) and self.shared is not None and name in self.shared

    def _dir(self, name: str) -> Path:
        return self.shared._dir(name) if self.is_shared(name) and self.shared is not None else self.root / name

    def __contains__(self, name: object) -> bool:
        return self.owns(name) or (self.shared is not None and name in self.shared)

    def record(self, name: str) -> TaskRecord:
        """The task's record.

        Raises:
            UnknownNameError: no such task (listing the registered ones).
            DataError: an unreadable ``task.json``.
        """
        if name not in self:
            raise UnknownNameError("task", name, self.names())
        path = self._dir(name) / "task.json"
        try:
            d = json.loads(path.read_text())
            return TaskRecord(**d)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
            raise DataError(
                f"task {name!r}: its task.json is not a readable task record ({e}); remove and add it again"
            ) from None

    def records(self) -> list[TaskRecord]:
        return [self.record(n) for n in self.names()]

    def add(
        self,
        name: str,
        images: Path | str,
        *,
        image_size: int = 32,
        val_fraction: float = 0.2,
        seed: int = 0,
        source: str | None = None,
        label: str | None = None,
        on_image: Callable[[int, int], None] | None = None,
        test_fraction: float = TEST_FRACTION,
        test_images: Path | str | None = None,
    ) -> TaskRecord:
        """Validate, decode and register the labelled folder ``images`` as task ``name``.

        Args:
            image_size: Side the images are resized to (8-256).
            val_fraction: Fraction of each class held out for validation (0.05-0.5).
            test_fraction: Fraction of each class held out as the test split (0-0.5; 0: none); ignored with
                ``test_images``. Validation and test together leave at least one image a class to train on.
            test_images: A labelled folder of test images (class folders named as ``images``' classes).
            seed: Seed of the split.
            source: What to record as the source (default: the folder's path).
            label: What errors call the folder (default: its path; an upload's job says "the archive", so that no
                server path reaches a user).
            on_image: ``on_image(done, total)`` while decoding (may raise to stop; nothing is registered).

        Raises:
            TaskError: a bad name or folder (naming the problem), or bad options.
            TaskExistsError: the name is taken.
        """
        check_task_name(name)
        if not 8 <= image_size <= 256:
            raise TaskError(f"image_size must be in 8..256, got {image_size}")
        if not 0.05 <= val_fraction <= 0.5:
            raise TaskError(f"val_fraction must be in [0.05, 0.5], got {val_fraction}")
        if not (isinstance(test_fraction, int | float) and 0 <= test_fraction <= 0.5):
            raise TaskError(f"test_fraction must be in [0, 0.5], got {test_fraction}")
        if test_images is None and val_fraction + test_fraction > 0.8:
            raise TaskError(f"val_fraction + test_fraction is {val_fraction + test_fraction:g}: at most 0.8 (the "
                            "rest is trained on)")  # fmt: skip
        root = Path(images).expanduser().resolve()
        if self.is_shared(name):
            raise TaskExistsError(
                f"task {name!r} is a shared task (added by the service's operator): choose another name"
            )
        if name in self:
            raise TaskExistsError(f"task {name!r} exists already; remove it first (`archgen tasks remove {name}`)")
        classes, files, skipped = scan_folder(root, self.max_images, label)
        n_own = len(files)
        test_root = None if test_images is None else Path(test_images).expanduser().resolve()
        if test_root is not None:
            t_classes, t_files, _ = scan_folder(test_root, self.max_images - n_own, "the test folder")
            unknown = [c for c in t_classes if c not in classes]
            if unknown:
                raise TaskError(f"the test folder's classes {', '.join(unknown)} are not classes of {label or root} "
                                f"({', '.join(classes)})")  # fmt: skip
            files = files + [(classes.index(t_classes[c]), p) for c, p in t_files]
        decoded = len(files) * image_size * image_size * 3
        if decoded > self.max_decoded_bytes:
            raise TaskError(
                f"{len(files)} images at image_size {image_size} decode to {decoded:,} bytes; the limit is "
                f"{self.max_decoded_bytes:,}: use a smaller image_size or fewer images"
            )
        arr_own, source_sha = _decode(root, files[:n_own], image_size, on_image, self.max_pixels)
        labels = np.array([c for c, _ in files], dtype=np.int64)
        if test_root is None:
            arr = arr_own
            val, test = stratified_split(labels, len(classes), val_fraction, test_fraction, seed)
        else:
            arr_test, test_sha = _decode(test_root, files[n_own:], image_size, None, self.max_pixels)
            arr = np.concatenate([arr_own, arr_test])
            val, _ = stratified_split(labels[:n_own], len(classes), val_fraction, 0.0, seed)
            val = np.concatenate([val, np.zeros(len(files) - n_own, dtype=bool)])
            test = np.arange(len(files)) >= n_own
            source_sha = hashlib.sha256((source_sha + test_sha).encode()).hexdigest()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        try:
            np.savez(tmp / "images.npz", images=arr, labels=labels, validation=val, test=test)
            rec = TaskRecord(
                name=name,
                classes=classes,
                images_per_class={c: int((labels == k).sum()) for k, c in enumerate(classes)},
                train=int((~val & ~test).sum()),
                validation=int(val.sum()),
                image_size=image_size,
                val_fraction=val_fraction,
                split_seed=seed,
                source=source or str(root),
                source_sha256=source_sha,
                arrays_sha256=_file_sha256(tmp / "images.npz"),
                skipped=skipped[:1000],
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                format=TASK_FORMAT,
                test=int(test.sum()),
                test_fraction=0.0 if test_root is not None else float(test_fraction),
                test_source=str(test_root) if test_root is not None else "",
            )
            (tmp / "task.json").write_text(json.dumps(asdict(rec), indent=1))
            with self._lock:
                if (self.root / name).exists():
                    raise TaskExistsError(
                        f"task {name!r} exists already; remove it first (`archgen tasks remove {name}`)"
                    )
                os.rename(tmp, self.root / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return rec

    def remove(self, name: str) -> None:
        """Delete task ``name`` (``UnknownNameError`` if there is none; ``TaskReadOnlyError`` for a shared one)."""
        if self.is_shared(name):
            raise TaskReadOnlyError(f"task {name!r} is shared by the service's operator (added with `archgen tasks "
                                    "add`): read-only, it cannot be deleted with an API key")  # fmt: skip
        if name not in self:
            raise UnknownNameError("task", name, self.own_names())
        trash = self.root / f".removed-{name}-{os.getpid()}-{threading.get_ident()}"
        os.rename(self.root / name, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(images, labels, validation mask, test mask)`` of the task, verified against its record (read each
        call: the workspace keeps the decoded datasets, :func:`archgen.tasks.task_images`, keyed by the checksum);
        the test mask is all false for a task without a test split.

        Raises:
            DataError: the arrays file is missing, corrupt or does not match the record.
        """
        rec = self.record(name)
        path = self._dir(name) / "images.npz"
        if not path.is_file():
            raise DataError(f"task {name!r} is incomplete: its images.npz is missing; remove and add it again")
        sha = _file_sha256(path)
        if sha != rec.arrays_sha256:
            raise DataError(
                f"task {name!r} is corrupt: sha256 of its images.npz is {sha}, task.json records {rec.arrays_sha256}"
            )
        try:
            with np.load(path, allow_pickle=False) as z:
                test = z["test"] if "test" in z.files else np.zeros(len(z["labels"]), dtype=bool)
                return z["images"], z["labels"], z["validation"], test
        except (ValueError, KeyError, OSError) as e:
            raise DataError(f"task {name!r}: its images.npz cannot be read ({e})") from None

    def datasets(self, name: str) -> tuple[ImageArrayDataset, ImageArrayDataset, ImageArrayDataset | None]:
        """``(train, validation, test)`` images of the task (test ``None`` without a test split), normalised by the
        training part's per-channel mean and std."""
        rec = self.record(name)
        images, labels, val, test = self.arrays(name)
        train = ~val & ~test
        tr = images[train]
        flat = tr.reshape(-1, 3).astype(np.float64) / 255.0
        mean, std = tuple(flat.mean(0)), tuple(np.maximum(flat.std(0), 1e-6))
        return (
            ImageArrayDataset(tr, labels[train], rec.classes, mean, std),
            ImageArrayDataset(images[val], labels[val], rec.classes, mean, std),
            ImageArrayDataset(images[test], labels[test], rec.classes, mean, std) if test.any() else None,
        )


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = [
    "IMAGE_SUFFIXES",
    "MIN_PER_CLASS",
    "TaskError",
    "TaskExistsError",
    "TaskRecord",
    "TaskStore",
    "check_task_name",
    "decode_files",
    "scan_folder",
    "stratified_mask",
    "stratified_split",
]
