"""The diffusion generator: score network, decoding, training, sampling, guidance by score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgen.errors import NotFittedError
from archgen.generators import Guidance, get_generator
from archgen.generators.base import GeneratorInputError
from archgen.generators.diffusion.guidance import FitStopped
from archgen.generators.diffusion.sampling import sample
from archgen.generators.diffusion.score_net import GraphScoreNet
from archgen.generators.diffusion.sde import VESDE
from archgen.spaces import get_space

SMALL = {"epochs": 40, "steps": 30, "dim": 32, "depth": 2, "heads": 4, "batch_size": 64}


@pytest.fixture(scope="module")
def skewed():
    """A generator fitted on NB201 cells whose first edge is always nor_conv_3x3 and which hold no avg_pool."""
    sp = get_space("nb201")
    rng = np.random.default_rng(0)
    cells = {sp.sample(1, rng)[0] for _ in range(4000)}
    train = [a for a in cells if a.ops[0] == 3 and 4 not in a.ops][:200]
    return get_generator("diffusion", **SMALL).fit(train), train


def test_score_net_shapes_and_relations() -> None:
    net = GraphScoreNet(8, 7, dim=16, depth=1, heads=2, generator=torch.Generator().manual_seed(0))
    sp = get_space("nb201")
    adj, x = sp.to_dense_batch(sp.sample(3, np.random.default_rng(0)))
    out = net(x, adj, torch.zeros(3))
    assert out.shape == x.shape
    rel = GraphScoreNet.relations(adj)
    assert rel.shape == (3, 8, 8, 4) and torch.all(rel.sum(-1) == 1)  # exactly one relation per pair


def test_score_net_permutation_behaviour() -> None:
    """Attention sees the DAG only through relations, so without the position embedding the network is
    permutation-equivariant; NB201's node positions carry meaning (its DAG is fixed), which the embedding adds."""
    net = GraphScoreNet(8, 7, dim=16, depth=2, heads=2, generator=torch.Generator().manual_seed(0))
    sp = get_space("nb201")
    adj, x = sp.to_dense_batch(sp.sample(2, np.random.default_rng(1)))
    x = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))  # a noised state
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([0.1, -1.0])
    with torch.no_grad():
        moved = lambda: net(x[:, perm], adj[:, perm][:, :, perm], t)
        assert not torch.allclose(moved(), net(x, adj, t)[:, perm], atol=1e-4)  # positions matter
        net.pos.zero_()
        torch.testing.assert_close(moved(), net(x, adj, t)[:, perm], atol=1e-5, rtol=1e-4)


def test_training_lowers_the_loss_and_samples_follow_the_training_distribution(skewed) -> None:
    gen, _ = skewed
    assert gen.train_loss_[-1] < 0.6 * gen.train_loss_[0]
    out = gen.sample(200, rng=np.random.default_rng(3))
    first_conv = np.mean([a.ops[0] == 3 for a in out])
    pools = np.mean([4 in a.ops for a in out])
    # uniform sampling: first edge conv3x3 1/5 of the time, some avg_pool in 1 - (4/5)^6 = 74% of cells
    assert first_conv > 0.6 and pools < 0.3, (first_conv, pools)
    assert gen.last_stats_["drawn"] >= gen.last_stats_["valid"] >= 200


def test_seeded_sampling_is_reproducible(skewed) -> None:
    gen, _ = skewed
    assert gen.sample(20, rng=np.random.default_rng(9)) == gen.sample(20, rng=np.random.default_rng(9))


def test_an_ambiguous_row_is_invalid_not_repaired(skewed) -> None:
    gen, train = skewed
    sp = get_space("nb201")
    _, x = sp.to_dense(train[0])
    assert gen._decode(sp, x) == train[0]
    two = x.clone()
    two[1, 2:] = torch.tensor([0.9, 0.0, 0.8, 0.0, 0.0])  # two operations above 0.5 on one edge
    none = x.clone()
    none[2, 2:] = 0.2  # no operation above 0.5
    assert gen._decode(sp, two) is None and gen._decode(sp, none) is None


def test_sampler_holds_fixed_entries_and_every_method_runs() -> None:
    sde = VESDE()
    fixed = torch.zeros(4, 8, 7)
    fixed[:, 0, 0] = 1
    mask = torch.zeros(8, 7)
    mask[1:-1, 2:] = 1
    for method in ("pc", "euler", "ode"):
        out = sample(
            sde, lambda x, t: -x, fixed, mask, steps=5, generator=torch.Generator().manual_seed(0), method=method
        )
        assert torch.all(out[:, 0, 0] == 1) and torch.all(out[:, 7] == 0) and torch.isfinite(out).all()


