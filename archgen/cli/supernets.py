"""``archgen bench supernet``: Kendall tau of a CPU-trained NB201 supernet against training time."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit, bench_app


def register(app: typer.Typer) -> None:
    """Add ``supernet`` to the bench group."""
    bench_app.command("supernet")(bench_supernet)


def bench_supernet(
    minutes: Annotated[
        float, typer.Option("--minutes", min=0.1, max=24 * 60, help="Training wall-time budget.")
    ] = 30.0,
    sampling: Annotated[
        str, typer.Option("--sampling", help="uniform (SPOS) or fair (FairNAS strict fairness).")
    ] = "uniform",
    width: Annotated[int, typer.Option("--width", min=1, max=64, help="C: width of the first stage.")] = 8,
    depth: Annotated[int, typer.Option("--depth", min=1, max=5, help="N: cells per stage.")] = 1,
    resolution: Annotated[int, typer.Option("--resolution", min=4, max=32)] = 16,
    batch_size: Annotated[int, typer.Option("--batch-size", min=8, max=1024)] = 128,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Default: what fits the budget (a probe).")
    ] = None,
    cells: Annotated[int, typer.Option("--cells", min=10, max=15625)] = 500,
    top_cells: Annotated[int, typer.Option("--top-cells", min=10, max=781)] = 200,
    points: Annotated[
        int, typer.Option("--points", min=1, max=50, help="Times along training the tau is measured.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Cells and supernet seed (development used 0-2).")] = 100,
    threads: Annotated[int, typer.Option("--threads", min=1, max=256)] = 1,
    clock: Annotated[
        str,
        typer.Option(
            "--clock",
            help="cpu: the budget in this process's CPU seconds (one thread: an "
            "idle core's wall time, whatever else runs); wall: wall seconds.",
        ),
    ] = "cpu",
    out: Annotated[Path | None, typer.Option("--out", help="Write runs.json and tau.png here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train an NB201 supernet on CIFAR-10 for MINUTES and measure how it ranks cells (Kendall tau against the
    published cifar10-valid accuracy) along training, beside label-free baselines on the same cells."""
    import torch  # lazy: `archgen bench supernet --help` and usage errors must not pay torch's import

    import archgen.composition  # noqa: F401  # lazy: registers the kinds (imports torch), as above
    from archgen.bench.supernets import benchmark_supernet, format_supernet, plot_supernet  # lazy: as above
    from archgen.supernets.oneshot import OneShotSupernet  # lazy: as above

    torch.set_num_threads(threads)
    params: dict = {"C": width, "N": depth, "resolution": resolution, "batch_size": batch_size, "sampling": sampling,
                    "seed": seed}  # fmt: skip
    if epochs is not None:
        params["epochs"] = epochs
    OneShotSupernet(**params)  # bad values raise before any work
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = out if out is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows, meta = benchmark_supernet(_ctx.workspace(), minutes=minutes, params=params, cells=cells, top_cells=top_cells,
                                        points=points, seed=seed, workdir=work, log=lambda m: typer.echo(m, err=True), clock=clock)  # fmt: skip
        (work / "supernet-checkpoint.npz").unlink(missing_ok=True)
    meta["machine"] = (
        f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, {threads} threads, {time.time() - t0:.0f} s"
    )
    files = []
    if out is not None:
        (out / "runs.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        files = [out / "runs.json", plot_supernet(rows, meta, out / "tau.png")]
    text = format_supernet(rows, meta) + f"\n{meta['machine']}" + "".join(f"\nwrote {p}" for p in files)
    _emit({"meta": meta, "rows": rows, "files": [str(p) for p in files]}, as_json, text)
