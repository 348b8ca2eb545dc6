"""Locating, verifying and caching the benchmark data.

The data directory is ``../shared/data`` in a checkout (see the data README):
published benchmark tables and CIFAR-10 images, with ``MANIFEST.sha256``. This
module finds it, verifies files against the manifest (cheaply on later starts,
through a stamp keyed by size and mtime), and caches parsed tables as ``.npz``
plus a JSON record of the checksums they were built from. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archgen.errors import ChecksumMismatchError, DataError, DataNotFoundError

MANIFEST = "MANIFEST.sha256"
#: Bumped whenever the layout of cached arrays changes, so old caches are rebuilt.
CACHE_FORMAT = 1

_HOW_TO_PROVIDE = (
    "Point archgen at the benchmark data with --data-dir DIR or the environment "
    f"variable ARCHGEN_DATA_DIR=DIR, where DIR holds {MANIFEST} and the folders listed "
    "in it (in a checkout: ../shared/data beside the repository). The README's "
    "'Data' section says where each file comes from."
)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-style manifest into ``{relative path: sha256}``.

    Raises:
        DataError: naming the line that is malformed.
    """
    entries: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{path}:{lineno}: malformed manifest line {line!r}")
        digest, name = parts
        name = name.strip().lstrip("*")
        entries[name[2:] if name.startswith("./") else name] = digest.lower()
    return entries


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class VerifyReport:
    """What :meth:`DataStore.verify` checked.

    Attributes:
        checked: Files verified (relative paths).
        hashed: Of those, files whose sha256 was computed in this call (the
            others matched the stamp's size and mtime).
    """

    checked: list[str] = field(default_factory=list)
    hashed: list[str] = field(default_factory=list)


