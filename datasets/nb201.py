"""NAS-Bench-201 tables: every published metric, aligned to the official index.

Sources (see ``../shared/data/README.md`` and each folder's SOURCE.txt):

* ``nb201-nats-csv``: 200-epoch test accuracy on CIFAR-10, CIFAR-100,
  ImageNet16-120 (NATS-Bench tss, mean over seeds); defines the index order.
* ``nb201-nwot``: cifar10-valid 200-epoch validation and test accuracy,
  parameters (M), the NASWOT v1 score.
* ``nb201-minibench-12ep``: 12-epoch validation/test accuracy (low fidelity).
* ``nb201-graf-zc-hw``: NAS-Bench-Suite-Zero proxies (CIFAR-10 and
  ImageNet16-120, 9,445 cells), ImageNet16-120 validation accuracy, HW-NAS-Bench
  metrics, robustness accuracies.
* ``nb201-help-latency``: latency on 27 HELP device settings (measured on
  CIFAR-10-sized networks: its eyeriss/fpga/pixel3/raspi4 columns equal
  HW-NAS-Bench's CIFAR-10 values).
* ``naslib-zc-subsets``: NAS-Bench-Suite-Zero proxies on CIFAR-100 (725 cells).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from archgen.arch import Arch
from archgen.datasets.store import DataStore
from archgen.datasets.tables import BenchmarkTable, MetricInfo, register_space_rows, register_table
from archgen.errors import DataError
from archgen.spaces.nb201 import EDGES, NB201SearchSpace

if TYPE_CHECKING:
    from archgen.context import Workspace

NUM_ARCHS = 15_625
TASKS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")

NATS = "nb201-nats-csv/nats_bench.csv"
NWOT = "nb201-nwot/arch_score_acc.csv.gz"
MINI = "nb201-minibench-12ep/mini-bench-arch-cell-accs.csv.gz"
GRAF = "nb201-graf-zc-hw/data/"
HELP = "nb201-help-latency/latency_ms.csv.gz"
NASLIB_ZC = "naslib-zc-subsets/zc_nasbench201.json"

ZC_PROXIES = (
    "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
    "nwot", "params", "plain", "snip", "synflow", "zen",
)  # fmt: skip
HW_COLUMNS = (
    "edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency", "pixel3_latency",
    "eyeriss_latency", "eyeriss_energy", "eyeriss_arithmetic_intensity", "fpga_latency", "fpga_energy",
)  # fmt: skip
_HW_TASK_FILE = {"cifar10": "hw_cifar10.csv", "cifar100": "hw_cifar100.csv", "ImageNet16-120": "hw_ImageNet16-120.csv"}
GRAF_FILES = (
    "nb201_zc_proxies.csv", "nb201_ImageNet16-120_zc_proxies.csv", "nb201_ImageNet16-120_valid_nets.csv",
    "hw_cifar10.csv", "hw_cifar100.csv", "hw_ImageNet16-120.csv", "robustness_targets.csv",
)  # fmt: skip
_MINI_TASK = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}

_SPACE = NB201SearchSpace()  # only parsing/naslib conversion: needs no data


def _ops_matrix(strings: Sequence[str]) -> np.ndarray:
    return np.array([_SPACE.parse(s).ops for s in strings], dtype=np.int8)


@register_space_rows("nb201")
def _space_rows(data: Workspace) -> np.ndarray:
    return index_ops(data.store)


def index_ops(store: DataStore) -> np.ndarray:
    """Op ids (in :data:`~archgen.spaces.nb201.EDGES` order) of every cell, in official index order.

    Returns:
        ``int8`` array of shape ``(15625, 6)``.
    """

    def build() -> dict[str, np.ndarray]:
        df = pd.read_csv(store.root / NATS, usecols=["ArchitectureString"])
        ops = _ops_matrix(df["ArchitectureString"].tolist())
        if ops.shape != (NUM_ARCHS, len(EDGES)) or len({r.tobytes() for r in ops}) != NUM_ARCHS:
            raise DataError(f"{store.root / NATS} does not list the {NUM_ARCHS} distinct NB201 cells")
        return {"ops": ops}

    return store.cached_arrays("nb201-index", [NATS], build)["ops"]


def _rows_from_naslib(nets: Sequence[str], lookup: dict[bytes, int]) -> np.ndarray:
    rows = np.empty(len(nets), dtype=np.int64)
    for k, net in enumerate(nets):
        rows[k] = lookup[np.array(_SPACE.from_naslib(net).ops, dtype=np.int8).tobytes()]
    return rows


def _build_columns(store: DataStore, ops: np.ndarray) -> dict[str, np.ndarray]:
    """Parse every source into ``{"task/metric": column}`` (float64, NaN = unpublished)."""
    lookup = {row.tobytes(): i for i, row in enumerate(ops)}
    strings = [_SPACE.format(Arch("nb201", tuple(int(v) for v in r))) for r in ops]
    cols: dict[str, np.ndarray] = {}

    def put(task: str, metric: str, rows: np.ndarray, values: np.ndarray) -> None:
        col = np.full(NUM_ARCHS, np.nan)
        col[rows] = np.asarray(values, dtype=np.float64)
        cols[f"{task}/{metric}"] = col

    def check_order(path: str, column: Sequence[str]) -> None:
        if list(column) != strings:
            raise DataError(f"{store.root / path}: rows are not in official NB201 index order")

    every = np.arange(NUM_ARCHS)
    nats = pd.read_csv(store.root / NATS)
    check_order(NATS, nats["ArchitectureString"])
    put("cifar10", "test_acc", every, nats["CIFAR10TestAccuracy200Epochs"])
    put("cifar100", "test_acc", every, nats["CIFAR100TestAccuracy200Epochs"])
    put("ImageNet16-120", "test_acc", every, nats["ImageNetTestAccuracy200Epochs"])

    nwot = pd.read_csv(store.root / NWOT)
    check_order(NWOT, nwot["cellstr"])
    put("cifar10-valid", "val_acc", every, nwot["valid_top1"])
    put("cifar10-valid", "test_acc", every, nwot["valid_test_top1"])
    put("cifar10", "params", every, nwot["params"])
    put("cifar10", "naswot_v1", every, nwot["score"])

    mini = pd.read_csv(store.root / MINI)
    check_order(MINI, mini["cellstr"])
    for task, prefix in _MINI_TASK.items():
        put(task, "val_acc_12ep", every, mini[f"{prefix}-val"])
        put(task, "test_acc_12ep", every, mini[f"{prefix}-test"])

    for task, fname in (("cifar10", "nb201_zc_proxies.csv"), ("ImageNet16-120", "nb201_ImageNet16-120_zc_proxies.csv")):
        zc = pd.read_csv(store.root / GRAF / fname)
        rows = _rows_from_naslib(zc["net"].tolist(), lookup)
        for proxy in ZC_PROXIES:
            put(task, f"zc_{proxy}", rows, zc[proxy])
        put(task, "flops", rows, zc["flops"])
        if task != "cifar10":
            put(task, "params", rows, zc["params"])

    inval = pd.read_csv(store.root / GRAF / "nb201_ImageNet16-120_valid_nets.csv")
    put("ImageNet16-120", "val_acc", _rows_from_naslib(inval["net"].tolist(), lookup), inval["val_accs"])

    for task, fname in _HW_TASK_FILE.items():
        hw = pd.read_csv(store.root / GRAF / fname)
        rows = _rows_from_naslib(hw["net"].tolist(), lookup)
        for c in HW_COLUMNS:
            put(task, f"hw_{c}", rows, hw[c])

    rob = pd.read_csv(store.root / GRAF / "robustness_targets.csv")
    rows = _rows_from_naslib(rob["net"].tolist(), lookup)
    for c in rob.columns:
        if c != "net":
            put("cifar10", "rob_clean_acc" if c == "val_accs" else f"rob_{c}", rows, rob[c])

    help_ = pd.read_csv(store.root / HELP)
    check_order(HELP, help_["arch_str"])
    for c in help_.columns:
        if c not in ("index", "arch_str"):
            put("cifar10", f"latency_{c}", every, help_[c])

    with open(store.root / NASLIB_ZC) as f:
        naslib = json.load(f)["cifar100"]
    nets = list(naslib)
    rows = _rows_from_naslib(nets, lookup)
    for proxy in ZC_PROXIES:
        if proxy in ("zen",) or proxy not in naslib[nets[0]]:
            continue
        put("cifar100", f"zc_{proxy}", rows, [naslib[n][proxy]["score"] for n in nets])
    put("cifar100", "flops", rows, [naslib[n]["flops"]["score"] for n in nets])
    put("cifar100", "params", rows, [naslib[n]["params"]["score"] for n in nets])
    return cols


def _info(task: str, metric: str) -> MetricInfo:
    """Describe a column from its name."""
    acc_desc = {
        "val_acc": "200-epoch validation accuracy",
        "test_acc": "200-epoch test accuracy",
        "val_acc_12ep": "12-epoch validation accuracy (low fidelity)",
        "test_acc_12ep": "12-epoch test accuracy (low fidelity)",
    }
    if metric in acc_desc:
        src = {"val_acc_12ep": MINI, "test_acc_12ep": MINI}.get(metric)
        if src is None:
            src = (
                NWOT
                if task == "cifar10-valid"
                else (GRAF + "nb201_ImageNet16-120_valid_nets.csv" if metric == "val_acc" else NATS)
            )
        return MetricInfo(task, metric, "%", src.split("/")[0], f"{acc_desc[metric]} on {task}", True)
    if metric == "params":
        return MetricInfo(
            task, metric, "M", "nb201-nwot" if task == "cifar10" else "nb201-graf-zc-hw", "parameters (millions)", False
        )
    if metric == "flops":
        return MetricInfo(
            task, metric, "M", "nb201-graf-zc-hw", "FLOPs (millions), as published with the proxies", False
        )
    if metric == "naswot_v1":
        return MetricInfo(task, metric, "", "nb201-nwot", "NASWOT v1 score as published (reference data)", True)
    if metric.startswith("zc_"):
        src = "naslib-zc-subsets" if task == "cifar100" else "nb201-graf-zc-hw"
        return MetricInfo(
            task, metric, "", src, f"published NAS-Bench-Suite-Zero {metric[3:]} score (reference data)", None
        )
    if metric.startswith("hw_"):
        unit = "mJ" if metric.endswith("energy") else ("ms" if metric.endswith("latency") else "")
        return MetricInfo(task, metric, unit, "nb201-graf-zc-hw", f"HW-NAS-Bench {metric[3:]}", False)
    if metric.startswith("rob_"):
        return MetricInfo(task, metric, "%", "nb201-graf-zc-hw", f"robustness dataset: {metric[4:]} accuracy", True)
    if metric.startswith("latency_"):
        return MetricInfo(task, metric, "ms", "nb201-help-latency", f"HELP latency on {metric[8:]}", False)
    raise KeyError(f"no description for {task}/{metric}")


#: Data files the NB201 table is read from.
SOURCES = (NATS, NWOT, MINI, HELP, NASLIB_ZC, *(GRAF + f for f in GRAF_FILES))


@register_table("nb201")
def load_nb201_table(data: Workspace) -> BenchmarkTable:
    """Every published NB201 metric, rows in official index order (0..15624)."""
    store = data.store
    ops = index_ops(store)
    arrays = store.cached_arrays("nb201-tables", SOURCES, lambda: _build_columns(store, ops))
    columns = {tuple(k.split("/", 1)): v for k, v in arrays.items()}
    info = {k: _info(*k) for k in columns}
    return BenchmarkTable(
        data.space("nb201"),
        NUM_ARCHS,
        columns,  # type: ignore[arg-type]
        info,  # type: ignore[arg-type]
        main_metrics=[
            ("cifar10-valid", "val_acc"),
            ("cifar10", "test_acc"),
            ("cifar100", "test_acc"),
            ("ImageNet16-120", "test_acc"),
        ],
        sources=store.checksums(SOURCES),
    )
