"""Constructor arguments of a registered predictor derived from a task, a seed and a zero-cost source."""

from __future__ import annotations

from typing import Any

from archgen.predictors.base import predictor_class
from archgen.predictors.hyperparams import check_params


def predictor_kwargs(
    name: str, task: str, seed: int, zc: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Constructor arguments for ``name``: its task, seed and zero-cost source where it takes them.

    ``zc`` (``"none"``, ``"table"``, ``"computed"``) is passed as ``zc`` to
    predictors that use zero-cost features and as ``source`` to the zero-cost
    predictors (for ``"table"`` and ``"computed"``). ``extra`` may not repeat
    a derived argument (``task``, ``random_state``...): that is an error naming it.
    """
    params = predictor_class(name)().get_params()
    kwargs: dict[str, Any] = {}
    if "task" in params:
        kwargs["task"] = task
    if "random_state" in params:
        kwargs["random_state"] = seed
    if zc is not None and "zc" in params:
        kwargs["zc"] = zc
    if zc in ("table", "computed") and "source" in params:  # the zero-cost predictors' own name for it
        kwargs["source"] = zc
    cls = predictor_class(name)
    extra = check_params(name, cls.hyperparameters, extra or {})
    kwargs.update(extra)
    return kwargs
