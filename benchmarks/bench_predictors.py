"""Predictor benchmark: Kendall tau against training-set size, with the published anchors.

Usage (the figures in BENCHMARKS.md)::

    python benchmarks/bench_predictors.py --space nb201 --task cifar10 \\
        --train-sizes 78 156 469 781 1563 --seeds 5 --predictors lgbm gnn stack --out bench-out/nb201

Same as ``archgen bench predictors``; this script only forwards its arguments.
"""

import sys

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "predictors", *sys.argv[1:]]))