class DataStore:
    """The benchmark data directory, verified and cached.

    Args:
        data_dir: The data directory (holds ``MANIFEST.sha256``).
        cache_dir: Where the verification stamp and parsed tables are cached.

    Raises:
        DataNotFoundError: if the data directory (or its manifest) does not
            exist, with what is missing and how to provide it.
    """

    def __init__(self, data_dir: str | Path, cache_dir: str | Path) -> None:
        root = Path(data_dir).expanduser().resolve()
        if not root.is_dir():
            raise DataNotFoundError(f"benchmark data directory {root} does not exist. {_HOW_TO_PROVIDE}")
        if not (root / MANIFEST).is_file():
            raise DataNotFoundError(f"{root} has no {MANIFEST}, so its files cannot be verified. {_HOW_TO_PROVIDE}")
        self.root = root
        self.cache_dir = Path(cache_dir).expanduser().resolve()
        self.manifest = read_manifest(root / MANIFEST)
        self._verified: set[str] = set()
        self._lock = threading.Lock()
        self._memo: dict[str, dict[str, np.ndarray]] = {}

    def checksums(self, names: Iterable[str]) -> dict[str, str]:
        """``{relative path: sha256}`` of data files (or folders: every manifest entry below them)."""
        out: dict[str, str] = {}
        for name in names:
            if name in self.manifest:
                out[name] = self.manifest[name]
            else:
                below = {k: v for k, v in self.manifest.items() if k.startswith(name.rstrip("/") + "/")}
                if not below:
                    raise DataError(f"{name} is not listed in {self.root / MANIFEST}")
                out.update(below)
        return dict(sorted(out.items()))

    # -- verification --------------------------------------------------------
    @property
    def _stamp_path(self) -> Path:
        key = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return self.cache_dir / "verified" / f"{key}.json"

    def _load_stamp(self) -> dict[str, list]:
        try:
            stamp = json.loads(self._stamp_path.read_text())
            return stamp if isinstance(stamp, dict) else {}
        except (OSError, ValueError):
            return {}

    def verify(self, names: Iterable[str] | None = None, *, full: bool = False) -> VerifyReport:
        """Verify files against the manifest.

        A file whose size and mtime match the stamp left by an earlier
        successful check is not hashed again unless ``full`` is set.

        Args:
            names: Relative paths to check (default: every manifest entry).
            full: Hash every file regardless of the stamp.

        Raises:
            DataNotFoundError: a listed file is missing (names it).
            ChecksumMismatchError: a file's sha256 differs (names it).
            DataError: a name is not in the manifest.
        """
        wanted = list(self.manifest) if names is None else list(names)
        report = VerifyReport()
        with self._lock:
            stamp = self._load_stamp()
            changed = False
            for name in wanted:
                if name not in self.manifest:
                    raise DataError(f"{name} is not listed in {self.root / MANIFEST}")
                if name in self._verified and not full:
                    report.checked.append(name)
                    continue
                path = self.root / name
                try:
                    st = path.stat()
                except FileNotFoundError:
                    raise DataNotFoundError(
                        f"data file {path} is missing (listed in {MANIFEST}). {_HOW_TO_PROVIDE}"
                    ) from None
                expected = self.manifest[name]
                entry = [st.st_size, st.st_mtime_ns, expected]
                if full or stamp.get(name) != entry:
                    actual = sha256_file(path)
                    report.hashed.append(name)
                    if actual != expected:
                        stamp.pop(name, None)
                        self._save_stamp(stamp)
                        raise ChecksumMismatchError(str(path), expected, actual)
                    stamp[name] = entry
                    changed = True
                self._verified.add(name)
                report.checked.append(name)
            if changed:
                self._save_stamp(stamp)
        return report

    def _save_stamp(self, stamp: Mapping[str, list]) -> None:
        try:
            atomic_write_bytes(self._stamp_path, json.dumps(stamp, sort_keys=True).encode())
        except OSError:
            pass  # an unwritable cache only costs re-hashing next time

    def path(self, name: str) -> Path:
        """Absolute path of data file ``name`` after verifying it."""
        self.verify([name])
        return self.root / name

    # -- cache of parsed tables ----------------------------------------------------
    def cached_arrays(
        self,
        key: str,
        sources: Iterable[str],
        build: Callable[[], Mapping[str, np.ndarray]],
        *,
        extra: Mapping[str, object] | None = None,
    ) -> dict[str, np.ndarray]:
        """Arrays parsed from data files, cached on disk with their provenance.

        The cache entry ``<cache_dir>/tables/<key>.npz`` is used only if its
        JSON record names the same source checksums, ``extra`` values and
        cache format; otherwise ``build`` runs (after the sources are
        verified) and the entry is rewritten.

        Args:
            key: Cache entry name.
            sources: Data files (relative paths) the arrays are built from.
            build: Parses the sources into named arrays (no object arrays).
            extra: Anything else the arrays depend on (e.g. a package version).
        """
        if key in self._memo:
            return self._memo[key]
        sources = list(sources)
        self.verify(sources)
        record = {
            "sources": {name: self.manifest[name] for name in sources},
            "extra": dict(extra or {}),
        }
        arrays = cached_arrays(self.cache_dir, key, record, build)
        self._memo[key] = arrays
        return arrays


def cached_arrays(
    cache_dir: Path, key: str, record: Mapping[str, object], build: Callable[[], Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Load ``<cache_dir>/tables/<key>.npz`` if its JSON record equals ``record``; else build and store it.

    ``record`` describes everything the arrays depend on (input checksums,
    versions); :data:`CACHE_FORMAT` is added to it. Arrays are loaded with
    ``allow_pickle=False`` and object arrays are refused.
    """
    record = {"format": CACHE_FORMAT, **record}
    base = Path(cache_dir) / "tables" / key
    npz, meta = base.with_suffix(".npz"), base.with_suffix(".json")
    try:
        if json.loads(meta.read_text()) == json.loads(json.dumps(record)):
            with np.load(npz, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError):
        pass  # missing, stale or corrupt cache entry: rebuild it
    arrays = {k: np.asarray(v) for k, v in build().items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"cached array {key}/{k} has dtype object; it could not be loaded without pickle")
    try:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(npz, buf.getvalue())
        atomic_write_bytes(meta, json.dumps(record, sort_keys=True).encode())
    except OSError:
        pass  # read-only cache: keep working from memory
    return arrays
