"""The archgen HTTP service (FastAPI): ``create_app(settings)``; ``archgen serve`` runs it."""

from archgen.api.app import create_app

__all__ = ["create_app"]
