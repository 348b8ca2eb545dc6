"""Where a batch's evaluations run: threads of this process, or Ray tasks on a cluster.

The q architectures of a batch are independent, so they are evaluated at the
same time. :class:`Workers` checks them here (:meth:`Evaluator.check`), runs
each one's :meth:`Evaluator._evaluate` on a worker, and charges the results
here (:meth:`Evaluator.account`), in the batch's order: a search gives the same
history with any backend (only wall time differs). With a Ray address
(``"auto"``, ``"ray://host:10001"``, or ``"local"`` for a cluster started in
this process), the evaluator is shipped once per search (``ray.put``) and each
architecture is one task, which asks for a GPU where the evaluator uses one
(``Evaluator.uses_gpu``: trainings) and the cluster has GPUs; users who outgrow
one machine point archgen at their cluster (its workers must see the same data
and work directories). Ray is imported only then.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from archgen.search.strategies import SearchInputError

if TYPE_CHECKING:
    from archgen.arch import Arch
    from archgen.evaluators.base import EvalResult, Evaluator

#: Most local workers.
MAX_WORKERS = 256


def _evaluate_one(evaluator: Evaluator, arch: Arch) -> EvalResult:
    (res,) = evaluator._evaluate([arch])
    return res


class Workers:
    """A pool that evaluates a batch in parallel (see the module docstring).

    Args:
        n: Local worker threads (default: the machine's cores); ignored with Ray.
        ray_address: A Ray cluster to run the evaluations on (``"local"``: start one here).
        ray_init: More keyword arguments of ``ray.init`` (e.g. ``num_cpus``).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, n: int | None = None, *, ray_address: str | None = None, **ray_init: Any) -> None:
        if n is None:
            n = os.cpu_count() or 1
        if not isinstance(n, int) or not 1 <= n <= MAX_WORKERS:
            raise SearchInputError(f"workers must be an integer in 1..{MAX_WORKERS}, got {n!r}")
        self.n = n
        self.ray_address = ray_address
        self._pool: ThreadPoolExecutor | None = None
        self._ray: Any = None
        self._remote: Any = None
        self._shipped: tuple[int, Any] | None = None  # (id of the evaluator, its object ref)
        self._gpus = 0.0  # GPUs of the Ray cluster
        self._started_ray = False
        if ray_address is not None:
            self._connect(ray_address, ray_init)

    @property
    def backend(self) -> str:
        return "ray" if self._ray is not None else "threads"

    def _connect(self, address: str, kwargs: dict[str, Any]) -> None:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local cluster without token set-up
        try:
            import ray  # lazy: ray takes seconds to import and only evaluation on a cluster needs it
        except ImportError as e:  # pragma: no cover - ray is a dependency
            raise SearchInputError(f"a Ray address was given but ray cannot be imported: {e}") from None
        if not ray.is_initialized():
            try:
                ray.init(address=None if address == "local" else address, include_dashboard=False,
                         log_to_driver=False, **kwargs)  # fmt: skip
            except Exception as e:  # ray raises many kinds (ConnectionError, RuntimeError...)
                raise SearchInputError(f"cannot reach the Ray cluster at {address!r}: {e}") from None
            self._started_ray = True
        self._ray = ray
        self._remote = ray.remote(_evaluate_one)
        self._gpus = float(ray.cluster_resources().get("GPU", 0.0))

    def evaluate(self, evaluator: Evaluator, archs: Sequence[Arch]) -> list[EvalResult]:
        """Evaluate ``archs`` in parallel; results and charges in their order (as ``evaluator.evaluate``)."""
        archs = evaluator.check(archs)
        if not archs:
            return []
        if self._ray is not None:
            if self._shipped is None or self._shipped[0] != id(evaluator):
                self._shipped = (id(evaluator), self._ray.put(evaluator))
            ref = self._shipped[1]
            remote = self._remote.options(num_gpus=1) if evaluator.uses_gpu and self._gpus >= 1 else self._remote
            results = self._ray.get([remote.remote(ref, a) for a in archs])
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.n, thread_name_prefix="archgen-eval")
            results = list(self._pool.map(lambda a: _evaluate_one(evaluator, a), archs))
        return evaluator.account(list(results), archs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._ray is not None and self._started_ray:
            self._ray.shutdown()
        self._ray = None
        self._shipped = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["MAX_WORKERS", "Workers"]
