"""``archgen bench curves`` and ``archgen bench replay`` on the tiny task (two classes of a dozen 8x8 rendered
shapes, three epochs of a 4-channel cell): the table is built, resumed without training again and ranked; every
method is replayed against it and scored by the table's seed-mean test accuracy; a live search and its replay make
the same choices."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.bench import curves as bench
from archgen.bench import new_task
from archgen.bench import replay as replay_bench
from archgen.context import Paths, workspace
from archgen.curves import build
from archgen.curves.table import CurveTable
from archgen.errors import BenchInputError
from archgen.services import task_prior as prior_service


@pytest.fixture(scope="module")
def built(ws, tmp_path_factory):
    """The tiny task's table (8 random cells and CIFAR-10's 2 best; seeds 0, 1 and a third for 2 + 2), ranked."""
    mp = pytest.MonkeyPatch()
    mp.setattr(new_task, "RANKER_PROXIES", ("synflow", "nwot", "params"))
    mp.setattr(prior_service, "REFERENCE_CELLS", 8)
    base = tmp_path_factory.mktemp("curves")
    data = workspace(Paths.of(ws.paths.data_dir, ws.paths.cache_dir, base / "home"))
    out = base / "tiny.npz"
    said: list[str] = []
    build.build_curve_task(data, "tiny", out, base, cells=8, c10_top=2, top=2, seeds=3, workers=2, say=said.append)
    bench.rank(data, out)
    yield data, out, CurveTable.load(out), base
    mp.undo()


def test_the_table_holds_every_candidates_curves_with_its_seeds(built) -> None:
    t = built[2]
    assert len(t.cells) == 10 and t.kinds.count("c10-top") == 2 and t.epochs == 3
    done = t.complete()
    assert done[:, :2].all()  # two seeds for every cell
    third = set(np.flatnonzero(done[:, 2]).tolist())
    assert {i for i, k in enumerate(t.kinds) if k == "c10-top"} <= third and len(third) <= 4
    assert np.isfinite(t.test[done]).all() and (t.seconds[done] > 0).all()
    assert t.meta["split"]["test"] > 0 and t.meta["recipe"]["source"] == "shapes"
    assert set(t.meta["rankers"]) >= {"vote", "prior", "zc:synflow"} and t.meta["prior"]["sources"]


def test_rerunning_trains_nothing_again_and_another_table_is_refused(built, monkeypatch) -> None:
    data, out, t, base = built
    monkeypatch.setattr(build, "train_architecture", lambda *a, **k: pytest.fail("trained again"))
    again = build.build_curve_task(data, "tiny", out, base, cells=8, c10_top=2, top=2, seeds=3, workers=2)
    assert again.progress() == t.progress()
    with pytest.raises(BenchInputError, match="another table"):
        build.build_curve_task(data, "tiny", out, base, cells=9, c10_top=2, top=2, seeds=3)
    with pytest.raises(BenchInputError, match="unknown curve task"):
        build.build_curve_task(data, "nope", out, base)
    other = CurveTable.load(out)
    other.meta["images_sha256"] = "0" * 64  # built on other images (a table continued on another machine)
    other.save(base / "other.npz")
    with pytest.raises(BenchInputError, match="other images"):
        build.build_curve_task(data, "tiny", base / "other.npz", base, cells=8, c10_top=2, top=2, seeds=3)


def test_the_rankers_tau_covers_the_kept_rankers_and_the_cheap_accuracies(built) -> None:
    tau = bench.ranker_tau(built[2])
    assert {"vote", "prior", "one training, 1 epoch", "one training, 3 epochs"} <= set(tau)
    assert all(v["all"] is None or -1 <= v["all"] <= 1 for v in tau.values())


@pytest.mark.parametrize("method", replay_bench.METHODS)
def test_every_method_replays_within_its_budget_and_is_scored_by_the_seed_mean_test(built, method) -> None:
    t = built[2]
    r = replay_bench.run_method(method, t, 3.0, seed=1)
    assert "skipped" not in r
    row = t.row(r["cell"])
    assert r["test"] == pytest.approx(t.mean_test()[row])  # never the value the search saw
    assert 0 <= r["pct"] <= 100
    if method not in ("c10-best", "c10-top5"):  # the baselines train their cells whatever the budget
        assert r["spent"] <= 3.0 + 1e-9  # a cap, in full trainings
    else:
        assert r["cells"] == (1 if method == "c10-best" else 2)


def test_the_replay_command_prints_a_table_and_writes_runs_and_plots(built, tmp_path) -> None:
    doc = replay_bench.run([built[2]], ["random", "sh", "c10-best"], [2.0, 4.0], seeds=3)
    replay_bench.write(doc, tmp_path / "r.json")
    assert (tmp_path / "r-curves-tiny.png").stat().st_size > 0
    text = replay_bench.format_summary(doc)
    assert (
        "| curves-tiny | sh | 4 |" in text and "| c10-best (transfer) | 2 |" in text and len(doc["runs"]) == 3 * 2 * 3
    )
    with pytest.raises(BenchInputError, match="unknown method"):
        replay_bench.check_methods("random,bogus")
    with pytest.raises(BenchInputError, match="budgets"):
        replay_bench.parse_budgets("5,-1")


def test_a_live_search_and_its_replay_make_the_same_choices(built, tmp_path) -> None:
    data, _, t, _ = built
    r = replay_bench.live_and_replay(data, t, tmp_path / "runs", seed=3)
    assert r["same"] and r["compared"] == len(r["live"]) > 4
    assert r["max_value_diff"] == pytest.approx(0.0, abs=1e-9)


def test_the_replay_command_and_its_one_line_errors(built, capsys, tmp_path) -> None:
    from tests.cli.test_predictors_cli import cli

    out = built[1]
    code, text, err = cli(capsys, "bench", "replay", "--table", str(out), "--methods", "random,sh", "--budgets", "2",
                          "--seeds", "2", "--out", str(tmp_path / "r.json"))  # fmt: skip
    assert code == 0, err
    assert "| curves-tiny | random | 2 |" in text and (tmp_path / "r-curves-tiny.png").is_file()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(out.read_bytes()[:1000])
    code, _, err = cli(capsys, "bench", "replay", "--table", str(cut))
    assert code == 2 and "corrupt or truncated" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "bench", "replay", "--table", str(out), "--methods", "bogus")
    assert code == 2 and "unknown method" in err


def test_the_curves_command_builds_a_table_of_a_users_own_task(ws, capsys, tmp_path) -> None:
    from tests.cli.test_predictors_cli import cli
    from tests.tasks.folders import image_folder

    folder = image_folder(ws, tmp_path / "pets", per_class=40)
    code, _, err = cli(capsys, "tasks", "add", "mine", "--images", str(folder), "--image-size", "8")
    assert code == 0, err
    out = tmp_path / "mine.npz"
    args = ["bench", "curves", "--task", "mine", "--cells", "2", "--c10-top", "0", "--top", "0", "--seeds", "2",
            "--workers", "1", "--out", str(out)]  # fmt: skip
    code, text, err = cli(capsys, *args, "--epochs", "1")
    assert code == 0, err
    t = CurveTable.load(out)
    assert t.task == "mine" and t.epochs == 1 and t.complete().all() and "4 trainings" in text
    for bad, words in ((["--task", "nope"], "unknown curve task 'nope'"), (["--epochs", "0"], "--epochs"),
                       (["--task", "tiny", "--epochs", "1"], "is for a task of yours")):  # fmt: skip
        code, _, err = cli(capsys, *args, *bad)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
