"""Images: CIFAR-10 from the JPEG tarballs, and a user's own labelled folder.

CIFAR-10 (Krizhevsky, 2009) arrives as ``cifar10-jpg/cifar10_jpg_{train,test}.tar.gz``
holding ``<split>/<class>/NNNN.jpg``. It is decoded once (with a progress bar)
into ``uint8`` arrays cached as ``.npz`` beside the parsed tables, keyed by the
tarball's checksum.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from archgen.datasets.store import DataStore, cached_arrays
from archgen.errors import DataError, DataNotFoundError

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
#: Per-channel mean and std of the CIFAR-10 training set (RGB, in [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _decode_tar(path: Path, split: str, progress: bool) -> dict[str, np.ndarray]:
    """Decode every image of a CIFAR-10 tarball in one sequential pass (a gzip stream cannot seek cheaply)."""
    decoded: list[tuple[str, int, np.ndarray]] = []
    expected = {"train": 50_000, "test": 10_000}[split]
    with (
        tarfile.open(path, "r|gz") as tar,
        tqdm(
            total=expected, desc=f"decoding CIFAR-10 {split}", unit="img", disable=not progress, mininterval=1.0
        ) as bar,
    ):
        for m in tar:
            if not (m.isfile() and m.name.lower().endswith(IMAGE_SUFFIXES)):
                continue
            parts = Path(m.name).parts
            if len(parts) < 2 or parts[-2] not in CIFAR10_CLASSES:
                raise DataError(f"{path}: member {m.name} is not under <split>/<class>/")
            f = tar.extractfile(m)
            assert f is not None
            with Image.open(io.BytesIO(f.read())) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
            if arr.shape != (32, 32, 3):
                raise DataError(f"{path}: {m.name} has shape {arr.shape}, expected 32x32 RGB")
            decoded.append((m.name, CIFAR10_CLASSES.index(parts[-2]), arr))
            bar.update(1)
    if len(decoded) != expected:
        raise DataError(f"{path} holds {len(decoded)} images, expected {expected}")
    decoded.sort(key=lambda t: t[0])
    return {
        "images": np.stack([a for _, _, a in decoded]),
        "labels": np.array([c for _, c, _ in decoded], dtype=np.int64),
    }


def load_cifar10_arrays(
    split: str,
    store: DataStore,
    *,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 as arrays.

    Args:
        split: ``"train"`` (50,000) or ``"test"`` (10,000).
        store: The verified data directory.
        progress: Show a progress bar when decoding (first use only).

    Returns:
        ``images`` ``uint8`` of shape ``[n, 32, 32, 3]`` (HWC, RGB) and
        ``labels`` ``int64`` of shape ``[n]`` (indices into :data:`CIFAR10_CLASSES`).
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown CIFAR-10 split {split!r}; valid: train, test")
    name = f"cifar10-jpg/cifar10_jpg_{split}.tar.gz"
    arrays = store.cached_arrays(f"cifar10-{split}", [name], lambda: _decode_tar(store.root / name, split, progress))
    return arrays["images"], arrays["labels"]


class ImageArrayDataset(Dataset):
    """Labelled images held in memory, normalised on access.

    Args:
        images: ``uint8`` array ``[n, H, W, 3]``.
        labels: ``int64`` array ``[n]``.
        classes: Class names; ``labels`` index into it.
        mean, std: Per-channel normalisation (RGB, on the [0, 1] scale).

    Items are ``(x, y)``: ``x`` float32 ``[3, H, W]``, ``y`` an int.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: Sequence[str],
        mean: Sequence[float] = CIFAR10_MEAN,
        std: Sequence[float] = CIFAR10_STD,
    ) -> None:
        if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
            raise ValueError(f"images must be [n, H, W, 3] with one label each; got {images.shape} and {labels.shape}")
        self.images = images
        self.labels = labels
        self.classes = tuple(classes)
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def mean(self) -> list[float]:
        """Per-channel mean the images are normalised by (RGB, [0, 1] scale)."""
        return [float(v) for v in self._mean.flatten()]

    @property
    def std(self) -> list[float]:
        """Per-channel std the images are normalised by."""
        return [float(v) for v in self._std.flatten()]

    def _tensor(self, idx: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(self.images[idx]).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self._mean) / self._std

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self._tensor(np.array([i]))[0], int(self.labels[i])

    def subset(self, indices: np.ndarray) -> ImageArrayDataset:
        """A dataset of the rows ``indices`` (copies the arrays)."""
        return ImageArrayDataset(
            self.images[indices],
            self.labels[indices],
            self.classes,
            self._mean.flatten().tolist(),
            self._std.flatten().tolist(),
        )

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple[ImageArrayDataset, ImageArrayDataset]:
        """Deterministic class-stratified train/validation split.

        The same ``seed`` and ``val_fraction`` always give the same split.
        """
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        rng = np.random.default_rng(seed)
        val = []
        for c in range(len(self.classes)):
            idx = np.flatnonzero(self.labels == c)
            rng.shuffle(idx)
            val.append(idx[: round(len(idx) * val_fraction)])
        val_idx = np.sort(np.concatenate(val))
        train_idx = np.setdiff1d(np.arange(len(self)), val_idx)
        return self.subset(train_idx), self.subset(val_idx)

    def batch(
        self, batch_size: int, generator: np.random.Generator, *, balanced: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A mini-batch drawn without replacement with ``generator``.

        Args:
            batch_size: Number of images.
            generator: Source of randomness (same state -> same batch).
            balanced: Draw ``batch_size // num_classes`` images of every class
                (``batch_size`` must be a multiple of the number of classes).

        Returns:
            ``x`` float32 ``[batch_size, 3, H, W]`` and ``y`` int64 ``[batch_size]``.
        """
        if not 0 < batch_size <= len(self):
            raise ValueError(f"batch_size must be in 1..{len(self)}, got {batch_size}")
        if balanced:
            k = len(self.classes)
            if batch_size % k:
                raise ValueError(f"balanced batches need a multiple of {k} images, got {batch_size}")
            idx = np.concatenate(
                [generator.choice(np.flatnonzero(self.labels == c), batch_size // k, replace=False) for c in range(k)]
            )
        else:
            idx = generator.choice(len(self), batch_size, replace=False)
        return self._tensor(idx), torch.from_numpy(self.labels[idx])


def cifar10(split: str, store: DataStore, *, progress: bool = True) -> ImageArrayDataset:
    """CIFAR-10 ``split`` as a normalised torch ``Dataset``."""
    images, labels = load_cifar10_arrays(split, store, progress=progress)
    return ImageArrayDataset(images, labels, CIFAR10_CLASSES)


def image_folder(
    root: str | Path,
    image_size: int = 32,
    *,
    cache_dir: str | Path,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> ImageArrayDataset:
    """A user's labelled images, ``root/<class>/*.jpg|png``, resized to ``image_size``.

    Classes are the sub-folder names in sorted order. Normalisation defaults
    to the folder's own per-channel mean and std. Decoded arrays are cached,
    keyed by the files' names, sizes and modification times.

    Raises:
        DataNotFoundError: if ``root`` is missing or holds no class folder with images.
        DataError: naming a file that cannot be decoded.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataNotFoundError(f"image folder {root} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = [
        (c, p)
        for c in classes
        for p in sorted((root / c).iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DataNotFoundError(f"{root} has no images in <class>/ sub-folders ({', '.join(IMAGE_SUFFIXES)})")
    used = sorted({c for c, _ in files})
    record = {
        "root": str(root),
        "image_size": image_size,
        "files": [[str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for _, p in files],
    }

    def build() -> dict[str, np.ndarray]:
        images = np.empty((len(files), image_size, image_size, 3), dtype=np.uint8)
        for k, (_, p) in enumerate(tqdm(files, desc=f"decoding {root.name}", unit="img", disable=len(files) < 1000)):
            try:
                with Image.open(p) as im:
                    images[k] = np.asarray(im.convert("RGB").resize((image_size, image_size), Image.BILINEAR))
            except (OSError, ValueError) as e:
                raise DataError(f"cannot decode image {p}: {e}") from None
        return {"images": images, "labels": np.array([used.index(c) for c, _ in files], dtype=np.int64)}

    cache = Path(cache_dir)
    key = "folder-" + hashlib.sha256(str(root).encode()).hexdigest()[:16]
    arrays = cached_arrays(cache, key, record, build)
    imgs = arrays["images"]
    if mean is None or std is None:
        flat = imgs.reshape(-1, 3).astype(np.float64) / 255.0
        mean = tuple(flat.mean(0)) if mean is None else mean
        std = tuple(np.maximum(flat.std(0), 1e-6)) if std is None else std
    return ImageArrayDataset(imgs, arrays["labels"], used, mean, std)


__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "ImageArrayDataset",
    "cifar10",
    "image_folder",
    "load_cifar10_arrays",
]
