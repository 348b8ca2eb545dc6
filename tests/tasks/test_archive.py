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
    with pytest.raises(TaskError, match=r"holds 2 members \(files and folders\); the limit is 1"):
        extract_archive(tmp_path / "up", tmp_path / "out2", max_bytes=10**6, max_members=1)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_folders_count_toward_the_member_limit(kind: str, tmp_path: Path) -> None:
    """A few megabytes of directory entries (a million of them) are as many members as a million files."""
    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w") as z:
            for i in range(50):
                z.writestr(f"d{i}/", b"")
    else:
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            for i in range(50):
                info = tarfile.TarInfo(f"d{i}")
                info.type = tarfile.DIRTYPE
                t.addfile(info)
    (tmp_path / "up").write_bytes(buf.getvalue())
    with pytest.raises(TaskError, match="members"):
        extract_archive(tmp_path / "up", tmp_path / "out", max_bytes=10**6, max_members=20)


def _zip_with_flags(flag_bits: int = 0, method: int | None = None) -> bytes:
    """A one-member zip whose headers claim encryption (``flag_bits``) or another compression ``method``."""
    raw = bytearray(_zip({"cat/1.png": b"x" * 100}))
    for sig, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = raw.find(sig)
        raw[i + flags_at] |= flag_bits
        if method is not None:
            raw[i + method_at : i + method_at + 2] = method.to_bytes(2, "little")
    return bytes(raw)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_zip_with_flags(flag_bits=1), "encrypted archives are not accepted"),
        (_zip_with_flags(method=9), "compression method that cannot be read"),  # deflate64
        (_zip({"cat/1.png": b"x" * 100})[:-30], "not a zip or tar"),  # the central directory cut off
    ],
)
def test_unreadable_zips_are_refused_by_name(data: bytes, words: str, tmp_path: Path) -> None:
    (tmp_path / "up").write_bytes(data)
    with pytest.raises(TaskError, match=words):
        extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w:bz2"])
def test_corrupt_or_truncated_tars_are_refused_not_half_unpacked(mode: str, folder: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        t.add(folder, arcname="pets")
    good = buf.getvalue()
    for k, bad in enumerate((good[: len(good) // 2], good[:-64] + bytes(64))):  # truncated; its end overwritten
        (tmp_path / f"up{k}").write_bytes(bad)
        with pytest.raises(TaskError, match="corrupt or truncated|not a zip or tar"):
            extract_archive(tmp_path / f"up{k}", tmp_path / f"out{k}", **LIMITS)


def test_a_tar_whose_header_reads_as_its_end_is_refused(folder: Path, tmp_path: Path) -> None:
    """A zeroed header in the middle: tarfile sees the end of the archive there; the members after it are not
    silently dropped."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add(folder, arcname="pets")
    raw = bytearray(buf.getvalue())
    at = raw.find(b"pets/dog/")
    at -= at % 512
    raw[at : at + 512] = bytes(512)
    (tmp_path / "up").write_bytes(bytes(raw))
    with pytest.raises(TaskError, match="corrupt"):
        extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)


def test_something_else_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "up").write_bytes(b"plain text, not an archive")
    with pytest.raises(TaskError, match="not a zip or tar"):
        extract_archive(tmp_path / "up", tmp_path / "out", **LIMITS)
