"""Benchmark tables: published sanity values, names, vectorised lookups."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.datasets import list_tables, load_table
from archgen.errors import InvalidArchitectureError, NoDataError, UnknownNameError
from archgen.spaces import get_space


@pytest.fixture(scope="module")
def nb201(ws):
    return load_table("nb201", ws)


@pytest.mark.parametrize(
    ("task", "metric", "value", "row"),
    [
        ("cifar10", "test_acc", 94.37, 6111),
        ("cifar100", "test_acc", 73.51, 9930),
        ("ImageNet16-120", "test_acc", 47.31, 857),
        ("cifar10-valid", "val_acc", 91.61, None),
    ],
)
def test_nb201_best_values_match_the_data_readme(nb201, task, metric, value, row) -> None:
    best_row, best = nb201.best(task, metric)
    assert best == pytest.approx(value, abs=0.005)
    if row is not None:
        assert best_row == row


def test_nb201_columns_cover_what_was_published(nb201) -> None:
    assert nb201.num_rows == 15625
    assert set(nb201.tasks()) == {"cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"}
    for task in ("cifar10", "cifar100", "ImageNet16-120"):
        for m in ("test_acc", "val_acc_12ep", "test_acc_12ep", "hw_edgegpu_latency", "hw_fpga_energy"):
            assert nb201.coverage(task, m) == 15625, (task, m)
    for m in ("zc_synflow", "zc_jacov", "zc_snip", "flops"):
        assert nb201.coverage("cifar10", m) == 9445
    assert nb201.coverage("cifar100", "zc_synflow") == 725
    assert sum(m.startswith("latency_") for m in nb201.metrics("cifar10")) == 27
    assert nb201.coverage("cifar10", "params") == 15625
    # 12-epoch accuracy is a low fidelity: below the 200-epoch one on average
    assert np.nanmean(nb201.column("cifar10", "test_acc_12ep")) < np.nanmean(nb201.column("cifar10", "test_acc"))


def test_help_latency_is_cifar10_sized(nb201) -> None:
    """HELP's eyeriss/fpga columns equal HW-NAS-Bench's CIFAR-10 ones: why they are filed under cifar10."""
    np.testing.assert_allclose(
        nb201.column("cifar10", "latency_eyeriss"), nb201.column("cifar10", "hw_eyeriss_latency"), rtol=1e-6
    )
    np.testing.assert_allclose(
        nb201.column("cifar10", "latency_fpga"), nb201.column("cifar10", "hw_fpga_latency"), rtol=1e-6
    )


def test_two_sources_agree_on_cifar10_test_accuracy(nb201) -> None:
    import pandas as pd

    # NB201 v1_1 (nwot export) and NATS-Bench average over different sets of seeds for ~15% of
    # cells, so the two publications agree closely but not exactly.
    nwot = pd.read_csv(nb201.search_space.data.store.root / "nb201-nwot/arch_score_acc.csv.gz")["test_top1"].to_numpy()
    nats = nb201.column("cifar10", "test_acc")
    assert np.mean(np.isclose(nwot, nats, atol=1e-6)) > 0.8
    assert np.median(np.abs(nwot - nats)) < 0.01
    assert np.corrcoef(nwot, nats)[0, 1] > 0.99


def test_lookup_is_vectorised_and_matches_query(nb201, ws) -> None:
    space = ws.space("nb201")
    archs = space.sample(300, np.random.default_rng(0))
    rows = nb201.rows(archs)
    np.testing.assert_array_equal(nb201.query(archs, "cifar10", "test_acc"), nb201.column("cifar10", "test_acc")[rows])
    many = np.random.default_rng(1).integers(0, 15625, 10_000)
    assert nb201.lookup("cifar100", "test_acc", many).shape == (10_000,)


def test_unknown_names_list_valid_ones(nb201, ws) -> None:
    with pytest.raises(UnknownNameError) as e:
        nb201.column("cifar11", "test_acc")
    assert "cifar10" in str(e.value) and "ImageNet16-120" in str(e.value)
    with pytest.raises(UnknownNameError) as e:
        nb201.column("cifar10", "accuracy")
    assert "test_acc" in str(e.value)
    with pytest.raises(UnknownNameError):
        load_table("darts", ws)
    with pytest.raises(InvalidArchitectureError):
        nb201.lookup("cifar10", "test_acc", [15625])


def test_columns_are_read_only(nb201) -> None:
    with pytest.raises(ValueError):
        nb201.column("cifar10", "test_acc")[0] = 0.0


def test_every_space_with_a_table_resolves_its_rows(ws) -> None:
    for name in list_tables():
        table = load_table(name, ws)
        space = ws.space(name)
        rows = np.arange(0, table.num_rows, max(1, table.num_rows // 50))
        archs = [space.from_index(int(r)) for r in rows]
        np.testing.assert_array_equal(table.rows(archs), rows)
        for task, metric in table.main_metrics:
            assert table.coverage(task, metric) > 0


def test_nasbench_graph_table(ws) -> None:
    table = load_table("nasbench_graph", ws)
    assert table.num_rows == 26206
    assert len(table.tasks()) == 9
    assert table.coverage("proteins", "test_rocauc") == 2021
    assert table.coverage("cora", "test_acc") == 26206
    acc = table.column("cora", "test_acc")
    assert 0 < np.nanmin(acc) and np.nanmax(acc) <= 100


def test_nb101_sample_table(ws) -> None:
    table = load_table("nb101", ws)
    assert table.num_rows == 500
    acc = table.column("cifar10", "val_acc")
    assert np.isfinite(acc).all() and 50 < acc.mean() < 100


def test_a_space_without_data_has_no_rows_and_says_how_to_get_them() -> None:
    space = get_space("nb201")
    arch = space.sample(1, np.random.default_rng(0))[0]
    assert space.canonical(arch) == space.canonical(space.canonical(arch))  # everything else works without data
    with pytest.raises(NoDataError, match=r"Workspace\(paths\).space\('nb201'\)"):
        space.index(arch)


def test_tables_record_the_checksums_of_their_sources(nb201) -> None:
    assert nb201.sources
    assert all(len(h) == 64 for h in nb201.sources.values())
    assert any(name.startswith("nb201-nats-csv/") for name in nb201.sources)
