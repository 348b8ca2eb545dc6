"""Consistency checks of archgen's models against published data."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from archgen.spaces.nb201 import EDGES, OPS
from archgen.spaces.nb201_network import build_network, count_parameters


def _count_chunk(args: tuple[list[tuple[int, ...]], int, int, int]) -> list[int]:
    """Build each network on the ``meta`` device (no memory, no init cost) and count parameters."""
    ops_list, num_classes, C, N = args
    out = []
    for ops in ops_list:
        with torch.device("meta"):
            out.append(count_parameters(build_network(ops, num_classes, C=C, N=N)))
    return out


@dataclass
class ParamCheck:
    """Result of :func:`check_nb201_params`.

    Attributes:
        checked: Cells whose network was built.
        matched: Cells whose parameter count equals the published one.
        unattainable: Mismatched cells whose published count is not the
            parameter count of *any* NB201 cell (no combination of 6 edge
            operations gives it): a defect of the published entry, not of
            the network.
        corroborated: Of the mismatched cells, those for which a second
            published source (NAS-Bench-Suite-Zero's ``params``) exists and
            equals the built count.
        contradicted: Mismatched cells whose second-source value differs
            from the built count too.
        unexplained: Mismatched cells whose published count is attainable by
            some cell: these would mean the network is wrong.
        mismatches: ``(index, built, published, second_source)`` for every
            mismatch (``second_source`` is ``None`` where unpublished).
    """

    checked: int = 0
    matched: int = 0
    unattainable: int = 0
    corroborated: int = 0
    contradicted: int = 0
    unexplained: int = 0
    mismatches: list[tuple[int, int, int, int | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every mismatch is a provably inconsistent published entry."""
        return self.unexplained == 0 and self.contradicted == 0


def attainable_counts(num_classes: int = 10, C: int = 16, N: int = 5) -> set[int]:
    """Every parameter count an NB201 network can have.

    Built from networks, not formulas: the count of the all-``none`` cell plus,
    per edge, the extra parameters of each operation (measured on one-edge
    cells), over every multiset of 6 edge operations.
    """
    base = _count_chunk(([(0,) * len(EDGES)], num_classes, C, N))[0]
    one_edge = [tuple([o] + [0] * (len(EDGES) - 1)) for o in range(len(OPS))]
    extra = sorted({n - base for n in _count_chunk((one_edge, num_classes, C, N))})
    return {base + sum(combo) for combo in itertools.combinations_with_replacement(extra, len(EDGES))}


def check_nb201_params(
    indices: Sequence[int],
    ops: np.ndarray,
    published_millions: np.ndarray,
    second_source_millions: np.ndarray | None = None,
    *,
    num_classes: int = 10,
    workers: int | None = None,
    chunk: int = 250,
    progress: Callable[[int], None] | None = None,
) -> ParamCheck:
    """Compare ``build_network``'s parameter count with NB201's published ``params``.

    Every network is built (on the ``meta`` device: no memory, no initialisation).

    Args:
        indices: Official indices to check.
        ops: ``(15625, 6)`` op ids in index order.
        published_millions: Published parameter counts (millions, 6 decimals), index order.
        second_source_millions: Another published count (NaN where absent), index order.
        num_classes: 10 for CIFAR-10.
        workers: Processes (default: all cores).
        chunk: Cells per task.
        progress: Called with the number of cells finished after each chunk.
    """
    idx = [int(i) for i in indices]
    jobs = [idx[k : k + chunk] for k in range(0, len(idx), chunk)]
    workers = workers or os.cpu_count() or 1
    args = [([tuple(int(v) for v in ops[i]) for i in job], num_classes, 16, 5) for job in jobs]
    attainable = attainable_counts(num_classes)
    result = ParamCheck()

    def to_count(millions: float) -> int:
        return round(float(millions) * 1e6)  # published to 1e-6 M = 1 parameter

    def record(job: list[int], counts: list[int]) -> None:
        for i, n in zip(job, counts, strict=False):
            published = to_count(published_millions[i])
            result.checked += 1
            if n == published:
                result.matched += 1
                continue
            second = None
            if second_source_millions is not None and not np.isnan(second_source_millions[i]):
                second = to_count(second_source_millions[i])
                if second == n:
                    result.corroborated += 1
                else:
                    result.contradicted += 1
            if published in attainable:
                result.unexplained += 1
            else:
                result.unattainable += 1
            result.mismatches.append((i, n, published, second))
        if progress:
            progress(len(job))

    if workers == 1 or len(jobs) == 1:
        for job, a in zip(jobs, args, strict=False):
            record(job, _count_chunk(a))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            for job, counts in zip(jobs, ex.map(_count_chunk, args), strict=False):
                record(job, counts)
    return result
