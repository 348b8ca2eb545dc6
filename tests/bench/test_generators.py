"""The generator benchmark: a tiny quality run end to end, summaries and outputs."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from archgen.bench.generators import BenchOptions, format_summary, run, summarize, write_outputs


@pytest.fixture(scope="module")
def tiny_rows(ws) -> list[dict]:
    opts = BenchOptions(
        space="nb201", tasks=("cifar100",), draws=1, first_seed=0, samples=30, epochs=5, steps=20,
        method="euler", labelled=16, scales=(0.0, 5.0),
    )  # fmt: skip
    return run("quality", ws, opts)


def test_quality_rows_hold_every_method_and_honest_ranges(tiny_rows) -> None:
    methods = {(r["part"], r["method"], r.get("scale")) for r in tiny_rows}
    assert {("unguided", "diffusion", None), ("unguided", "uniform", None), ("guided", "uniform", None)} <= methods
    assert {("guided", "diffusion-guided", 0.0), ("guided", "diffusion-guided", 5.0)} <= methods
    assert ("guided", "rank-all-by-surrogate", None) in methods
    for r in tiny_rows:
        if r["part"] == "guided":
            assert r["task"] == "cifar100" and 0 <= r["top1_share"] <= r["top5_share"] <= 1
            assert r["best_acc"] >= r["mean_acc"] and r["distinct"] <= 100
        else:
            assert 0 <= r["validity"] <= 1
    uniform = next(r for r in tiny_rows if r["part"] == "unguided" and r["method"] == "uniform")
    assert uniform["validity"] == 1 and 0.3 < uniform["novelty"] < 0.7  # half the space is held out


def test_summary_averages_draws_and_outputs_are_written(tiny_rows, tmp_path) -> None:
    rows = tiny_rows + [dict(r, seed=r["seed"] + 1, mean_acc=r.get("mean_acc", 0) + 2) for r in tiny_rows]
    summary = summarize(rows)
    guided = [s for s in summary if s["part"] == "guided" and s["method"] == "uniform"]
    assert len(guided) == 1 and guided[0]["draws"] == 2 and math.isclose(guided[0]["mean_acc_std"], 1.0)
    assert "[guided]" in format_summary(summary) and "±" in format_summary(summary)
    files = write_outputs(rows, tmp_path, "quality", "title")
    assert [p.name for p in files] == ["quality_runs.json", "quality_summary.csv", "quality_summary.png"]
    assert len(json.loads(files[0].read_text())) == len(rows)
    with files[1].open() as f:
        assert len(list(csv.DictReader(f))) == len(summary)


def test_transfer_summary_counts_seeds_that_never_reach_the_optimum() -> None:
    rows = [
        {"part": "transfer", "task": "cifar100", "source_mean_rank_of_optimum": 13, "evals_to_optimum": e,
         "best_of_first_10": 73.0, "mean_acc": 70.0}
        for e in (2, None, None)
    ]  # fmt: skip
    (s,) = summarize(rows)
    assert np.isinf(s["median_evals_to_optimum"]) and math.isclose(s["reached"], 1 / 3)
