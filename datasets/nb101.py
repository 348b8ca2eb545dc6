"""The NAS-Bench-101 sample: 500 labelled cells from NAS-Bench-Suite-Zero.

Source: ``naslib-zc-subsets/zc_nasbench101.json`` (NASLib, Apache-2.0). Each
cell (a NASLib tuple: flattened 7x7 matrix + 7 op ids) comes with its CIFAR-10
validation accuracy, parameters, FLOPs and 11 published zero-cost scores.
Rows are in file order.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from archgen.arch import Arch
from archgen.datasets.store import DataStore
from archgen.datasets.tables import BenchmarkTable, MetricInfo, register_space_rows, register_table
from archgen.spaces.nb101 import NB101SearchSpace

if TYPE_CHECKING:
    from archgen.context import Workspace

SOURCE = "naslib-zc-subsets/zc_nasbench101.json"
TASK = "cifar10"


def _arrays(store: DataStore) -> dict[str, np.ndarray]:

    def build() -> dict[str, np.ndarray]:
        with open(store.root / SOURCE) as f:
            entries = json.load(f)["nasbench101"][TASK]
        keys = list(entries)
        tuples = np.array([[int(t) for t in k.strip("()").split(",")] for k in keys], dtype=np.int8)
        out: dict[str, np.ndarray] = {"keys": tuples}
        metrics = sorted(entries[keys[0]])
        for m in metrics:
            out[f"{TASK}/{m}"] = np.array([float(entries[k].get(m, np.nan)) for k in keys])
        return out

    return store.cached_arrays("nb101-sample", [SOURCE], build)


@register_space_rows("nb101")
def _space_rows(data: Workspace) -> list[Arch]:
    return sample_archs(data.store)


def sample_archs(store: DataStore) -> list[Arch]:
    """The 500 sampled cells, in row order (raw, unpruned matrices as published)."""
    space = NB101SearchSpace()
    return [space.from_naslib(row.tolist()) for row in _arrays(store)["keys"]]


def _info(metric: str) -> MetricInfo:
    if metric == "val_acc":
        return MetricInfo(TASK, metric, "%", "naslib-zc-subsets", "108-epoch CIFAR-10 validation accuracy", True)
    if metric in ("params", "flops"):
        return MetricInfo(TASK, metric, "M", "naslib-zc-subsets", f"{metric} (millions)", False)
    return MetricInfo(
        TASK,
        metric,
        "",
        "naslib-zc-subsets",
        f"published NAS-Bench-Suite-Zero {metric[3:]} score (reference data)",
        None,
    )


@register_table("nb101")
def load_nb101_table(data: Workspace) -> BenchmarkTable:
    """The 500-cell NB101 sample's metrics (``cifar10``: val_acc, params, flops, zc_*)."""
    arrays = _arrays(data.store)
    columns: dict[tuple[str, str], np.ndarray] = {}
    for k, v in arrays.items():
        if "/" not in k:
            continue
        task, m = k.split("/", 1)
        name = "val_acc" if m == "val_accuracy" else (m if m in ("params", "flops") else f"zc_{m}")
        columns[(task, name)] = v
    return BenchmarkTable(
        data.space("nb101"),
        len(arrays["keys"]),
        columns,
        {k: _info(k[1]) for k in columns},
        main_metrics=[(TASK, "val_acc")],
        sources=data.store.checksums([SOURCE]),
    )
