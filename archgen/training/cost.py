"""Seconds a training of an NB201 cell network should take, estimated from its request alone (milliseconds).

A search that pays for trainings checks its budget with it before any job exists (a budget that cannot pay for
one training at the first fidelity is refused) and admits its first trainings with it, until measured costs
replace it (:func:`archgen.search.multifidelity.run_multifidelity_search`).

The estimate counts multiply-accumulates: an NB201 network of width ``C``, ``N`` cells per stage at resolution
``R`` does about ``(36 N + 27) C^2 R^2`` of them per image forward for the average cell (each of a cell's six edges
is a 3x3 convolution, a 1x1 one, or free with probability 1/5 each: ``2 C^2 R^2`` per edge and stage-scaled over
the three stages; the two residual reduction blocks ``13.5 C^2 R^2`` each), about three times that to train on it
(forward, two backward products) and once to test. :data:`CPU_FLOPS` is what one CPU thread sustains on these
small convolutions, measured on BENCHMARKS.md's ground-truth trainings (C 8, N 1: the 5-class task at 32x32, 3,200
images, 20 epochs, about 120 s; gray4-16 at 16x16, 1,280 images, 20 epochs, 14.5 s: 13 and 11 GFLOP/s); a CUDA
GPU is taken as :data:`GPU_SPEEDUP` times faster. A cell of only 3x3 convolutions costs about 2.6 times the
average, one without convolutions about a quarter: the measured costs of a search's first trainings take over.
"""

from __future__ import annotations

#: FLOP/s of one CPU thread training an NB201 cell network (module docstring).
CPU_FLOPS = 1.2e10
#: A CUDA GPU's speed relative to one CPU thread, for a first estimate (small networks keep it far from peak).
GPU_SPEEDUP = 20.0
#: Seconds of set-up (images to tensors, the network built) and of writing weights, per training.
SETUP_SECONDS = 0.2


def forward_macs(C: int, N: int, resolution: int) -> float:
    """Multiply-accumulates of one image's forward pass through the average cell's network (module docstring)."""
    return (36.0 * N + 27.0) * C * C * resolution * resolution


def training_seconds(*, epochs: int, train_images: int, test_images: int, C: int, N: int, resolution: int,
                     gpu: bool = False) -> float:  # fmt: skip
    """Expected seconds of one training of the average cell (module docstring)."""
    macs = forward_macs(C, N, resolution)
    flops = 2.0 * macs * (3.0 * epochs * train_images + test_images)
    return SETUP_SECONDS + flops / (CPU_FLOPS * (GPU_SPEEDUP if gpu else 1.0))


__all__ = ["CPU_FLOPS", "GPU_SPEEDUP", "SETUP_SECONDS", "forward_macs", "training_seconds"]
