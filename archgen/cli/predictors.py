"""Commands for predictors: train, list, predict, zero-cost scores, benchmarks."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from archgen.cli.common import JsonOpt, _ctx, _emit, _space, bench_app, build
from archgen.errors import ArchgenError, PredictorInputError

predictors_app = typer.Typer(help="Train, list and delete stored predictors.", no_args_is_help=True)
zc_app = typer.Typer(
    help="Zero-cost proxies computed on real networks and CIFAR-10 images.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(predictors_app, name="predictors")
    app.add_typer(zc_app, name="zc")
    app.add_typer(bench_app, name="bench")
    app.command("predict")(predict)


def _kinds() -> None:
    """Register the built-in kinds (predictors, artifact types) before a command uses them."""
    import archgen.composition  # noqa: F401  # lazy: imports torch; `--help` and usage errors must not


def _log(msg: str) -> None:
    typer.echo(msg, err=True)


def _archs(space: str, texts: list[str]) -> list[Any]:
    """Parse architectures (string form or table index); a bad one names its position."""
    sp = _space(space)
    out = []
    for k, t in enumerate(texts):
        try:
            out.append(sp.coerce(t))
        except ArchgenError as e:
            raise PredictorInputError(f"architecture at position {k} ({t!r}): {e}") from None
    return out


# -- predictors ------------------------------------------------------------------------
@predictors_app.command("train")
def predictors_train(
    space: Annotated[
        str,
        typer.Option(
            "--space",
            help="Search space with a table (nb201, nb101, nasbench-graph...).",
        ),
    ] = "nb201",
    task: Annotated[str, typer.Option("--task", help="Task of the space's table.")] = "cifar10",
    predictor: Annotated[
        str,
        typer.Option("--predictor", help="Registered predictor (see 'archgen predictors kinds')."),
    ] = "stack",
    n_train: Annotated[
        int,
        typer.Option("--n-train", min=1, help="Training architectures drawn from the table."),
    ] = 469,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw and of the predictor.")] = 0,
    model_id: Annotated[str | None, typer.Option("--id", help="Store id (default: generated).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Constructor argument KEY=JSON (repeatable), e.g. --param n_bags=10.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a predictor on random table rows, score it on held-out rows, save it in the model store."""
    _kinds()
    from archgen.predictors.base import CallbackMonitor  # lazy: imports torch, as _kinds
    from archgen.services.predictors import TrainPredictorParams, train_predictor  # lazy: imports torch, as _kinds

    params: dict[str, Any] = {}
    for p in param or []:
        key, sep, value = p.partition("=")
        if not sep:
            raise PredictorInputError(f"--param {p!r} is not KEY=VALUE")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    spec = build(
        TrainPredictorParams,
        PredictorInputError,
        None,
        space=space,
        task=task,
        kind=predictor,
        n_train=n_train,
        seed=seed,
        params=params,
        model_id=model_id,
    )

    def on_progress(fraction: float, message: str | None) -> None:
        if message:
            _log(f"[{fraction:4.0%}] {message}")

    data = _ctx.workspace()
    _, rec = train_predictor(spec, data, data.models, monitor=CallbackMonitor(on_progress))
    h = rec.heldout
    text = f"{rec.id}\n  held-out ({h['n']} cells): Kendall tau {h['kendall_tau']:.3f}, Spearman {h['spearman']:.3f}"
    if "coverage_1sigma" in h:
        text += f", 1-sigma coverage {h['coverage_1sigma']:.2f}"
    _emit(rec.summary(), as_json, text)


@predictors_app.command("list")
def predictors_list(as_json: JsonOpt = False) -> None:
    """Stored predictors, newest first, with their held-out Kendall tau."""
    _kinds()

    store = _ctx.models()
    recs, broken = store.scan()
    lines = [f"{len(recs)} model(s) in {store.root}"]
    for r in recs:
        tau = r.heldout.get("kendall_tau", float("nan"))
        lines.append(f"  {r.id:<48} {r.kind:<10} {r.space}/{r.task:<12} n={r.n_train:<5} tau={tau:.3f}  {r.created}")
    if broken:
        lines.append(f"{len(broken)} broken model(s), not served:")
        lines += [f"  {i}: {e}" for i, e in broken.items()]
    _emit(
        {"store": str(store.root), "models": [r.summary() for r in recs], "broken": broken},
        as_json,
        "\n".join(lines),
    )


