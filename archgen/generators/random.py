"""Uniform sampling with best-of-k guidance: the baseline every generator is measured against.

Without guidance, samples are uniform over the space's encoding (the random
search baseline of Li & Talwalkar, "Random Search and Reproducibility for
Neural Architecture Search", UAI 2019). With guidance, each sample is the best
of ``pool`` uniform candidates by the guidance score, among those meeting the
constraint (rejection sampling); ``scale`` 0 keeps the uniform draw.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from archgen.arch import Arch
from archgen.generators.base import Generator, GeneratorCapabilities, GeneratorInputError, Guidance
from archgen.spaces import get_space


class RandomGenerator(Generator):
    """Uniform samples of the fitted space; best of ``pool`` candidates under guidance.

    Args:
        pool: Candidates drawn per sample when a guidance score is given.
        max_draws: Most candidates drawn in total per call before a constraint
            that too few architectures meet is reported as an error.
        unique: Return distinct canonical forms (as far as the space allows).
    """

    name: ClassVar[str] = "random"
    capabilities: ClassVar[GeneratorCapabilities] = GeneratorCapabilities()
    paper: ClassVar[str] = "Li & Talwalkar, Random Search and Reproducibility for Neural Architecture Search, UAI 2019"

    def __init__(self, pool: int = 16, max_draws: int = 200_000, unique: bool = True) -> None:
        self.pool = pool
        self.max_draws = max_draws
        self.unique = unique

    def _fit(self, archs: list[Arch]) -> None:
        if self.pool < 1 or self.max_draws < 1:
            raise GeneratorInputError(f"pool and max_draws must be >= 1, got {self.pool}, {self.max_draws}")
        # nothing to learn: the distribution is uniform over the space; keep what was seen for novelty checks

        space = get_space(archs[0].space)
        self.seen_ = {space.canonical(a) for a in archs}

    def _sample(self, n: int, rng: np.random.Generator, guidance: Guidance | None) -> list[Arch]:
        space = get_space(self.space_)
        use_score = guidance is not None and guidance.scale > 0 and (guidance.score or guidance.predictor) is not None
        per = self.pool if use_score else 1
        out: list[Arch] = []
        taken: set[Arch] = set()
        drawn = 0
        while len(out) < n:
            want = (n - len(out)) * per
            if drawn + want > self.max_draws:
                raise GeneratorInputError(
                    f"only {len(out)} of {n} samples found in {drawn} draws: the constraint admits too few "
                    "architectures (or the space has too few distinct ones)"
                )
            cands = space.sample(want, rng)
            drawn += want
            if guidance is not None:
                cands = [a for a, ok in zip(cands, guidance.allowed(cands), strict=True) if ok]
            if self.unique:  # one candidate per function, none already returned
                fresh: dict[Arch, Arch] = {}
                for a in cands:
                    c = space.canonical(a)
                    if c not in taken:
                        fresh.setdefault(c, a)
                cands = list(fresh.values())
            if not cands:
                continue
            if use_score:
                assert guidance is not None
                scores = guidance.scores(cands)
                assert scores is not None
                order = np.argsort(-scores, kind="stable")
                k = min(len(cands) // per or 1, n - len(out))
                chosen = [cands[i] for i in order[:k]]
            else:
                chosen = cands[: n - len(out)]
            out.extend(chosen)
            if self.unique:
                taken.update(space.canonical(a) for a in chosen)
        return out
