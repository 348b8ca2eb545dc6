"""Small labelled image folders made from CIFAR-10 test images (written under a test's temporary directory)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def image_folder(ws, root: Path, classes: tuple[str, ...] = ("cat", "dog", "ship"), per_class: int = 30) -> Path:
    """``root/<class>/<i>.png`` with ``per_class`` CIFAR-10 test images of each class."""
    test = ws.cifar10("test")
    for c in classes:
        k = test.classes.index(c)
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(test.labels == k)[:per_class]:
            Image.fromarray(test.images[i]).save(root / c / f"{i}.png")
    return root


def zip_folder(folder: Path, wrap: str | None = "upload") -> bytes:
    """The folder as a zip (inside a wrapping folder ``wrap``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                rel = p.relative_to(folder).as_posix()
                z.write(p, f"{wrap}/{rel}" if wrap else rel)
    return buf.getvalue()


def tar_folder(folder: Path) -> bytes:
    """The folder as a .tar.gz."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                t.add(p, p.relative_to(folder).as_posix())
    return buf.getvalue()
