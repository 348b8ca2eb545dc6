"""NAS-Bench-Graph tables: 26,206 GNN architectures on 9 graph datasets.

The tables ship inside the PyPI package ``nas-bench-graph`` (Apache-2.0) and
are read with that package's own reader, which unpickles them: the one
allowed exception to "nothing is unpickled", since they are part of an
installed, pinned dependency. Parsed columns are cached as ``.npz``, keyed by
the package version and the sha256 of its table files.

Rows are the benchmark's architecture hashes in ascending order. Values are
converted to archgen's units: performance in percent (accuracy; ROC-AUC for
``proteins``), latency in milliseconds, parameters in millions.
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from nas_bench_graph import light_read

from archgen.datasets.store import cached_arrays, sha256_file
from archgen.datasets.tables import BenchmarkTable, MetricInfo, register_space_rows, register_table
from archgen.errors import DataError

if TYPE_CHECKING:
    from archgen.context import Workspace

PACKAGE = "nas_bench_graph"
TASKS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
NUM_ARCHS = 26_206


def _perf_name(task: str) -> str:
    return "rocauc" if task == "proteins" else "acc"


def _bench_files() -> dict[str, Path]:
    try:
        root = resources.files(PACKAGE) / "light"
    except ModuleNotFoundError:
        raise DataError(
            "NAS-Bench-Graph tables need the package nas-bench-graph: pip install nas-bench-graph==1.4.0"
        ) from None
    files = {t: Path(str(root / f"{t}.bench")) for t in TASKS}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise DataError(f"NAS-Bench-Graph table files missing from the installed package: {', '.join(missing)}")
    return files


def _checksums(files: dict[str, Path]) -> dict[str, str]:
    return {t: sha256_file(p) for t, p in files.items()}


def workspace_sources(data: Workspace) -> dict[str, str]:
    """``{task: sha256}`` of the installed table files, hashed once per workspace."""
    return data.memo("nasbench_graph/sources", lambda: _checksums(_bench_files()))


@register_space_rows("nasbench_graph")
def _space_rows(data: Workspace) -> np.ndarray:
    return workspace_arrays(data)["hashes"]


def workspace_arrays(data: Workspace) -> dict[str, np.ndarray]:
    """The arrays of :func:`load_arrays`, built once per workspace (its table and its space's rows share them)."""
    return data.memo("nasbench_graph/arrays", lambda: load_arrays(data.paths.cache_dir, workspace_sources(data)))


def load_arrays(cache_dir: Path, sources: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Every column and the row hashes, parsed by the package's reader once, then cached under ``cache_dir``.

    ``sources``: the table files' checksums if already computed (:func:`workspace_sources`).
    """
    files = _bench_files()
    record = {
        "package": f"{PACKAGE}=={metadata.version('nas-bench-graph')}",
        "sources": sources if sources is not None else _checksums(files),
    }

    def build() -> dict[str, np.ndarray]:
        benches = {t: light_read(t) for t in TASKS}
        hashes = np.array(sorted(benches["cora"]), dtype=np.int64)
        if len(hashes) != NUM_ARCHS:
            raise DataError(f"NAS-Bench-Graph cora table has {len(hashes)} architectures, expected {NUM_ARCHS}")
        row = {int(h): i for i, h in enumerate(hashes)}
        out: dict[str, np.ndarray] = {"hashes": hashes}
        for task, bench in benches.items():
            perf = _perf_name(task)
            cols = {f"val_{perf}": 100.0, f"test_{perf}": 100.0, "latency": 1000.0, "params": 1.0}
            src = {f"val_{perf}": "valid_perf", f"test_{perf}": "perf", "latency": "latency", "params": "para"}
            arrays = {name: np.full(NUM_ARCHS, np.nan) for name in cols}
            for h, entry in bench.items():
                if int(h) not in row:
                    raise DataError(f"NAS-Bench-Graph {task} lists architecture {h} missing from cora")
                for name, scale in cols.items():
                    arrays[name][row[int(h)]] = float(entry[src[name]]) * scale
            for name, values in arrays.items():
                out[f"{task}/{name}"] = values
        return out

    return cached_arrays(cache_dir, "nasbench_graph", record, build)


def _info(task: str, metric: str) -> MetricInfo:
    if metric.startswith(("val_", "test_")):
        split, perf = metric.split("_", 1)
        what = "ROC-AUC" if perf == "rocauc" else "accuracy"
        return MetricInfo(
            task, metric, "%", "nas-bench-graph", f"{'validation' if split == 'val' else 'test'} {what} on {task}", True
        )
    if metric == "latency":
        return MetricInfo(task, metric, "ms", "nas-bench-graph", "inference latency as published", False)
    return MetricInfo(task, metric, "M", "nas-bench-graph", "parameters (millions)", False)


@register_table("nasbench_graph")
def load_nasbench_graph_table(data: Workspace) -> BenchmarkTable:
    """NAS-Bench-Graph's tables for its 9 datasets (``proteins`` covers 2,021 rows)."""
    arrays = workspace_arrays(data)
    columns = {tuple(k.split("/", 1)): v for k, v in arrays.items() if "/" in k}
    return BenchmarkTable(
        data.space("nasbench_graph"),
        NUM_ARCHS,
        columns,  # type: ignore[arg-type]
        {k: _info(*k) for k in columns},  # type: ignore[misc]
        main_metrics=[(t, f"test_{_perf_name(t)}") for t in TASKS],
        sources={f"{PACKAGE}/{t}.bench": h for t, h in workspace_sources(data).items()},
    )