def test_guidance_by_score_and_constraint(skewed) -> None:
    gen, _ = skewed
    skips = lambda archs: np.array([sum(o == 1 for o in a.ops) for a in archs], dtype=float)
    plain = gen.sample(30, rng=np.random.default_rng(1))
    guided = gen.sample(30, rng=np.random.default_rng(1), guidance=Guidance(score=skips, scale=1.0))
    assert skips(guided).mean() > skips(plain).mean() + 0.5
    no_conv1 = lambda archs: np.array([2 not in a.ops for a in archs])
    assert no_conv1(gen.sample(20, rng=np.random.default_rng(2), guidance=Guidance(constraint=no_conv1))).all()
    impatient = gen.request_copy()
    impatient.max_rounds = 2  # a constraint nothing meets: the rounds run out (50 of them take half a minute)
    with pytest.raises(GeneratorInputError, match="relax the constraint"):
        impatient.sample(
            5, rng=np.random.default_rng(2), guidance=Guidance(constraint=lambda a: np.zeros(len(a), bool))
        )


def test_bad_parameters_and_spaces() -> None:
    train = get_space("nb201").sample(20, np.random.default_rng(0))
    for bad in ({"sde": "subvp"}, {"method": "ddim"}, {"steps": 0}, {"dim": 30, "heads": 4}):
        with pytest.raises(GeneratorInputError):
            get_generator("diffusion", **bad).fit(train)


def test_gradient_guidance_through_the_noise_aware_surrogate_raises_its_target(skewed) -> None:
    """Labels = number of skip_connect edges; guidance by the surrogate's gradient alone (no reranking)."""
    gen, train = skewed
    skips = lambda archs: np.array([sum(o == 1 for o in a.ops) for a in archs], dtype=float)
    gen.fit_guidance(train, skips(train), epochs=60)
    plain = gen.sample(60, rng=np.random.default_rng(4))
    guided = gen.sample(60, rng=np.random.default_rng(4), guidance=Guidance(scale=5.0))
    assert skips(guided).mean() > skips(plain).mean() + 0.5, (skips(plain).mean(), skips(guided).mean())
    with pytest.raises(GeneratorInputError, match="at least 8"):
        gen.fit_guidance(train[:3], skips(train[:3]))
    with pytest.raises(GeneratorInputError, match="finite"):
        gen.fit_guidance(train[:10], np.full(10, np.nan))


def test_store_round_trip_gives_the_same_samples(skewed, tmp_path) -> None:
    from archgen.artifacts import ArtifactRecord, ArtifactStore

    gen, train = skewed
    store = ArtifactStore(tmp_path)
    rec = ArtifactRecord(
        "diff-a", "diffusion", "nb201", "", [], {}, 0, [str(a) for a in train[:5]], artifact_type="generator"
    )
    store.save(gen, rec)
    loaded, record = store.load("diff-a", artifact_type="generator")
    assert record.kind == "diffusion" and loaded.get_params() == gen.get_params()
    assert loaded.sample(15, rng=np.random.default_rng(6)) == gen.sample(15, rng=np.random.default_rng(6))
    with pytest.raises(Exception, match="cannot be saved"):
        store.save(
            get_generator("random").fit(train),
            ArtifactRecord("r", "random", "nb201", "", [], {}, 0, [], artifact_type="generator"),
        )


def test_a_surrogate_kept_outside_the_generator_predicts_the_same_when_installed_again(skewed) -> None:
    gen, train = skewed
    y = np.array([sum(o == 1 for o in a.ops) for a in train], dtype=float)
    fitted = gen.request_copy()
    fitted.fit_guidance(train[:40], y[:40], epochs=5, name="skips")
    weights, mu, sd = fitted.surrogate_weights("skips")
    other = gen.request_copy()
    other.set_surrogate("skips", weights, mu, sd)
    z, log_std = torch.randn(3, *fitted.fixed_.shape), torch.zeros(3)
    with torch.no_grad():
        a = fitted.surrogates_["skips"].predict(z, log_std)
        b = other.surrogates_["skips"].predict(z, log_std)
    assert torch.allclose(a, b)
    with pytest.raises(GeneratorInputError, match="does not fit"):
        other.set_surrogate("skips", {k: v[..., :1] for k, v in weights.items()}, mu, sd)
    with pytest.raises(NotFittedError):
        get_generator("diffusion", **SMALL).set_surrogate("skips", weights, mu, sd)


