"""The archgen HTTP service (FastAPI): ``create_app(settings)``; ``archgen serve`` runs it.

``create_app`` is imported on first use, so that ``archgen keys ...`` (which
needs :mod:`archgen.api.keys` alone) does not import the app, torch and every
predictor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archgen.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        # lazy: importing a route or schema module must not build the whole app (composition, torch)
        from archgen.api.app import create_app

        return create_app
    raise AttributeError(f"module 'archgen.api' has no attribute {name!r}")
