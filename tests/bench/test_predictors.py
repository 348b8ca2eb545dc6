"""The predictor benchmark: one run per predictor, size and seed; summaries with mean and std."""

from __future__ import annotations

from archgen.bench.predictors import benchmark_predictors, format_table, summarize


def test_runs_and_summary(ws) -> None:
    runs = benchmark_predictors(
        ws,
        "nb201",
        "cifar10",
        ["lgbm"],
        [30],
        seeds=2,
        max_test=200,
        params={"lgbm": {"n_estimators": 10, "n_bags": 2}},
    )
    assert [(r.predictor, r.n_train, r.seed, r.n_test) for r in runs] == [("lgbm", 30, 0, 200), ("lgbm", 30, 1, 200)]
    assert all(0.0 < r.kendall_tau < 1.0 and r.coverage_1sigma is not None for r in runs)
    (row,) = summarize(runs)
    assert row["seeds"] == 2 and row["kendall_tau_std"] >= 0
    assert "lgbm" in format_table([row])


def test_anchors_protocol_scores_every_cell_against_test_accuracy(ws) -> None:
    runs = benchmark_predictors(
        ws, "nb201", "cifar10", ["lgbm"], [30], seeds=1, features="encoding", protocols=("heldout", "anchors"),
        params={"lgbm": {"n_estimators": 10, "n_bags": 2}},
    )  # fmt: skip
    held, anch = runs
    assert (held.protocol, anch.protocol) == ("heldout", "anchors") and held.features == anch.features == "encoding"
    assert anch.n_test == 15625 and held.n_test == 15625 - 30 and anch.eval_target == "cifar10/test_acc"
    assert held.kendall_tau_strict == anch.kendall_tau_strict and held.n_test_strict < held.n_test


def test_strict_classes_merge_both_notions(ws) -> None:
    from archgen.bench.predictors import strict_classes

    table = ws.table("nb201")
    sp = table.search_space
    archs = [sp.from_index(i) for i in range(table.num_rows)]
    ids = strict_classes(table, archs)
    n = len(set(ids.tolist()))
    assert n <= min(len({sp.canonical(a) for a in archs}), len({sp.path_string(a) for a in archs})) == 6466
    for i in (0, 100, 5000):  # every member of a class shares one key with another member
        same = [a for a, c in zip(archs, ids, strict=True) if c == ids[i]]
        assert all(sp.canonical(a) == sp.canonical(archs[i]) or len(same) > 1 for a in same)


def test_over_the_maximum_share_is_a_fraction(ws) -> None:
    (r,) = benchmark_predictors(
        ws, "nb201", "cifar10", ["lgbm"], [50], seeds=1, params={"lgbm": {"n_estimators": 10, "n_bags": 2}}
    )
    assert 0.0 <= r.over_max_top5 <= 1.0
