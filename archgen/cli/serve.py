"""``archgen serve``: the HTTP service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from archgen.settings import Settings

from archgen.cli.common import _ctx
from archgen.cli.keys import DbOpt
from archgen.logs import configure_logging


def _settings(**overrides: object) -> Settings:
    """Settings from the environment, the global options and this command's options."""
    return _ctx.settings(**overrides)


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (default 127.0.0.1, or $ARCHGEN_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8000, or $ARCHGEN_PORT).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Jobs run at once.")] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run jobs on Ray (a local Ray unless --ray-address).")] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster to run jobs on (or $ARCHGEN_RAY_ADDRESS).")
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Run the HTTP service (trains its default predictors as a job on first start)."""
    import uvicorn  # lazy: the app imports torch; `archgen serve --help` and usage errors must not

    from archgen.api import create_app  # lazy: as above

    backend = "ray" if (ray or ray_address) else None
    settings = _settings(
        host=host,
        port=port,
        workers=workers,
        worker_backend=backend,
        ray_address=ray_address,
        database_url=database_url,
    )
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the top-level command line."""
    app.command("serve")(serve)
