"""Benchmark data: checksummed tables of published metrics, and images.

Importing this package registers the table loaders of the built-in spaces.
"""

from archgen.datasets import nasbench_graph as _nasbench_graph  # noqa: F401  (registers)
from archgen.datasets import nb101 as _nb101  # noqa: F401  (registers)
from archgen.datasets import nb201 as _nb201  # noqa: F401  (registers)
from archgen.datasets.images import CIFAR10_CLASSES, ImageArrayDataset, cifar10, image_folder, load_cifar10_arrays
from archgen.datasets.store import DataStore, VerifyReport
from archgen.datasets.tables import BenchmarkTable, MetricInfo, list_tables, load_table

__all__ = [
    "CIFAR10_CLASSES",
    "BenchmarkTable",
    "DataStore",
    "ImageArrayDataset",
    "MetricInfo",
    "VerifyReport",
    "cifar10",
    "image_folder",
    "list_tables",
    "load_cifar10_arrays",
    "load_table",
]
