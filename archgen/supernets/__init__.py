"""Weight-sharing supernets: one network holding every architecture of a space as a path.

:class:`~archgen.supernets.nb201.NB201Supernet` is the network (every operation on
every edge of the NB201 skeleton); :class:`~archgen.supernets.oneshot.OneShotSupernet`
trains it (single-path uniform or strictly fair sampling, checkpoints, a wall-time
budget) and scores paths (batch-norm recalibration, held-out accuracy).
"""

from archgen.supernets.nb201 import NB201Supernet
from archgen.supernets.oneshot import SAMPLINGS, OneShotSupernet, SupernetInputError

__all__ = ["SAMPLINGS", "NB201Supernet", "OneShotSupernet", "SupernetInputError"]