def test_a_prepared_generator_fits_the_surrogate_a_trained_one_fits(skewed) -> None:
    """A surrogate depends on the layout and widths only: fitted on a prepared (untrained) generator it has the
    trained one's weights, so it can be fitted while the generator trains."""
    gen, train = skewed
    y = np.array([sum(o == 1 for o in a.ops) for a in train], dtype=float)
    prepared = get_generator("diffusion", **SMALL).prepare(train)
    after = gen.request_copy().fit_guidance(train[:40], y[:40], epochs=3, seed=5, name="skips")
    beside = prepared.request_copy().fit_guidance(train[:40], y[:40], epochs=3, seed=5, name="skips")
    a, b = after.surrogate_weights("skips"), beside.surrogate_weights("skips")
    assert a[1:] == b[1:] and a[0].keys() == b[0].keys()
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k])
    with pytest.raises(NotFittedError):  # prepared is not trained: it does not sample
        prepared.sample(1, rng=np.random.default_rng(0))
    with pytest.raises(GeneratorInputError, match="at least one"):
        get_generator("diffusion", **SMALL).prepare([])


def test_a_surrogate_fit_stops_when_asked(skewed) -> None:
    gen, train = skewed
    y = np.arange(len(train), dtype=float)
    epochs: list[int] = []
    ask = lambda: epochs.append(1) or len(epochs) >= 2
    copy = gen.request_copy()
    with pytest.raises(FitStopped):
        copy.fit_guidance(train, y, epochs=50, should_stop=ask)
    assert len(epochs) == 2 and "objective" not in copy.surrogates_


def test_constraint_guidance_lowers_a_bounded_quantity_without_rejection(skewed) -> None:
    """A surrogate of a parameter-like cost (9 per 3x3 conv, 1 per 1x1 conv); a bound below its mean, no rejection."""
    gen, train = skewed
    cost = lambda archs: np.array([9.0 * sum(o == 3 for o in a.ops) + sum(o == 2 for o in a.ops) for a in archs])
    gen.fit_guidance(train, cost(train), epochs=60, name="params")
    plain = gen.sample(60, rng=np.random.default_rng(5))
    budget = float(np.percentile(cost(train), 25))
    bounded = gen.sample(
        60, rng=np.random.default_rng(5), guidance=Guidance(scale=0.0, bounds={"params": budget}, bound_scale=20.0)
    )
    assert cost(bounded).mean() < cost(plain).mean() - 3, (cost(plain).mean(), cost(bounded).mean(), budget)
    assert np.mean(cost(bounded) <= budget) > np.mean(cost(plain) <= budget) + 0.2
    assert abs(gen.guidance_mean(train[:50], name="params") - cost(train[:50])).mean() < 3
    with pytest.raises(NotFittedError, match="latency"):
        gen.sample(5, rng=np.random.default_rng(0), guidance=Guidance(bounds={"latency": 1.0}))
    with pytest.raises(GeneratorInputError, match="finite"):
        Guidance(bounds={"params": float("nan")})


@pytest.fixture(scope="module")
def nb101_skip():
    """A generator fitted on NB101 cells (adjacency and operations diffused) that all have the input->output edge."""
    sp = get_space("nb101")
    cells = list(dict.fromkeys(sp.sample(3000, np.random.default_rng(0))))
    train = [a for a in cells if (0, len(a.ops) - 1) in a.edges][:400]
    return get_generator("diffusion", **SMALL | {"epochs": 100}).fit(train), train, cells


def test_nb101_adjacency_is_diffused_and_learned(nb101_skip) -> None:
    gen, train, cells = nb101_skip
    sp = get_space("nb101")
    assert gen.layout_.diffuses_adjacency and gen.mask_.shape == (7, 5 + 7)
    adj, x = sp.to_dense(train[0])
    assert gen._decode(sp, gen.layout_.pack(x, adj)) == train[0]  # a training state reads back as itself
    out = gen.sample(100, rng=np.random.default_rng(2))
    assert all(sp.is_valid(a) for a in out)
    skip = lambda archs: np.mean([(0, len(a.ops) - 1) in a.edges for a in archs])
    assert skip(out) > skip(cells) + 0.25, (skip(out), skip(cells))  # the space has it in about half its cells
    assert gen.last_stats_["valid"] / gen.last_stats_["drawn"] > 0.3


