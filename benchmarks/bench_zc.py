"""Zero-cost proxy benchmark: Spearman with accuracy and with the published scores, seconds per cell.

Usage (the figures in BENCHMARKS.md)::

    python benchmarks/bench_zc.py --space nb201 --task cifar10 --n-archs 100

Same as ``archgen bench zc``; this script only forwards its arguments.
"""

import sys

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "zc", *sys.argv[1:]]))
