"""Unpacking an uploaded folder: zip and tar, wrapping folders, and the refusals (unsafe paths, links, limits)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from archgen.errors import TaskError
from archgen.tasks.archive import extract_archive
from tests.tasks.folders import image_folder, tar_folder, zip_folder

LIMITS = {"max_bytes": 10_000_000, "max_members": 1000}


@pytest.fixture(scope="module")
def folder(ws, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_folder(ws, tmp_path_factory.mktemp("folder") / "pets", per_class=6)


@pytest.mark.parametrize("pack", [lambda f: zip_folder(f), lambda f: zip_folder(f, None), tar_folder])
def test_zip_and_tar_unpack_to_the_class_folders(pack, folder: Path, tmp_path: Path) -> None:
    (tmp_path / "up").write_bytes(pack(folder))
    root = extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)
    assert sorted(p.name for p in root.iterdir()) == ["cat", "dog", "ship"]
    assert len(list((root / "cat").iterdir())) == 6


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../evil.png", "/abs/evil.png", "a/../../evil.png"])
def test_unsafe_paths_are_refused_before_writing(name: str, tmp_path: Path) -> None:
    (tmp_path / "up").write_bytes(_zip({"cat/1.png": b"x", name: b"x"}))
    with pytest.raises(TaskError, match="unsafe path"):
        extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)
    assert not (tmp_path / "evil.png").exists()


def test_links_in_a_tar_are_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("cat/link.png")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        t.addfile(info)
    (tmp_path / "up").write_bytes(buf.getvalue())
    with pytest.raises(TaskError, match="link or special file"):
        extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)


def test_limits_on_size_and_members(tmp_path: Path) -> None:
    (tmp_path / "up").write_bytes(_zip({"cat/1.png": b"\0" * 5000, "dog/1.png": b"\0" * 5000}))
    with pytest.raises(TaskError, match="unpacks to 10000 bytes; the limit is 6000"):
        extract_archive(tmp_path / "up", tmp_path / "out", max_bytes=6000, max_members=10)
    with pytest.raises(TaskError, match="holds 2 files; the limit is 1"):
        extract_archive(tmp_path / "up", tmp_path / "out2", max_bytes=10**6, max_members=1)


def test_something_else_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "up").write_bytes(b"plain text, not an archive")
    with pytest.raises(TaskError, match="not a zip or tar"):
        extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)