def test_nb101_round_trip_and_guidance_move_edges(nb101_skip, tmp_path) -> None:
    from archgen.artifacts import ArtifactRecord, ArtifactStore

    gen, train, _ = nb101_skip
    edges = lambda archs: np.array([len(a.edges) for a in archs], dtype=float)
    gen.fit_guidance(train, edges(train), epochs=60)
    plain = gen.sample(60, rng=np.random.default_rng(4))
    fewer = gen.sample(60, rng=np.random.default_rng(4), guidance=Guidance(bounds={"objective": 3.0}, bound_scale=20.0))
    assert edges(fewer).mean() < edges(plain).mean() - 0.5, (edges(plain).mean(), edges(fewer).mean())
    store = ArtifactStore(tmp_path)
    store.save(gen, ArtifactRecord("d101", "diffusion", "nb101", "", [], {}, 0, [], artifact_type="generator"))
    loaded, _ = store.load("d101", artifact_type="generator")
    assert loaded.sample(10, rng=np.random.default_rng(6)) == gen.sample(10, rng=np.random.default_rng(6))


@pytest.fixture(scope="module")
def nbg_chain():
    """A generator fitted on NAS-Bench-Graph cells (canonical forms) whose nodes form a chain 0->1->2->3->4."""
    sp = get_space("nasbench_graph")
    rng = np.random.default_rng(0)
    cells = {sp.canonical(sp.make((0, 1, 2, 3), [int(o) for o in rng.integers(0, 8, size=4)])) for _ in range(600)}
    train = [a for a in cells if sp.links(a) == (0, 1, 2, 3)][:300]
    return get_generator("diffusion", **SMALL | {"epochs": 60}).fit(train), train


def test_nasbench_graph_models_inputs_and_ops_and_reads_canonical_forms(nbg_chain, tmp_path) -> None:
    from archgen.artifacts import ArtifactRecord, ArtifactStore

    gen, train = nbg_chain
    sp = get_space("nasbench_graph")
    assert gen.canonical_ and gen.layout_.diffuses_adjacency
    assert not (gen.adj_mask_ & sp.dense_derived()).any(), "output edges follow from the inputs: not modelled"
    adj, x = sp.to_dense(train[0])
    assert gen._decode(sp, gen.layout_.pack(x, adj * ~sp.dense_derived())) == train[0]
    out = gen.sample(40, rng=np.random.default_rng(2))
    assert all(sp.canonical(a) == a for a in out)
    # uniform links are a chain in 1 of 24 cells; no training cell has an input other than the previous node
    assert np.mean([sp.links(a) == (0, 1, 2, 3) for a in out]) > 0.6
    store = ArtifactStore(tmp_path)
    store.save(gen, ArtifactRecord("dnbg", "diffusion", "nasbench_graph", "", [], {}, 0, [], artifact_type="generator"))
    loaded, _ = store.load("dnbg", artifact_type="generator")
    assert loaded.canonical_ and loaded.sample(10, rng=np.random.default_rng(6)) == gen.sample(
        10, rng=np.random.default_rng(6)
    )


def test_validity_guidance_learns_from_the_samplers_own_invalid_samples(nb101_skip, tmp_path) -> None:
    """NB101's global rules (edges on paths, reachability) break some samples; the invalidity surrogate's
    gradient lowers that share, and every sample is still read by the space's rules (nothing repaired)."""
    from archgen.artifacts import ArtifactRecord, ArtifactStore
    from archgen.generators.diffusion.generator import VALIDITY

    gen, _, _ = nb101_skip
    sp = get_space("nb101")
    gen.fit_validity(1000, epochs=40)
    assert VALIDITY in gen.surrogates_ and 0.05 < gen.validity_probe_ < 0.95
    share = lambda use: np.mean(
        [a is not None for a in gen.generate(300, torch.Generator().manual_seed(8), use_validity=use)[0]]
    )
    without, with_ = share(False), share(True)
    assert with_ > without + 0.03, (without, with_)
    out = gen.sample(20, rng=np.random.default_rng(1))
    assert all(sp.is_valid(a) for a in out)
    store = ArtifactStore(tmp_path)
    store.save(gen, ArtifactRecord("dv", "diffusion", "nb101", "", [], {}, 0, [], artifact_type="generator"))
    loaded, _ = store.load("dv", artifact_type="generator")
    assert VALIDITY in loaded.surrogates_


def test_no_validity_surrogate_from_too_few_invalid_samples(skewed) -> None:
    from archgen.generators.diffusion.generator import MIN_INVALID, VALIDITY

    gen, _ = skewed
    gen.fit_validity(MIN_INVALID - 1, epochs=5)  # fewer samples than the invalid ones it needs
    assert VALIDITY not in gen.surrogates_ and 0 <= gen.validity_probe_ <= 1
    with pytest.raises(NotFittedError):
        get_generator("diffusion").fit_validity(10)
