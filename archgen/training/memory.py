"""Memory a training of an NB201 cell network (or of its supernet) needs, estimated from its request alone.

Checked when a request is submitted (``POST /v1/trainings``, ``POST /v1/supernets``), from all its parameters
together: a batch of 4,096 at width 128, depth 10 and resolution 64 is refused with a 422 naming them, instead of
failing in its worker after minutes ("internal error" allocating gigabytes, or the host's OOM killer).

The terms, each an upper bound for the worst cell (every edge a 3x3 convolution):

* activations kept for the backward pass: ``4 * C * R^2 * (10 + 32 N)`` bytes per image of a batch, measured
  (``benchmarks/bench_memory_estimate.py``) by
  summing the tensors autograd saves (``torch.autograd.graph.saved_tensors_hooks``) for widths 8-32, depths 1-5
  and resolutions 16-32: 41.3, 72.5, 104.3 and 167.1 x ``4 C R^2`` for N = 1, 2, 3, 5 (linear in N, independent
  of C and R); times :data:`BACKWARD_FACTOR` for the backward's own temporaries and the allocator;
* weights, gradients and the optimizer's state: ``C^2 (1140 N + 300)`` parameters (the same measurement:
  92 k at C 8, N 1; 1.53 M at C 16, N 5), 4 bytes each, three copies (SGD with momentum); a supernet's edges hold
  every operation: :data:`SUPERNET_PARAMS` times that;
* the images, kept as float32 tensors at the requested resolution: ``images * 3 R^2 * 4`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Activations saved per image, in units of ``4 C R^2`` bytes: ``ACT_BASE + ACT_PER_CELL * N``.
ACT_BASE, ACT_PER_CELL = 10.0, 32.0
#: The backward pass's temporaries and the allocator's slack, on top of the saved activations.
BACKWARD_FACTOR = 1.5
#: Parameters in units of ``C^2``: ``PARAM_PER_CELL * N + PARAM_BASE``.
PARAM_PER_CELL, PARAM_BASE = 1140.0, 300.0
#: A supernet's parameters relative to its worst cell network's (a 3x3 and a 1x1 convolution on each edge).
SUPERNET_PARAMS = 1.2
#: Copies of each parameter during training: the weights, their gradients, the momentum.
PARAM_COPIES = 3


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training needs, by term."""

    activations: int
    parameters: int
    images: int

    @property
    def total(self) -> int:
        return self.activations + self.parameters + self.images

    def describe(self) -> str:
        gib = 1 << 30
        return (
            f"about {self.total / gib:.1f} GiB (activations {self.activations / gib:.1f}, weights and optimizer "
            f"{self.parameters / gib:.1f}, images {self.images / gib:.1f})"
        )

    def over(self, bound: int) -> str | None:
        """``None`` within ``bound`` bytes; else what a refusal says of it (the estimate, the bound, its setting)."""
        if self.total <= bound:
            return None
        return f"need {self.describe()}; the bound is {bound / (1 << 30):.1f} GiB (ARCHGEN_JOB_MAX_MEMORY_BYTES)"


def training_memory(
    *, batch_size: int, C: int, N: int, resolution: int, images: int, supernet: bool = False
) -> MemoryEstimate:
    """The estimate (module docstring) for a batch of ``batch_size`` at width ``C``, ``N`` cells per stage,
    ``resolution`` pixels, with ``images`` images held in memory."""
    act = 4.0 * C * resolution**2 * (ACT_BASE + ACT_PER_CELL * N) * batch_size * BACKWARD_FACTOR
    params = C**2 * (PARAM_PER_CELL * N + PARAM_BASE) * (SUPERNET_PARAMS if supernet else 1.0)
    return MemoryEstimate(int(act), int(params * 4 * PARAM_COPIES), int(images * 3 * resolution**2 * 4))


def run_disk_bytes(*, C: int, N: int) -> int:
    """Bytes a training's directory holds at most: the weights as ``weights.npz`` and ``model.safetensors``, and
    while it runs its checkpoint (weights and momentum): four copies of the parameters (an upper bound: the
    worst cell's count), 4 bytes each."""
    return int(C**2 * (PARAM_PER_CELL * N + PARAM_BASE) * 4 * 4)


__all__ = ["MemoryEstimate", "run_disk_bytes", "training_memory"]
