"""Search spaces: what can be built, how it is written, sampled and encoded.

Importing this package registers the built-in spaces.
"""

from archgen.spaces.base import SearchSpace, get_space, list_spaces, register_space, space_class
from archgen.spaces.nasbench_graph import NASBenchGraphSearchSpace
from archgen.spaces.nb101 import NB101SearchSpace
from archgen.spaces.nb201 import NB201SearchSpace

__all__ = [
    "NASBenchGraphSearchSpace",
    "NB101SearchSpace",
    "NB201SearchSpace",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "register_space",
    "space_class",
]
