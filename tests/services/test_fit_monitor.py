"""The job's fit monitor: parts saved checksummed in the work directory, restored on resume, torn ones refitted."""

from __future__ import annotations

import threading

import numpy as np

from archgen.jobs import JobContext, JobStore
from archgen.predictors.base import PredictorState
from archgen.services.fit_monitor import JobFitMonitor
from archgen.settings import Settings


def test_parts_round_trip_and_a_corrupt_part_is_refitted(settings: Settings, counter_kind) -> None:
    store = JobStore(settings.db_url)
    job, _ = store.create("test_counter", {"n": 1}, "a")
    _, token = store.claim_next()
    ctx = JobContext(store, store.get(job.id), token, settings, threading.Event())
    mon = JobFitMonitor(ctx, ctx.workdir / "parts")
    state = PredictorState(meta={"a": 1}, arrays={"w": np.arange(3.0)}, texts={"t": "x"})
    mon.save("model/member0", state)
    assert store.get(job.id).checkpoint["parts"] == ["model/member0"]

    resumed = JobFitMonitor(
        JobContext(store, store.get(job.id), token, settings, threading.Event()), ctx.workdir / "parts"
    )
    got = resumed.restore("model/member0")
    assert got is not None and got.meta == {"a": 1} and got.texts == {"t": "x"}
    np.testing.assert_array_equal(got.arrays["w"], np.arange(3.0))
    assert resumed.restore("model/member1") is None

    (ctx.workdir / "parts" / "model.member0" / "arrays.npz").write_bytes(b"torn")
    assert resumed.restore("model/member0") is None
