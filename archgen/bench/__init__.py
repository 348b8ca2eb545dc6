"""Benchmark harnesses behind ``archgen bench ...``: they sit beside the CLI, above the services.

:mod:`~archgen.bench.predictors` (predictor accuracy under two protocols),
:mod:`~archgen.bench.generators` (generator validity, uniqueness, novelty, guided accuracy),
:mod:`~archgen.bench.search` (searches against published baselines) and
:mod:`~archgen.bench.supernets` (a supernet's ranking against trained accuracy). No library
package imports them.
"""

import archgen.composition  # noqa: F401  (registers the built-in kinds)
