"""``archgen keys``: the HTTP service's API keys (create, list, revoke). Light: imports neither the app nor torch."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from archgen.api.keys import KeyStore
from archgen.cli.common import JsonOpt, _ctx, _emit

keys_app = typer.Typer(help="API keys of the HTTP service: create, list, revoke.", no_args_is_help=True)

DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="Service database (default: $ARCHGEN_DATABASE_URL, else SQLite in the home)."),
]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for (shown in logs and listings).")],
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    key, secret = KeyStore(_ctx.settings(database_url=database_url).db_url).create(name)
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
    keys = KeyStore(_ctx.settings(database_url=database_url).db_url).list()
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
    k = KeyStore(_ctx.settings(database_url=database_url).db_url).revoke(key)
    _emit({"id": k.id, "name": k.name, "revoked": _when(k.revoked_at)}, as_json, f"revoked {k.id} ({k.name})")


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to the app."""
    app.add_typer(keys_app, name="keys")
