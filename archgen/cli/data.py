"""``archgen data`` (verify checksums, summarise tables) and ``archgen space`` (sample, inspect, check)."""

from __future__ import annotations

import math
import sys
import time
from typing import Annotated, Any

import numpy as np
import typer
from tqdm import tqdm

from archgen.cli.common import JsonOpt, _ctx, _emit, _space
from archgen.errors import ArchgenError, UnknownNameError

data_app = typer.Typer(help="Benchmark data: verify checksums, summarise tables.", no_args_is_help=True)
space_app = typer.Typer(help="Search spaces: sample, inspect, check.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``data`` and ``space`` groups to the app."""
    app.add_typer(data_app, name="data")
    app.add_typer(space_app, name="space")


# -- data ------------------------------------------------------------------
@data_app.command("verify")
def data_verify(
    full: Annotated[
        bool, typer.Option("--full", help="Hash every file even if its size and mtime are unchanged.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify every data file against MANIFEST.sha256."""
    from archgen.datasets import DataStore  # lazy: the data layer imports torch; --help must not

    t0 = time.perf_counter()
    paths = _ctx.settings().paths
    store = DataStore(paths.data_dir, paths.cache_dir)
    report = store.verify(full=full)
    seconds = time.perf_counter() - t0
    obj = {
        "data_dir": str(store.root),
        "files": len(report.checked),
        "hashed": len(report.hashed),
        "ok": True,
        "seconds": seconds,
    }
    _emit(obj, as_json, f"{store.root}: {len(report.checked)} files OK ({len(report.hashed)} hashed, {seconds:.2f} s)")


@data_app.command("info")
def data_info(as_json: JsonOpt = False) -> None:
    """Spaces, tasks, number of architectures and the best value of each main metric."""
    from archgen.datasets import list_tables  # lazy: the data layer imports torch; --help must not

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
    from archgen.spaces import list_spaces, space_class  # lazy: the data layer imports torch; --help must not

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
    from archgen.datasets import list_tables  # lazy: the data layer imports torch; --help must not

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
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Check a random sample of this many cells instead of all.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: all cores).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the network of every cell and compare its parameter count with the published one."""
    from archgen.datasets.nb201 import index_ops  # lazy: the data layer imports torch; --help must not
    from archgen.services.checks import check_nb201_params  # lazy: imports torch; `archgen data --help` must not

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
        text += "".join(
            f"\n  index {i}: built {b}, published {p}, NAS-Bench-Suite-Zero {z}" for i, b, p, z in res.mismatches[:20]
        )
    _emit(obj, as_json, text)
    if not res.ok:
        raise typer.Exit(1)
