"""What every command module of the CLI shares: the settings read at the edge, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from archgen.errors import ArchgenError
from archgen.serialize import to_jsonable as _jsonable
from archgen.settings import Settings

if TYPE_CHECKING:
    from archgen.artifacts import ArtifactStore
    from archgen.context import Workspace
    from archgen.settings import Settings
    from archgen.spaces import SearchSpace

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
#: ``archgen bench ...``: each command module adds its harness (``archgen.cli.predictors`` adds the group).
bench_app = typer.Typer(
    help="Reproducible benchmarks of predictors and proxies (print a table).",
    no_args_is_help=True,
)


class _Ctx:
    """The global options of one CLI invocation; settings are read from them and the environment once."""

    def __init__(self) -> None:
        self.data_dir: Path | None = None
        self.cache_dir: Path | None = None
        self.home: Path | None = None
        self._settings: Settings | None = None
        #: What a command stopped by Ctrl-C left to resume from (said on the one line the interruption prints).
        self.interrupted: str | None = None

    def set(self, data_dir: Path | None, cache_dir: Path | None, home: Path | None) -> None:
        self.data_dir, self.cache_dir, self.home = data_dir, cache_dir, home
        self._settings = None

    def settings(self, **overrides: object) -> Settings:
        """:class:`Settings` from the environment, the global options and ``overrides`` (read once without overrides)."""
        opts = {"data_dir": self.data_dir, "cache_dir": self.cache_dir, "home": self.home}
        if overrides:
            return Settings.from_env(**opts, **overrides)
        if self._settings is None:
            self._settings = Settings.from_env(**opts)
        return self._settings

    def workspace(self) -> Workspace:
        """The workspace of the settings' paths."""
        from archgen.context import workspace  # lazy: the workspace imports torch; `archgen --help` must not

        return workspace(self.settings().paths)

    def models(self) -> ArtifactStore:
        """The artifact store under the settings' home."""
        return self.workspace().models


_ctx = _Ctx()


def _emit(obj: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(_jsonable(obj), indent=2))
    else:
        typer.echo(text)


@contextmanager
def fraction_bar(desc: str, quiet: bool) -> Iterator[Callable[[float, str], None]]:
    """A progress bar (on a terminal, unless ``quiet``) fed by ``update(fraction, message)``, the ``on_progress``
    callback of archgen's long work (training, decoding)."""
    with tqdm(total=1000, desc=desc, unit="‰", disable=quiet or not sys.stderr.isatty()) as bar:

        def update(fraction: float, message: str = "") -> None:
            if message:
                bar.set_postfix_str(message, refresh=False)
            bar.update(int(fraction * 1000) - bar.n)

        yield update


def _space(name: str) -> SearchSpace:
    """Search space ``name`` with its table's rows (for index arguments)."""
    return _ctx.workspace().space(name)


M = TypeVar("M", bound=BaseModel)


def build(model: type[M], error: type[ArchgenError], options: dict[str, str] | None = None, **fields: Any) -> M:
    """``model(**fields)``, the operation's one request model; a validation error becomes ``error`` naming the
    command-line option of the first bad field (``--width: ...``; ``options`` maps fields to options where
    their names differ). A field of a nested model is named by its leaf (``--max-params`` fills
    ``constraints.max_params``), unless ``options`` names the nested model itself: an option whose value holds
    several fields (``--schedule: width: ...`` for ``--schedule width=3``)."""
    opts = options or {}
    try:
        return model(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        path = [x for x in err["loc"] if isinstance(x, str)] or ["input"]
        if len(path) > 1 and path[0] in opts:
            where = f"--{opts[path[0]].replace('_', '-')}: {'.'.join(path[1:])}"
        else:
            where = f"--{opts.get(path[-1], path[-1]).replace('_', '-')}"
        raise error(f"{where}: {err['msg']} (got {err.get('input')!r})") from None
