"""``archgen serve`` (the HTTP service) and ``archgen keys`` (its API keys)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from archgen.settings import Settings

import uvicorn

from archgen.api import create_app
from archgen.api.keys import KeyStore
from archgen.cli.common import JsonOpt, _ctx, _emit
from archgen.logs import configure_logging

keys_app = typer.Typer(help="API keys of the HTTP service: create, list, revoke.", no_args_is_help=True)

DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="Service database (default: $ARCHGEN_DATABASE_URL, else SQLite in the home)."),
]


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


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for (shown in logs and listings).")],
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    key, secret = KeyStore(_settings(database_url=database_url).db_url).create(name)
    _emit(
        {"id": key.id, "name": key.name, "key": secret},
        as_json,
        f"{secret}\n(key {key.id!r}, name {key.name!r}: shown once, store it now)",
    )


def _when(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


@keys_app.command("list")
def keys_list(database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Keys (id, name, created, revoked); never their secrets."""
    keys = KeyStore(_settings(database_url=database_url).db_url).list()
    rows = [{"id": k.id, "name": k.name, "created": _when(k.created_at), "revoked": _when(k.revoked_at)} for k in keys]
    lines = [
        f"{r['id']}  {r['name']:<24} created {r['created']}" + (f"  REVOKED {r['revoked']}" if r["revoked"] else "")
        for r in rows
    ]
    _emit({"keys": rows}, as_json, "\n".join(lines) or "no keys")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id (or name) to revoke.")],
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: requests with it are refused (within 2 s on a running server)."""
    k = KeyStore(_settings(database_url=database_url).db_url).revoke(key)
    _emit({"id": k.id, "name": k.name, "revoked": _when(k.revoked_at)}, as_json, f"revoked {k.id} ({k.name})")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the top-level command line."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
