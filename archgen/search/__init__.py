"""Architecture search: strategies behind one ask/tell interface and the loop that pays an evaluator.

``run_search(space, strategy, evaluator, *, budget, batch_size, seed) -> SearchHistory``
(:mod:`archgen.search.loop`); strategies ``random``, ``re``, ``ls``, ``bananas``, ``bo``
(:mod:`archgen.search.strategies`), ``mobo`` (several objectives,
:mod:`archgen.search.multiobjective`) and ``robot`` (:mod:`archgen.search.robot`);
priors that use no label of the task (:mod:`archgen.search.priors`); parallel
evaluation on threads or Ray (:mod:`archgen.search.parallel`).
"""

from archgen.search.history import Evaluation, SearchHistory
from archgen.search.loop import run_search
from archgen.search.parallel import Workers
from archgen.search.priors import PRIORS, Prior, build_prior
from archgen.search.strategies import (
    SearchInputError,
    Strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)

__all__ = [
    "PRIORS",
    "Evaluation",
    "Prior",
    "SearchHistory",
    "SearchInputError",
    "Strategy",
    "Workers",
    "build_prior",
    "get_strategy",
    "list_strategies",
    "register_strategy",
    "run_search",
]
