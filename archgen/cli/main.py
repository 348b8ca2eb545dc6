"""The ``archgen`` command line.

Every command has ``--help``; every command that reports something takes
``--json``. Errors in the input or the data print one line naming the problem
and exit with status 2.

Commands live in one module each under :mod:`archgen.cli`, each with a
``register(app)``; :func:`main` imports only the module(s) of the command on its
command line (click's lazy-group pattern), so that ``archgen tasks list`` does not
import the search stack; ``archgen --help`` imports them all.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from archgen.cli.common import _ctx
from archgen.errors import ArchgenError

#: Top-level command -> (the CLI modules that add it, its one-line help). ``bench``'s subcommands come from
#: six modules. The helps list the commands on ``archgen --help`` without importing the modules (a test
#: checks them against the commands' own).
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "bench": (
        ("predictors", "generate", "search", "supernets", "tasks", "curves"),
        "Reproducible benchmarks of predictors and proxies (print a table).",
    ),
    "data": (("data",), "Benchmark data: verify checksums, summarise tables."),
    "generate": (
        ("generate",),
        "Generate architectures for a task with the diffusion generator (DiffusionNAG-style).",
    ),
    "export-onnx": (
        ("models",),
        "Export a trained model as ONNX (input 'images' [batch, 3, R, R], output 'logits'; runs in onnxruntime).",
    ),
    "keys": (("keys",), "API keys of the HTTP service: create, list, revoke."),
    "predict": (("predictors",), "Predicted mean and std of architectures with a stored predictor."),
    "predict-images": (
        ("models",),
        "Classify images with a trained model: each file's class and probability (decoded as its task's were).",
    ),
    "predictors": (("predictors",), "Train, list and delete stored predictors."),
    "search": (
        ("search",),
        "Search for the best architecture: on a benchmark table, a task's supernet, or real trainings (--evaluator training).",
    ),
    "serve": (("serve",), "Run the HTTP service (trains its default predictors as a job on first start)."),
    "space": (("data",), "Search spaces: sample, inspect, check."),
    "supernets": (("tasks",), "Weight-sharing supernets of tasks (trained once, stored, then scoring)."),
    "tasks": (("tasks",), "User tasks: a labelled image folder (DIR/<class>/*.jpg|png) registered under a name."),
    "train": (
        ("training",),
        "Train ARCH on TASK's images and keep its weights (numpy .npz, no pickle) with their provenance.",
    ),
    "zc": (("predictors",), "Zero-cost proxies computed on real networks and CIFAR-10 images."),
}
#: Exit status of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130
#: Options of the app itself that take a value (skipped when finding the command).
_GLOBAL_VALUE_OPTIONS = ("--data-dir", "--cache-dir", "--home")

_app = typer.Typer(help="archgen: architecture predictors, generation and search for NAS.", no_args_is_help=True)
_registered: set[str] = set()


@_app.callback()
def _main(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Benchmark data directory (default: $ARCHGEN_DATA_DIR, else ../shared/data)."),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Cache directory (default: $ARCHGEN_CACHE_DIR, else the user cache)."),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Model store and service state (default: $ARCHGEN_HOME, else the user data dir)."),
    ] = None,
) -> None:
    _ctx.set(data_dir, cache_dir, home)


def command_of(argv: list[str]) -> str | None:
    """The top-level command named on a command line (``None`` when there is none, e.g. ``--help``)."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in _GLOBAL_VALUE_OPTIONS:
            i += 2
        elif tok.startswith("-"):
            i += 1
        else:
            return tok
    return None


def _listing() -> typer.Typer:
    """An app whose commands only carry their one-line helps: what ``archgen`` and ``archgen --help`` print."""
    listing = typer.Typer(help=_app.info.help, no_args_is_help=True)
    listing.callback()(_main)
    for name, (_, help_text) in COMMANDS.items():
        listing.command(name, help=help_text)(lambda: None)
    return listing


def build_app(command: str | None = None) -> typer.Typer:
    """The app with ``command``'s modules registered (all of them for an unknown command or ``None``)."""
    modules = (
        COMMANDS[command][0]
        if command in COMMANDS
        else tuple(dict.fromkeys(m for ms, _ in COMMANDS.values() for m in ms))
    )
    for name in modules:
        if name not in _registered:
            # a command module imports what it needs at its top (torch, the predictors...), so it is
            # imported only when its command runs
            importlib.import_module(f"archgen.cli.{name}").register(_app)
            _registered.add(name)
    return _app


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for typer's test runner
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_proxy_list(tok: str) -> bool:
    from archgen.predictors.zerocost import PROXIES  # lazy: only when --proxies is given; the module imports torch

    return all(p in PROXIES or p == "all" for p in tok.split(",") if p)


#: Options that take several values after one flag (``--train-sizes 78 156 469``),
#: with the test a following token must pass to be one of them (so that
#: ``--proxies all ARCH...`` leaves the architectures as arguments).
MULTI_VALUE_OPTIONS = {
    "--train-sizes": str.isdigit,
    "--predictors": lambda t: re.fullmatch(r"[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*", t) is not None,
    "--proxies": _is_proxy_list,
    "--protocol": lambda t: all(p in ("heldout", "anchors") for p in t.split(",") if p),
}


def expand_multi_value(argv: list[str]) -> list[str]:
    """Rewrite ``--opt a b c`` as ``--opt a --opt b --opt c`` for :data:`MULTI_VALUE_OPTIONS`.

    Click gives options one value each; this keeps the documented
    space-separated form working.
    """
    out: list[str] = []
    current: str | None = None
    for tok in argv:
        if tok.startswith("-"):
            current = tok if tok in MULTI_VALUE_OPTIONS else None
            out.append(tok)
        elif current is not None and out[-1] != current and MULTI_VALUE_OPTIONS[current](tok):
            out += [current, tok]
        else:
            if current is not None and out[-1] != current:
                current = None  # a positional argument ends the option's values
            out.append(tok)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning archgen errors into one-line messages (exit 2)."""
    argv = expand_multi_value(list(sys.argv[1:] if argv is None else argv))
    try:
        command = command_of(argv)
        app = (
            _listing()
            if command is None and not {"--install-completion", "--show-completion"} & set(argv)
            else build_app(command)
        )
        # not standalone: typer returns an exit code instead of exiting (Ctrl-C gives 130, typer.Exit its own)
        code = app(args=argv, standalone_mode=False)
        if code == INTERRUPTED:
            typer.echo("error: interrupted (Ctrl-C)" + (f"; {_ctx.interrupted}" if _ctx.interrupted else ""), err=True)
            sys.exit(INTERRUPTED)
        if isinstance(code, int) and code:
            sys.exit(code)
    except ArchgenError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as e:
        # usage errors: click's, or those of the click that typer vendors (typer._click), which
        # click.ClickException does not match; one line, exit 2, no traceback
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            if e.format_message():  # `archgen` alone printed its help: no empty error line after it
                typer.echo(f"error: {e.format_message()}", err=True)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
