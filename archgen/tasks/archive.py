"""Unpacking an uploaded image folder (zip or tar, optionally gzip/bz2/xz-compressed) safely.

Members are checked before anything is written: no absolute paths, no ``..``, no links or devices, at most
``max_members`` members (folders count too) and ``max_bytes`` uncompressed in all (a zip bomb is refused from its
headers; the bytes actually written are counted too). An archive that cannot be read to its end (truncated,
corrupt, encrypted, an unsupported compression method) is refused as such, never half-unpacked. A wrapping folder (``upload.zip`` holding ``pets/cat/...``) is
descended into, and macOS's ``__MACOSX`` metadata is ignored.
"""

from __future__ import annotations

import lzma
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from archgen.errors import TaskError

_CHUNK = 1 << 20


def _safe_name(name: str) -> PurePosixPath | None:
    """The member's relative path, ``None`` for metadata to skip; raises for unsafe paths."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise TaskError(f"archive member {name!r} has an unsafe path (absolute or with '..')")
    if not p.parts or p.parts[0] == "__MACOSX" or any(s.startswith("._") for s in p.parts):
        return None
    return p


def _copy(src, dest: Path, budget: list[int], name: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise TaskError(f"the archive unpacks to more than the limit (at member {name!r})")
            out.write(chunk)


def extract_archive(archive: Path | str, dest: Path | str, *, max_bytes: int, max_members: int) -> Path:
    """Unpack ``archive`` (zip or tar) into ``dest`` (which must be empty or absent); returns the image folder's root.

    Raises:
        TaskError: not a zip or tar archive, an unsafe member, or over a limit (naming which).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    budget = [max_bytes]
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, budget, max_bytes, max_members)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest, budget, max_bytes, max_members)
        else:
            raise TaskError("the upload is not a zip or tar archive (.zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz)")
    except TaskError:
        raise
    except NotImplementedError as e:  # zip: deflate64, other methods
        raise TaskError(f"the archive uses a compression method that cannot be read ({e}); use deflate") from None
    except RuntimeError as e:  # zip: "File ... is encrypted, password required"
        raise TaskError(f"the archive cannot be read: {e} (encrypted archives are not accepted)") from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as e:
        raise TaskError(f"the archive is corrupt or truncated and cannot be read: {e}") from None
    root = dest
    while True:  # descend through wrapping folders
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir() and any(q.is_dir() for q in entries[0].iterdir()):
            root = entries[0]
            continue
        return root


def _extract_zip(archive: Path, dest: Path, budget: list[int], max_bytes: int, max_members: int) -> None:
    with zipfile.ZipFile(archive) as z:
        members = z.infolist()
        if len(members) > max_members:
            raise TaskError(f"the archive holds {len(members)} members (files and folders); the limit is {max_members}")
        infos = [i for i in members if not i.is_dir()]
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            raise TaskError(f"the archive unpacks to {declared} bytes; the limit is {max_bytes}")
        for i in infos:
            rel = _safe_name(i.filename)
            if rel is None:
                continue
            if (i.external_attr >> 16) & 0o170000 == 0o120000:
                raise TaskError(f"archive member {i.filename!r} is a symbolic link; links are not accepted")
            with z.open(i) as src:
                _copy(src, dest.joinpath(*rel.parts), budget, i.filename)


def _extract_tar(archive: Path, dest: Path, budget: list[int], max_bytes: int, max_members: int) -> None:
    count = 0
    with tarfile.open(archive, "r:*") as t:
        for m in t:
            count += 1
            if count > max_members:
                raise TaskError(f"the archive holds more than {max_members} members (files and folders; the limit)")
            if m.isdir():
                _safe_name(m.name)
                continue
            if not m.isfile():
                raise TaskError(f"archive member {m.name!r} is a link or special file; only files are accepted")
            rel = _safe_name(m.name)
            if rel is None:
                continue
            if m.size > budget[0]:
                raise TaskError(f"the archive unpacks to more than {max_bytes} bytes (the limit; at member {m.name!r})")
            src = t.extractfile(m)
            assert src is not None
            with src:
                _copy(src, dest.joinpath(*rel.parts), budget, m.name)
        _check_tar_end(t, budget)


def _check_tar_end(t: tarfile.TarFile, budget: list[int]) -> None:
    """Read what follows the last member to the end (checking a compressed stream's checksum): a tar's end is
    zero blocks; a corrupt header reads as an early end to :mod:`tarfile`, which would unpack half the archive."""
    f = t.fileobj
    assert f is not None
    while chunk := f.read(_CHUNK):
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise TaskError("the archive unpacks to more than the limit (after its last member)")
        if chunk.count(0) != len(chunk):
            raise TaskError("the archive is corrupt: data after its last readable member cannot be read")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["extract_archive"]
