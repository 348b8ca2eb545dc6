"""The learning-curve table's format: round trip, the seed-mean scores, and refusals of corrupt, truncated and
foreign files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from archgen.curves.table import CurveTable
from archgen.errors import DataError
from archgen.spaces.nb201 import NB201SearchSpace


def make_table(cells: int = 6, seeds: int = 2, epochs: int = 3, seed: int = 0) -> CurveTable:
    """A table of random curves: validation rising with the epochs, test near the final validation."""
    sp = NB201SearchSpace()
    rng = np.random.default_rng(seed)
    archs = [sp.format(a) for a in sp.sample_distinct(cells, rng)]
    t = CurveTable.empty("t", archs, ["random"] * cells, seeds, epochs, {"epochs": epochs})
    quality = rng.uniform(40, 90, size=cells)
    for r in range(cells):
        for s in range(seeds):
            curve = quality[r] * (1 - 0.5 ** np.arange(1, epochs + 1)) + rng.normal(0, 1, size=epochs)
            t.record(r, s, [{"epoch": e + 1, "val_acc": float(curve[e]), "test_acc": float(curve[e] + 0.5),
                             "seconds": 1.0 + r + 0.1 * e} for e in range(epochs)])  # fmt: skip
    return t


def test_a_table_round_trips_and_scores_cells_by_their_seed_mean_final_test(tmp_path) -> None:
    t = make_table()
    t.val[5, 1] = np.nan  # an incomplete training: not counted
    t.test[5, 1] = np.nan
    t.seconds[5, 1] = np.nan
    t.save(tmp_path / "c.npz")
    back = CurveTable.load(tmp_path / "c.npz")
    assert back.cells == t.cells and back.seeds == 2 and back.epochs == 3
    np.testing.assert_array_equal(back.val, t.val)
    assert back.seeds_of(5) == [0] and back.seeds_of(0) == [0, 1]
    np.testing.assert_allclose(back.mean_test()[0], t.test[0, :, -1].mean(), rtol=1e-6)
    np.testing.assert_allclose(back.mean_test()[5], t.test[5, 0, -1], rtol=1e-6)
    totals = np.nansum(t.seconds, axis=2)[t.complete()]
    assert back.full_cost() == pytest.approx(np.median(totals))
    best = np.nanmax(back.mean_test())
    assert back.percentile(best) == pytest.approx(100 * (5.5 / 6))


def test_corrupt_truncated_and_foreign_files_are_refused_naming_the_problem(tmp_path) -> None:
    path = tmp_path / "c.npz"
    make_table().save(path)
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        CurveTable.load(tmp_path / "cut.npz")
    with np.load(path) as z:  # one value changed, the header kept: the checksum says so
        arrays = {k: z[k] for k in z.files}
    arrays["val"] = arrays["val"].copy()
    arrays["val"][0, 0, 0] += 1
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(DataError, match="checksum"):
        CurveTable.load(tmp_path / "edited.npz")
    np.savez(tmp_path / "other.npz", header=np.frombuffer(json.dumps({"format": "x"}).encode(), dtype=np.uint8),
             val=arrays["val"], test=arrays["test"], seconds=arrays["seconds"])  # fmt: skip
    with pytest.raises(DataError, match="not a curve table"):
        CurveTable.load(tmp_path / "other.npz")
    with zipfile.ZipFile(tmp_path / "lacking.npz", "w") as z:
        z.writestr("x.npy", b"")
    with pytest.raises(DataError, match="lacks"):
        CurveTable.load(tmp_path / "lacking.npz")
    with pytest.raises(DataError, match="no curve table"):
        CurveTable.load(tmp_path / "missing.npz")
