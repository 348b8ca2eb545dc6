"""What every command module of the CLI shares: global options, output helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from archgen.serialize import to_jsonable as _jsonable

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class _Ctx:
    data_dir: Path | None = None
    cache_dir: Path | None = None


_ctx = _Ctx()


def _emit(obj: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(_jsonable(obj), indent=2))
    else:
        typer.echo(text)


def _space(name: str):
    from archgen.spaces import get_space

    return get_space(name, data_dir=_ctx.data_dir, cache_dir=_ctx.cache_dir)
