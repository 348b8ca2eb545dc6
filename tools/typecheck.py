"""Run mypy on archgen's interfaces and its HTTP API.

archgen is one import namespace mapped from four folders (``archgen/``,
``predictors/``, ``datasets/``, ``api/``; see ``[tool.setuptools.package-dir]``),
which mypy cannot follow from an editable install. This script lays the
namespace out as symbolic links in a temporary directory and runs mypy there,
on the modules CI checks: the search-space, predictor, evaluator and generator
interfaces and ``archgen.api``.

Usage: ``python tools/typecheck.py [extra mypy arguments]`` (exit status: mypy's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Sub-packages of ``archgen`` that live in their own top-level folder.
MAPPED = {"predictors": "predictors", "datasets": "datasets", "api": "api"}
MODULES = (
    "archgen.spaces.base",
    "archgen.predictors.base",
    "archgen.evaluators.base",
    "archgen.generators.base",
    "archgen.search",
    "archgen.api",
)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="archgen-mypy-") as tmp:
        pkg = Path(tmp) / "archgen"
        pkg.mkdir()
        for entry in (ROOT / "archgen").iterdir():
            if entry.name != "__pycache__":
                (pkg / entry.name).symlink_to(entry)
        for name, folder in MAPPED.items():
            (pkg / name).symlink_to(ROOT / folder)
        args = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(Path(tmp) / ".mypy_cache"),
        ]
        for module in MODULES:
            args += ["-p", module]
        return subprocess.run(
            [*args, *sys.argv[1:]], cwd=tmp, env={**os.environ, "MYPYPATH": tmp}, check=False
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
