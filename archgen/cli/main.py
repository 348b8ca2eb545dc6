"""The ``archgen`` command line.

Every command has ``--help``; every command that reports something takes
``--json``. Errors in the input or the data print one line naming the problem
and exit with status 2.
"""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.cli import generate as generate_cli
from archgen.cli import predictors as predictors_cli
from archgen.cli import search as search_cli
from archgen.cli import serve as serve_cli
from archgen.cli import supernets as supernets_cli
from archgen.cli import tasks as tasks_cli
from archgen.cli import training as training_cli
from archgen.cli.common import JsonOpt, _ctx, _emit, _space
from archgen.errors import ArchgenError

app = typer.Typer(help="archgen: architecture predictors, generation and search for NAS.", no_args_is_help=True)
data_app = typer.Typer(help="Benchmark data: verify checksums, summarise tables.", no_args_is_help=True)
space_app = typer.Typer(help="Search spaces: sample, inspect, check.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(space_app, name="space")

predictors_cli.register(app)
generate_cli.register(app)
search_cli.register(app)
serve_cli.register(app)
supernets_cli.register(app)
training_cli.register(app)
tasks_cli.register(app)


@app.callback()
def _main(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Benchmark data directory (default: $ARCHGEN_DATA_DIR, else ../shared/data).")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Cache directory (default: $ARCHGEN_CACHE_DIR, else the user cache).")
    ] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="Model store and service state (default: $ARCHGEN_HOME, else the user data dir).")
    ] = None,
) -> None:
    _ctx.set(data_dir, cache_dir, home)


