"""Score-based graph diffusion (DiffusionNAG-style), split by seam: the SDEs (:mod:`.sde`), the score
network (:mod:`.score_net`), the samplers (:mod:`.sampling`) and the generator that trains and samples
(:mod:`.generator`)."""

from archgen.generators.diffusion.generator import DiffusionGenerator
from archgen.generators.diffusion.sde import SDE, VESDE, VPSDE, make_sde

__all__ = ["SDE", "VESDE", "VPSDE", "DiffusionGenerator", "make_sde"]
