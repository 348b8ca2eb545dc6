"""Architecture search: strategies behind one ask/tell interface and the loop that pays an evaluator.

``run_search(space, strategy, evaluator, *, budget, batch_size, seed) -> SearchHistory``
(:mod:`archgen.search.loop`); strategies ``random``, ``re``, ``ls`` and ``bo``
(:mod:`archgen.search.strategies`).
"""

from archgen.search.history import Evaluation, SearchHistory
from archgen.search.loop import run_search
from archgen.search.strategies import (
    SearchInputError,
    Strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)

__all__ = [
    "Evaluation",
    "SearchHistory",
    "SearchInputError",
    "Strategy",
    "get_strategy",
    "list_strategies",
    "register_strategy",
    "run_search",
]
