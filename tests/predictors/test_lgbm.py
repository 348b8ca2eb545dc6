"""LightGBM: learns a synthetic target; one progress report per bag; OOB-calibrated std."""

from __future__ import annotations

from archgen.predictors import get_predictor
from archgen.predictors.base import CallbackMonitor
from archgen.predictors.metrics import kendall_tau
from tests.predictors.synthetic import synthetic, synthetic_split


def test_learns_a_synthetic_target(nb201_data) -> None:
    tr, te = synthetic_split(nb201_data[0])
    pred = get_predictor("lgbm", zc="none").fit(tr, synthetic(tr))
    assert kendall_tau(synthetic(te), pred.predict(te)) > 0.8


def test_reports_progress_per_bag(nb201_data) -> None:
    tr, _ = synthetic_split(nb201_data[0], 60)
    seen: list[tuple[float, str | None]] = []
    get_predictor("lgbm", zc="none", n_bags=4, n_estimators=10).fit(
        tr, synthetic(tr), monitor=CallbackMonitor(lambda f, m: seen.append((f, m)))
    )
    assert [f for f, m in seen if m and m.startswith("bag")] == [0.25, 0.5, 0.75, 1.0]


def test_concurrent_fits_and_predictions_in_threads_agree(nb201_data) -> None:
    """LightGBM sets OpenMP's thread count process-wide; archgen serialises its calls (unserialised, two
    stacks fitted in two threads crashed the process with SIGSEGV/SIGFPE)."""
    import threading

    tr, te = synthetic_split(nb201_data[0], 60, 200)
    preds: list = [None] * 4

    def work(k: int) -> None:
        p = get_predictor("lgbm", zc="none", n_bags=3, n_estimators=20)
        for _ in range(3):
            p.fit(tr, synthetic(tr))
        preds[k] = p.predict(te)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert all(p is not None for p in preds)
    for p in preds[1:]:
        assert (p == preds[0]).all()