@predictors_app.command("show")
def predictors_show(model_id: Annotated[str, typer.Argument(help="Store id.")], as_json: JsonOpt = False) -> None:
    """Provenance of one stored predictor (verifies its checksums)."""
    _kinds()

    rec = _ctx.models().record(model_id)
    _emit(rec.summary(), as_json, json.dumps(rec.summary(), indent=2, default=str))


@predictors_app.command("delete")
def predictors_delete(
    model_id: Annotated[str, typer.Argument(help="Store id.")],
) -> None:
    """Remove a stored predictor."""
    _kinds()

    _ctx.models().delete(model_id)
    typer.echo(f"deleted {model_id}")


@predictors_app.command("kinds")
def predictors_kinds(as_json: JsonOpt = False) -> None:
    """Registered predictor kinds, their capabilities and papers."""
    _kinds()
    from archgen.predictors import list_predictors, predictor_class  # lazy: imports torch, as _kinds

    obj = {}
    for n in list_predictors():
        cls = predictor_class(n)
        obj[n] = {
            "class": cls.__name__,
            "capabilities": asdict(cls.capabilities),
            "paper": cls.paper,
        }
    _emit(
        obj,
        as_json,
        "\n".join(f"{n:<11} {v['class']:<26} {v['paper']}" for n, v in obj.items()),
    )


def predict(
    archs: Annotated[
        list[str],
        typer.Argument(help="Architectures: the space's string form or table index."),
    ],
    model: Annotated[str, typer.Option("--model", help="Store id (see 'archgen predictors list').")],
    as_json: JsonOpt = False,
) -> None:
    """Predicted mean and std of architectures with a stored predictor."""
    _kinds()

    pred, rec = _ctx.models().load(model, data=_ctx.workspace(), artifact_type="predictor")
    parsed = _archs(rec.space, archs)
    mean, std = pred.predict_with_uncertainty(parsed)
    sp = _space(rec.space)
    rows = [
        {
            "architecture": sp.format(a),
            "canonical": sp.format(sp.canonical(a)),
            "mean": float(m),
            "std": float(s),
        }
        for a, m, s in zip(parsed, mean, std, strict=False)
    ]
    text = "\n".join(f"{r['mean']:8.3f} ± {r['std']:.3f}  {r['architecture']}" for r in rows)
    _emit({"model": rec.id, "target": rec.target, "predictions": rows}, as_json, text)


# -- zero-cost ---------------------------------------------------------------------------
def _proxy_list(proxies: list[str]) -> list[str]:
    from archgen.predictors.zerocost import PROXIES  # lazy: imports torch, as _kinds

    names = [p for item in proxies for p in item.split(",") if p]
    return list(PROXIES) if names in ([], ["all"]) else names