# -- data ------------------------------------------------------------------
@data_app.command("verify")
def data_verify(
    full: Annotated[bool, typer.Option("--full", help="Hash every file even if its size and mtime are unchanged.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify every data file against MANIFEST.sha256."""
    from archgen.datasets import DataStore

    t0 = time.perf_counter()
    paths = _ctx.settings().paths
    store = DataStore(paths.data_dir, paths.cache_dir)
    report = store.verify(full=full)
    seconds = time.perf_counter() - t0
    obj = {"data_dir": str(store.root), "files": len(report.checked), "hashed": len(report.hashed), "ok": True, "seconds": seconds}
    _emit(obj, as_json, f"{store.root}: {len(report.checked)} files OK ({len(report.hashed)} hashed, {seconds:.2f} s)")


@data_app.command("info")
def data_info(as_json: JsonOpt = False) -> None:
    """Spaces, tasks, number of architectures and the best value of each main metric."""
    from archgen.datasets import list_tables

    data = _ctx.workspace()
    out: dict[str, Any] = {}
    lines = []
    for name in list_tables():
        table = data.table(name)
        space = table.search_space
        best = {}
        for task, metric in table.main_metrics:
            row, value = table.best(task, metric)
            best[f"{task}/{metric}"] = {"value": value, "row": row, "arch": space.format(space.from_index(row))}
        out[name] = {
            "num_archs": table.num_rows,
            "tasks": {t: table.metrics(t) for t in table.tasks()},
            "best": best,
        }
        lines.append(f"{name}: {table.num_rows} architectures, tasks: {', '.join(table.tasks())}")
        for key, b in best.items():
            lines.append(f"  best {key:<32} {b['value']:8.2f}  (row {b['row']}: {b['arch']})")
    _emit({"spaces": out}, as_json, "\n".join(lines))


# -- space -------------------------------------------------------------------
@space_app.command("list")
def space_list(as_json: JsonOpt = False) -> None:
    """Registered search spaces and their operations."""
    from archgen.spaces import list_spaces, space_class

    obj = {n: {"ops": list(space_class(n).op_names)} for n in list_spaces()}
    _emit(obj, as_json, "\n".join(f"{n}: {', '.join(v['ops'])}" for n, v in obj.items()))


@space_app.command("sample")
def space_sample(
    space: Annotated[str, typer.Argument(help="Search space name (see 'archgen space list').")],
    n: Annotated[int, typer.Option("-n", "--num", min=1, max=1_000_000, help="Number of architectures.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Sample architectures uniformly (reproducible for a seed)."""
    sp = _space(space)
    archs = sp.sample(n, np.random.default_rng(seed))
    texts = [sp.format(a) for a in archs]
    _emit({"space": space, "seed": seed, "architectures": texts}, as_json, "\n".join(texts))


@space_app.command("show")
def space_show(
    space: Annotated[str, typer.Argument(help="Search space name.")],
    arch: Annotated[str, typer.Argument(help="Architecture: the space's string form or its table index.")],
    as_json: JsonOpt = False,
) -> None:
    """Parsed form, canonical form, index and every published metric of one architecture."""
    from archgen.datasets import list_tables

    sp = _space(space)
    a = sp.coerce(arch)
    canon = sp.canonical(a)
    obj: dict[str, Any] = {
        "space": space,
        "architecture": sp.format(a),
        "ops": [sp.op_names[o] for o in a.ops],
        "edges": [list(e) for e in a.edges],
        "canonical": sp.format(canon),
    }
    if hasattr(sp, "to_naslib"):
        obj["naslib"] = list(sp.to_naslib(a))
    metrics: dict[str, dict[str, float]] = {}
    if space in list_tables():
        try:
            row = sp.index(a)
        except ArchgenError:
            row = None
        obj["index"] = row
        if row is not None:
            table = _ctx.workspace().table(space)
            for task in table.tasks():
                vals = {m: float(table.lookup(task, m, [row])[0]) for m in table.metrics(task)}
                metrics[task] = {m: v for m, v in vals.items() if not math.isnan(v)}
    obj["metrics"] = metrics
    lines = [f"{k}: {v}" for k, v in obj.items() if k != "metrics"]
    for task, vals in metrics.items():
        lines.append(f"[{task}]")
        lines.extend(f"  {m:<36} {v:.6g}" for m, v in vals.items())
    _emit(obj, as_json, "\n".join(lines))


@space_app.command("check-params")
def space_check_params(
    space: Annotated[str, typer.Argument(help="Search space (only nb201 publishes parameter counts for every cell).")],
    sample: Annotated[int | None, typer.Option("--sample", min=1, help="Check a random sample of this many cells instead of all.")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: all cores).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the network of every cell and compare its parameter count with the published one."""
    from tqdm import tqdm

    from archgen.datasets.nb201 import index_ops
    from archgen.errors import UnknownNameError
    from archgen.services.checks import check_nb201_params

    if space != "nb201":
        raise UnknownNameError("space with published per-cell parameter counts", space, ["nb201"])
    data = _ctx.workspace()
    table = data.table("nb201")
    ops = index_ops(data.store)
    idx = np.arange(table.num_rows)
    if sample is not None:
        idx = np.sort(np.random.default_rng(seed).choice(table.num_rows, min(sample, table.num_rows), replace=False))
    t0 = time.perf_counter()
    with tqdm(total=len(idx), desc="building networks", unit="net", disable=as_json or not sys.stderr.isatty()) as bar:
        res = check_nb201_params(
            idx,
            ops,
            table.column("cifar10", "params"),
            table.column("cifar10", "zc_params"),
            workers=workers,
            progress=bar.update,
        )
    seconds = time.perf_counter() - t0
    obj = {
        "space": space,
        "checked": res.checked,
        "matched": res.matched,
        "total_cells": table.num_rows,
        "mismatched": len(res.mismatches),
        "published_value_unattainable": res.unattainable,
        "second_source_agrees_with_build": res.corroborated,
        "second_source_disagrees": res.contradicted,
        "unexplained": res.unexplained,
        "ok": res.ok,
        "mismatches": [
            {"index": i, "built": b, "published": p, "nas_bench_suite_zero": z} for i, b, p, z in res.mismatches
        ],
        "seconds": seconds,
    }
    text = f"{res.matched} of {res.checked} cells matched the published parameter count ({seconds:.1f} s)"
    if res.mismatches:
        text += (
            f"\n{len(res.mismatches)} mismatched: {res.unattainable} published values are the parameter count of no"
            f" NB201 cell at all (inconsistent entries in the published table); NAS-Bench-Suite-Zero publishes"
            f" {res.corroborated + res.contradicted} of them and agrees with the built network for {res.corroborated};"
            f" unexplained: {res.unexplained}"
        )
        text += "".join(f"\n  index {i}: built {b}, published {p}, NAS-Bench-Suite-Zero {z}" for i, b, p, z in res.mismatches[:20])
    _emit(obj, as_json, text)
    if not res.ok:
        raise typer.Exit(1)


def _is_proxy_list(tok: str) -> bool:
    from archgen.predictors.zerocost import PROXIES

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
        app(args=argv, standalone_mode=False)
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
            typer.echo(f"error: {e.format_message()}", err=True)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
