"""Zero-cost proxies on tiny real networks, checked against hand-derivable properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.errors import UnknownNameError, UnsupportedSpaceError
from archgen.predictors import zerocost
from archgen.predictors.zerocost import LAYER_STATS, PROXIES, ZCSettings, compute_proxies, score_archs
from archgen.rng import torch_generator
from archgen.spaces import get_space

TINY = ZCSettings(batch_size=8, C=4, N=1, seed=0)
CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def space(ws):
    return ws.space("nb201")


@pytest.fixture(scope="module")
def batch(ws) -> tuple[torch.Tensor, torch.Tensor]:
    return zerocost._minibatch("cifar10", TINY, ws)


def tiny_net(space, arch: str = CELL, seed: int = 0) -> torch.nn.Module:
    return space.build_network(space.parse(arch), 10, C=TINY.C, N=TINY.N, generator=torch_generator(seed))


def test_all_proxies_finite_with_per_layer_stats(space, batch) -> None:
    x, y = batch
    scores, layers = compute_proxies(tiny_net(space), x, y)
    assert sorted(scores) == sorted(PROXIES)
    assert all(np.isfinite(v) for v in scores.values()), scores
    assert layers.shape[1] == len(LAYER_STATS) and np.isfinite(layers).all()
    # summed proxies are the sums of their per-layer statistics
    for s in ("snip", "grad_norm", "synflow", "l2_norm"):
        assert scores[s] == pytest.approx(layers[:, LAYER_STATS.index(s)].sum(), rel=1e-9)


def test_params_equals_the_parameter_count(space, batch) -> None:
    x, y = batch
    net = tiny_net(space)
    count = sum(p.numel() for p in net.parameters())
    scores, _ = compute_proxies(net, x, y, ["params"])
    assert scores["params"] == pytest.approx(count / 1e6)


def test_params_and_flops_match_the_published_table(space) -> None:
    """Full-size networks (C=16, N=5): NB201 publishes params (M) and FLOPs (M) for every cell.

    Params match exactly. archgen's FLOPs count the multiply-accumulates of
    convolutions and linear layers only; the published counter also counts
    pooling and batch-norm operations (2-3.5 M more whatever the cell), so the
    test asks for the same order of the cells and a gap in that range.
    """
    from scipy.stats import spearmanr

    table = space.data.table("nb201")
    rows = [3971, 0, 5000, 9999, 15624]  # cells with published FLOPs
    ours, published = [], []
    for row in rows:
        net = space.build_network(space.from_index(row), 10, generator=torch_generator(0))
        scores, _ = compute_proxies(
            net, torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long), ["params", "flops"]
        )
        assert scores["params"] == pytest.approx(table.lookup("cifar10", "params", [row])[0], abs=1e-4)
        ours.append(scores["flops"])
        published.append(table.lookup("cifar10", "flops", [row])[0])
    ours, published = np.array(ours), np.array(published)
    assert spearmanr(ours, published).statistic == pytest.approx(1.0)
    assert np.all((published - ours > 1.5) & (published - ours < 3.5))


def test_synflow_ignores_the_input_batch(space, batch) -> None:
    x, y = batch
    a, _ = compute_proxies(tiny_net(space), x, y, ["synflow"])
    b, _ = compute_proxies(tiny_net(space), torch.randn_like(x) * 5, y.flip(0), ["synflow"])
    assert a["synflow"] == pytest.approx(b["synflow"], rel=1e-9)


def test_synflow_is_zero_for_a_disconnected_cell(space, batch) -> None:
    x, y = batch
    cut = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"
    scores, _ = compute_proxies(tiny_net(space, cut), x, y, ["synflow", "snip"])
    # every cell outputs zero: no path from input to output through the cells' convolutions
    assert np.isfinite(scores["snip"])
    assert scores["synflow"] < compute_proxies(tiny_net(space), x, y, ["synflow"])[0]["synflow"]


def test_scores_are_deterministic_for_a_seed(space, batch) -> None:
    x, y = batch
    a, _ = compute_proxies(tiny_net(space), x, y)
    b, _ = compute_proxies(tiny_net(space), x, y)
    for p in PROXIES:
        if p != "plain":  # a sum of signed terms that cancel: float noise decides its value
            assert a[p] == pytest.approx(b[p], rel=1e-6), p


def test_shared_passes_agree_with_separate_runs(space, batch) -> None:
    x, y = batch
    together, _ = compute_proxies(tiny_net(space), x, y)
    for p in ("snip", "grad_norm", "fisher", "grasp", "jacov", "nwot", "synflow", "zen"):
        alone, _ = compute_proxies(tiny_net(space), x, y, [p])
        assert alone[p] == pytest.approx(together[p], rel=1e-4, abs=1e-6), p


def test_score_archs_caches_on_disk(ws, space, tmp_path, monkeypatch) -> None:
    archs = [space.parse(CELL), space.from_index(5)]
    first = score_archs(archs, "cifar10", ["snip", "nwot"], TINY, data=ws, score_cache=tmp_path)
    files = list((tmp_path / "zerocost").glob("*.jsonl"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) == 2
    zerocost._CACHES.clear()  # a new process reads the file

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("recomputed a cached score")

    monkeypatch.setattr(zerocost, "compute_proxies", boom)
    again = score_archs(archs, "cifar10", ["snip", "nwot"], TINY, data=ws, score_cache=tmp_path)
    for p in ("snip", "nwot"):
        np.testing.assert_array_equal(first[p], again[p])


def test_concurrent_requests_for_one_cell_compute_it_once(ws, space, tmp_path, monkeypatch) -> None:
    import threading
    import time

    real, calls = zerocost.compute_proxies, []

    def slow(*a: object, **k: object):
        calls.append(1)
        time.sleep(0.3)  # both requests are inside score_archs while the first computes
        return real(*a, **k)

    monkeypatch.setattr(zerocost, "compute_proxies", slow)
    archs = [space.from_index(77)]
    out: list[dict] = []
    threads = [
        threading.Thread(
            target=lambda: out.append(score_archs(archs, "cifar10", ["snip"], TINY, data=ws, score_cache=tmp_path))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(calls) == 1 and len(out) == 2
    np.testing.assert_array_equal(out[0]["snip"], out[1]["snip"])


def test_isomorphic_cells_share_one_computation(ws, space, tmp_path) -> None:
    a = space.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
    b = space.parse("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|")
    s = score_archs([a, b], "cifar10", ["snip"], TINY, data=ws, score_cache=tmp_path)
    assert s["snip"][0] == s["snip"][1]
    assert len(next((tmp_path / "zerocost").glob("*.jsonl")).read_text().splitlines()) == 1


def test_a_torn_cache_line_is_skipped(ws, space, tmp_path) -> None:
    archs = [space.parse(CELL)]
    score_archs(archs, "cifar10", ["snip"], TINY, data=ws, score_cache=tmp_path)
    path = next((tmp_path / "zerocost").glob("*.jsonl"))
    with path.open("a") as f:
        f.write('{"arch": "|nor_conv_3x3~0|+|no')  # a crash mid-write
    zerocost._CACHES.clear()
    assert np.isfinite(score_archs(archs, "cifar10", ["snip"], TINY, data=ws, score_cache=tmp_path)["snip"]).all()


def test_bad_input_is_typed(ws, space) -> None:
    with pytest.raises(UnknownNameError, match="synflow"):
        score_archs([space.parse(CELL)], "cifar10", ["synflo"], TINY, data=ws)
    with pytest.raises(UnknownNameError, match="cifar10"):
        score_archs([space.parse(CELL)], "ImageNet16-120", ["snip"], TINY, data=ws)
    nb101 = get_space("nb101")
    with pytest.raises(UnsupportedSpaceError):
        score_archs(nb101.sample(1, np.random.default_rng(0)), "cifar10", ["snip"], TINY, data=ws)


def test_jacov_of_a_dead_input_warns_nothing() -> None:
    """A constant row (an input the network ignores) has no correlation: NaN read as 0, without numpy's warning
    (which every scoring of an unscored task printed)."""
    import warnings

    from archgen.predictors.zerocost import _jacov

    jac = np.random.default_rng(0).normal(size=(4, 10))
    jac[2] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(_jacov(jac))
