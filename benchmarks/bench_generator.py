"""Diffusion generator benchmark: quality, guidance per task, constraints, transfer, wall time, NB101.

Usage (the figures in BENCHMARKS.md)::

    python benchmarks/bench_generator.py --part quality --space nb201 --tasks cifar10,cifar100,ImageNet16-120 --out DIR
    python benchmarks/bench_generator.py --part quality --space nasbench_graph --tasks cora,computers --out DIR
    python benchmarks/bench_generator.py --part constraints --store DIR --out DIR
    python benchmarks/bench_generator.py --part transfer --draws 20 --store DIR --out DIR
    python benchmarks/bench_generator.py --part timing --threads 2 --store DIR
    python benchmarks/bench_generator.py --part nb101 --epochs 100 --store DIR --out DIR

Same as ``archgen bench generator`` (:mod:`archgen.bench.generators`); this
script only forwards its arguments.
"""

import sys

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "generator", *sys.argv[1:]]))
