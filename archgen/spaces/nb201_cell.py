"""The NAS-Bench-201 cell: its operations and edges (shared by the space and its network).

A cell is a DAG over :data:`NUM_NODES` nodes (0 = input, 3 = output); each edge of :data:`EDGES`
carries one of :data:`OPS`. :mod:`archgen.spaces.nb201` re-exports these names.
"""

from __future__ import annotations

#: The five operations, by op id.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The six edges in the order of the arch string: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_NODES = 4
