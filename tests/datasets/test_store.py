"""Data directory resolution, manifest verification, cached tables."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from archgen.datasets.store import DataStore, cached_arrays, read_manifest
from archgen.errors import ChecksumMismatchError, DataError, DataNotFoundError

SMALL = "nb201-lc-200archs/SOURCE.txt"
TABLE = "naslib-zc-subsets/zc_nasbench101.json"


def _copy_subset(src: Path, dst: Path, names: list[str]) -> None:
    """A data directory with a few real files and a manifest listing exactly them."""
    manifest = read_manifest(src / "MANIFEST.sha256")
    lines = []
    for name in names:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dst / name)
        lines.append(f"{manifest[name]}  ./{name}")
    (dst / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")


def test_missing_directory_says_how_to_provide(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as e:
        DataStore(tmp_path / "nowhere", tmp_path / "cache")
    msg = str(e.value)
    assert "nowhere" in msg and "--data-dir" in msg and "ARCHGEN_DATA_DIR" in msg


def test_directory_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="MANIFEST.sha256"):
        DataStore(tmp_path, tmp_path / "cache")


def test_the_store_reads_only_what_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    """The environment is read at the edge (Settings), never by the library."""
    monkeypatch.setenv("ARCHGEN_DATA_DIR", str(tmp_path / "absent"))
    assert DataStore(data_dir, tmp_path).root == data_dir.resolve()


def test_verify_real_files_then_stamp_skips_hashing(data_dir: Path, tmp_path: Path) -> None:
    store = DataStore(data_dir, tmp_path)
    first = store.verify([SMALL, TABLE])
    assert sorted(first.hashed) == sorted([SMALL, TABLE])
    again = DataStore(data_dir, tmp_path).verify([SMALL, TABLE])
    assert again.hashed == [] and sorted(again.checked) == sorted([SMALL, TABLE])
    assert sorted(DataStore(data_dir, tmp_path).verify([SMALL], full=True).hashed) == [SMALL]


def test_corrupted_copy_is_refused_naming_the_file(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    _copy_subset(data_dir, copy, [SMALL, TABLE])
    DataStore(copy, tmp_path / "cache").verify()
    target = copy / TABLE
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(ChecksumMismatchError) as e:
        DataStore(copy, tmp_path / "cache").verify()
    assert str(target) in str(e.value)
    assert e.value.expected == read_manifest(copy / "MANIFEST.sha256")[TABLE]


def test_corruption_with_preserved_mtime_is_caught_by_full(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    _copy_subset(data_dir, copy, [SMALL])
    DataStore(copy, tmp_path / "cache").verify()
    target = copy / SMALL
    st = target.stat()
    raw = bytearray(target.read_bytes())
    raw[0] ^= 0x01
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ChecksumMismatchError):
        DataStore(copy, tmp_path / "cache").verify(full=True)


def test_missing_file_is_named(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    _copy_subset(data_dir, copy, [SMALL, TABLE])
    (copy / TABLE).unlink()
    with pytest.raises(DataNotFoundError) as e:
        DataStore(copy, tmp_path / "cache").verify()
    assert TABLE in str(e.value)


def test_malformed_manifest_line(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST.sha256").write_text("not-a-hash  ./x\n")
    with pytest.raises(DataError, match="malformed manifest line"):
        DataStore(tmp_path, tmp_path / "cache")


def test_unknown_name_not_in_manifest(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not listed"):
        DataStore(data_dir, tmp_path).verify(["no/such/file.csv"])


def test_cached_arrays_rebuild_when_inputs_change(tmp_path: Path) -> None:
    calls = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"a": np.arange(5.0)}

    rec = {"sources": {"x": hashlib.sha256(b"1").hexdigest()}}
    np.testing.assert_array_equal(cached_arrays(tmp_path, "k", rec, build)["a"], np.arange(5.0))
    cached_arrays(tmp_path, "k", rec, build)
    assert len(calls) == 1, "second load must come from the cache"
    rec2 = {"sources": {"x": hashlib.sha256(b"2").hexdigest()}}
    cached_arrays(tmp_path, "k", rec2, build)
    assert len(calls) == 2, "a changed checksum must rebuild"
    (tmp_path / "tables" / "k.npz").write_bytes(b"corrupt")
    np.testing.assert_array_equal(cached_arrays(tmp_path, "k", rec2, build)["a"], np.arange(5.0))
    assert len(calls) == 3, "a corrupt cache entry is rebuilt, not trusted"


def test_cached_arrays_refuse_object_arrays(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="object"):
        cached_arrays(tmp_path, "o", {}, lambda: {"a": np.array([{"x": 1}], dtype=object)})
