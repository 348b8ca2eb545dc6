"""The predictor benchmark: one run per predictor, size and seed; summaries with mean and std."""

from __future__ import annotations

from archgen.predictors.benchmark import benchmark_predictors, format_table, summarize


def test_runs_and_summary(ws) -> None:
    runs = benchmark_predictors(
        ws, "nb201", "cifar10", ["lgbm"], [30], seeds=2, max_test=200, params={"lgbm": {"n_estimators": 10, "n_bags": 2}}
    )
    assert [(r.predictor, r.n_train, r.seed, r.n_test) for r in runs] == [("lgbm", 30, 0, 200), ("lgbm", 30, 1, 200)]
    assert all(0.0 < r.kendall_tau < 1.0 and r.coverage_1sigma is not None for r in runs)
    (row,) = summarize(runs)
    assert row["seeds"] == 2 and row["kendall_tau_std"] >= 0
    assert "lgbm" in format_table([row])
