"""archgen: accuracy predictors, predictor-guided generation and search for NAS.

Subpackages: :mod:`archgen.spaces` (search spaces), :mod:`archgen.datasets`
(benchmark data and images), :mod:`archgen.predictors`, :mod:`archgen.api`.
"""

from archgen.arch import Arch
from archgen.errors import (
    ArchgenError,
    ChecksumMismatchError,
    DataError,
    DataNotFoundError,
    InvalidArchitectureError,
    UnknownNameError,
)

__version__ = "0.1.0"

__all__ = [
    "Arch",
    "ArchgenError",
    "ChecksumMismatchError",
    "DataError",
    "DataNotFoundError",
    "InvalidArchitectureError",
    "UnknownNameError",
    "__version__",
]