@zc_app.command("score")
def zc_score(
    archs: Annotated[list[str], typer.Argument(help="Architectures: string form or table index.")],
    space: Annotated[str, typer.Option("--space")] = "nb201",
    task: Annotated[
        str,
        typer.Option("--task", help="Task whose images are used (cifar10, cifar10-valid or a user task)."),
    ] = "cifar10",
    proxies: Annotated[
        list[str],
        typer.Option("--proxies", help="Proxy names (comma-separated or repeated), or 'all'."),
    ] = ["all"],  # noqa: B006
    batch_size: Annotated[int, typer.Option("--batch-size", min=2, max=1024)] = 64,
    width: Annotated[
        int,
        typer.Option("--width", min=1, max=256, help="Channels of the first stage (C)."),
    ] = 16,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Zero-cost proxy scores (computed once per canonical cell and cached)."""
    _kinds()
    from archgen.predictors.zerocost import ZCSettings, score_archs  # lazy: imports torch, as _kinds

    names = _proxy_list(proxies)
    parsed = _archs(space, archs)
    t0 = time.perf_counter()
    scores = score_archs(
        parsed,
        task,
        names,
        ZCSettings(batch_size=batch_size, C=width, seed=seed),
        data=_ctx.workspace(),
        progress=sys.stderr.isatty(),
    )
    seconds = time.perf_counter() - t0
    sp = _space(space)
    rows = [{"architecture": sp.format(a), **{p: float(scores[p][k]) for p in names}} for k, a in enumerate(parsed)]
    lines = [" ".join(f"{p:>10}" for p in names) + "  architecture"]
    lines += [" ".join(f"{r[p]:>10.4g}" for p in names) + f"  {r['architecture']}" for r in rows]
    _emit({"task": task, "seconds": seconds, "scores": rows}, as_json, "\n".join(lines))


# -- benchmarks ----------------------------------------------------------------------------
@bench_app.command("predictors")
def bench_predictors(
    space: Annotated[str, typer.Option("--space")] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    train_sizes: Annotated[
        list[int],
        typer.Option("--train-sizes", help="Training sizes (repeat or space-separate)."),
    ] = [78, 156, 469, 781, 1563],  # noqa: B006
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=100)] = 5,
    predictors: Annotated[
        list[str],
        typer.Option("--predictors", help="Registered names (comma-separated or repeated)."),
    ] = ["lgbm", "gnn", "stack"],  # noqa: B006
    features: Annotated[
        str,
        typer.Option(
            "--features",
            help="encoding (the architecture alone), table (plus published label-free columns) or computed "
            "(plus archgen's own zero-cost proxies). Written into every output row.",
        ),
    ] = "table",
    protocol: Annotated[
        list[str],
        typer.Option(
            "--protocol",
            help="heldout (tau on the training target over untrained cells) and/or anchors (tau against test "
            "accuracy over all cells, as PINAT/NAR-Former/TNASP); repeat or comma-separate to score each fit "
            "under both. Written into every output row.",
        ),
    ] = ["heldout"],  # noqa: B006
    first_seed: Annotated[
        int, typer.Option("--first-seed", min=0, help="First draw (seeds are first..first+seeds-1).")
    ] = 0,
    max_test: Annotated[
        int | None,
        typer.Option("--max-test", min=2, help="Score a random subset of the test cells."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="TASK/METRIC to predict (default: see BENCHMARKS.md)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write runs.jsonl, runs.csv, summary.csv/json and tau.png here.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Kendall tau (mean ± std over draws) under a protocol, the strict tau, calibration overall and on the top 5%."""
    _kinds()
    from archgen.bench.predictors import (  # lazy: imports torch, as _kinds
        benchmark_predictors,
        format_table,
        summarize,
        write_outputs,
    )

    names = [p for item in predictors for p in item.split(",") if p]
    protocols = list(dict.fromkeys(p for item in protocol for p in item.split(",") if p))
    target = None
    if metric:
        t, sep, m = metric.partition("/")
        if not sep:
            raise PredictorInputError(f"--metric {metric!r} is not TASK/METRIC")
        target = (t, m)
    log_file = None
    if out:
        out.mkdir(parents=True, exist_ok=True)
        log_file = (out / "runs.jsonl").open("w")

    def on_result(r: Any) -> None:
        if log_file:
            log_file.write(json.dumps(asdict(r)) + "\n")
            log_file.flush()

    try:
        results = benchmark_predictors(
            _ctx.workspace(),
            space,
            task,
            names,
            train_sizes,
            seeds,
            target=target,
            features=features,
            protocols=protocols,
            max_test=max_test,
            first_seed=first_seed,
            log=_log,
            on_result=on_result,
        )
    finally:
        if log_file:
            log_file.close()
    summary = summarize(results)
    if out:
        anchors = space == "nb201" and task == "cifar10" and target is None and "anchors" in protocols
        title = f"{space} {task}, {features} features, {' + '.join(protocols)} protocol" + (
            f" ({max_test} test cells)" if max_test else ""
        )
        for p in write_outputs(results, out, title, anchors):
            _log(f"wrote {p}")
    _emit(
        {"space": space, "task": task, "summary": summary},
        as_json,
        format_table(summary),
    )


@bench_app.command("zc")
def bench_zc(
    space: Annotated[str, typer.Option("--space")] = "nb201",
    task: Annotated[str, typer.Option("--task")] = "cifar10",
    n_archs: Annotated[int, typer.Option("--n-archs", min=3, help="Random cells to score.")] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    proxies: Annotated[list[str], typer.Option("--proxies")] = ["all"],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Per proxy: Spearman with true accuracy, with the published NAS-Bench-Suite-Zero score, seconds per cell."""
    _kinds()
    from archgen.bench.predictors import benchmark_zc, format_zc_table  # lazy: imports torch, as _kinds

    rows, meta = benchmark_zc(_ctx.workspace(), space, task, n_archs, seed, _proxy_list(proxies), log=_log)
    _emit(
        {"space": space, "task": task, **meta, "proxies": rows},
        as_json,
        format_zc_table(rows, meta),
    )
