"""CIFAR-10 and image-folder loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from archgen.datasets import CIFAR10_CLASSES, cifar10, image_folder
from archgen.errors import DataError, DataNotFoundError


@pytest.fixture(scope="module")
def cifar_test(ws):
    return cifar10("test", ws.store, progress=False)


def test_cifar10_test_split_shapes_labels_balance(cifar_test) -> None:
    assert len(cifar_test) == 10_000
    assert cifar_test.images.shape == (10_000, 32, 32, 3) and cifar_test.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(cifar_test.labels, minlength=10), np.full(10, 1000))
    x, y = cifar_test[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
    # test-set statistics match CIFAR-10's published ones (JPEG re-encode is lossy)
    mean = cifar_test.images.reshape(-1, 3).mean(0) / 255
    np.testing.assert_allclose(mean, [0.4942, 0.4851, 0.4504], atol=0.01)


def test_normalisation_centres_the_data(cifar_test) -> None:
    x, _ = cifar_test.batch(500, np.random.default_rng(0))
    assert abs(float(x.mean())) < 0.1
    assert 0.8 < float(x.std()) < 1.2


def test_batches_are_reproducible_and_balanced(cifar_test) -> None:
    a = cifar_test.batch(64, np.random.default_rng(3))
    b = cifar_test.batch(64, np.random.default_rng(3))
    c = cifar_test.batch(64, np.random.default_rng(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1]) or not torch.equal(a[0], c[0])
    _, y = cifar_test.batch(100, np.random.default_rng(0), balanced=True)
    np.testing.assert_array_equal(np.bincount(y.numpy(), minlength=10), np.full(10, 10))
    with pytest.raises(ValueError, match="multiple of 10"):
        cifar_test.batch(64, np.random.default_rng(0), balanced=True)
    with pytest.raises(ValueError):
        cifar_test.batch(0, np.random.default_rng(0))


def test_split_is_deterministic_stratified_and_disjoint(cifar_test) -> None:
    tr, va = cifar_test.split(0.2, seed=5)
    _tr2, va2 = cifar_test.split(0.2, seed=5)
    np.testing.assert_array_equal(va.labels, va2.labels)
    np.testing.assert_array_equal(va.images, va2.images)
    assert len(tr) + len(va) == len(cifar_test) and len(va) == 2000
    np.testing.assert_array_equal(np.bincount(va.labels, minlength=10), np.full(10, 200))
    with pytest.raises(ValueError):
        cifar_test.split(1.5)


def test_cifar10_unknown_split(ws) -> None:
    with pytest.raises(ValueError, match="train, test"):
        cifar10("val", ws.store)


def _write_folder(root: Path, per_class: dict[str, int], size: tuple[int, int] = (40, 30)) -> None:
    rng = np.random.default_rng(0)
    for cls, n in per_class.items():
        (root / cls).mkdir(parents=True)
        for k in range(n):
            arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{k}.{'png' if k % 2 else 'jpg'}")


def test_image_folder_loads_resizes_and_labels(tmp_path: Path) -> None:
    _write_folder(tmp_path / "imgs", {"cats": 3, "dogs": 5})
    (tmp_path / "imgs" / "dogs" / "notes.txt").write_text("ignored")
    ds = image_folder(tmp_path / "imgs", image_size=16, cache_dir=tmp_path / "cache")
    assert ds.classes == ("cats", "dogs")
    assert ds.images.shape == (8, 16, 16, 3)
    np.testing.assert_array_equal(np.bincount(ds.labels), [3, 5])
    x, _y = ds[0]
    assert x.shape == (3, 16, 16)
    again = image_folder(tmp_path / "imgs", image_size=16, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.images, ds.images)


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        image_folder(tmp_path / "missing", cache_dir=tmp_path / "cache")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="no images"):
        image_folder(tmp_path / "empty", cache_dir=tmp_path / "cache")
    (tmp_path / "bad" / "a").mkdir(parents=True)
    (tmp_path / "bad" / "a" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="x.jpg"):
        image_folder(tmp_path / "bad", cache_dir=tmp_path / "cache")


def test_class_names() -> None:
    assert CIFAR10_CLASSES[0] == "airplane" and len(CIFAR10_CLASSES) == 10
