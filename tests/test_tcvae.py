"""beta-TCVAE: the minibatch-weighted-sampling decomposition against a naive computation, the
term on the ``vae`` backbone, the exhaustive partition search and its NMI fallback, and a
short training evaluated end to end through the searched partition."""

import logging
import math

import numpy as np
import pytest
import torch
from groupsup_baselines import assign_dimensions, search_partition, tc_decomposition
from groupsup_baselines.search import PartitionSearch
from test_baselines import SMALL, _config, toy

import groupsup as gs
from groupsup.train import Trainer

torch.set_num_threads(1)


def naive_decomposition(z, mu, logvar, n):
    """MI, TC and dimension-wise KL by explicit loops over samples, posteriors and dims."""
    m, d = len(z), len(z[0])
    var = [[math.exp(v) for v in row] for row in logvar]

    def density(i, j, k):  # q(z_ik | x_j)
        return math.exp(-0.5 * (z[i][k] - mu[j][k]) ** 2 / var[j][k]) / math.sqrt(
            2 * math.pi * var[j][k])

    mi = tc = dwkl = 0.0
    for i in range(m):
        log_cond = sum(math.log(density(i, i, k)) for k in range(d))
        log_qz = math.log(sum(math.prod(density(i, j, k) for k in range(d))
                              for j in range(m)) / (n * m))
        log_marginals = sum(math.log(sum(density(i, j, k) for j in range(m)) / (n * m))
                            for k in range(d))
        log_prior = sum(-0.5 * z[i][k] ** 2 - 0.5 * math.log(2 * math.pi) for k in range(d))
        mi += (log_cond - log_qz) / m
        tc += (log_qz - log_marginals) / m
        dwkl += (log_marginals - log_prior) / m
    return mi, tc, dwkl


def test_mws_decomposition_matches_a_naive_computation():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    logvar = 0.5 * torch.randn(5, 3, generator=gen, dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * torch.randn(5, 3, generator=gen, dtype=torch.float64)
    parts = tc_decomposition(z, mu, logvar, dataset_size=100)
    expected = naive_decomposition(z.tolist(), mu.tolist(), logvar.tolist(), 100)
    got = (parts.mutual_information, parts.total_correlation, parts.dimension_wise_kl)
    for value, want in zip(got, expected):
        assert float(value) == pytest.approx(want, rel=1e-9, abs=1e-9)
    # the parts sum to the single-sample KL estimate whatever N is
    total = sum(float(v) for v in got)
    dropped = tc_decomposition(z, mu, logvar)
    assert sum(float(v) for v in (dropped.mutual_information, dropped.total_correlation,
                                  dropped.dimension_wise_kl)) == pytest.approx(total)


def test_tc_kl_term_weights_the_parts_per_pixel_value():
    data = toy()
    torch.manual_seed(0)
    net = gs.build_model("vae", data.schema, (3, 16, 16),
                             {"inner": "conv-small", "inner_options": SMALL})
    images = data.load(np.arange(8))
    recipe = gs.build_recipe([{"term": "tc-kl", "options": {"beta": 6.0, "dataset_size": 24}}])
    torch.manual_seed(1)
    out = recipe.compute(net, images, gs.GroupBatch(examples=np.arange(8)))
    torch.manual_seed(1)
    z = net.encode(images)
    mu, logvar = net.backbone.posterior(images)
    parts = tc_decomposition(z, mu, logvar, 24)
    expected = (parts.mutual_information + 6 * parts.total_correlation
                + parts.dimension_wise_kl) / (3 * 16 * 16)
    torch.testing.assert_close(out.terms["tc-kl"], expected.detach())
    with pytest.raises(gs.ConfigError, match="'vae' backbone"):
        recipe.compute(gs.build_model("conv-small", data.schema, (3, 16, 16), SMALL),
                       images, gs.GroupBatch(examples=np.arange(8)))


def planted_codes(planted, cards=(3, 5, 4, 2, 6), n=3000, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.stack([rng.integers(0, k, n) for k in cards], axis=1)
    codes = np.stack([rng.normal(size=cards[j])[labels[:, j]] * 3 + 0.3 * rng.normal(size=n)
                      for j in planted], axis=1)
    return codes, labels


def test_exhaustive_search_finds_the_planted_assignment():
    planted = np.array([1, 0, 2, 2, 0, 1, 3, 4, 4, 3])  # Z = 10 to 5 attributes
    codes, labels = planted_codes(planted)
    found = assign_dimensions(codes, labels, list("abcde"), method="exhaustive", max_block=3)
    np.testing.assert_array_equal(found.assignment, planted)
    assert found.config["method"] == "exhaustive" and found.config["max_block"] == 3
    assert found.partition.to_dict() == {"a": 2, "b": 2, "c": 2, "d": 2, "e": 2}


def test_exhaustive_search_is_exact_where_greedy_choices_conflict():
    # dimension 2 tells attribute 'a' a little, 'b' not at all; dimension 0 tells 'a' much
    # more: each attribute must get one of three dimensions, so the best total gives 'b' its
    # only informative dimension (1) and 'c' the one left, whatever the per-dim ranking
    from groupsup_baselines import best_assignment

    subsets = [(0,), (1,), (2,)]
    scores = np.array([[0.9, 0.8, 0.0], [0.2, 0.7, 0.0], [0.3, 0.0, 0.1]])
    assignment, total = best_assignment(scores, subsets, 3)
    brute = max((scores[p[0], 0] + scores[p[1], 1] + scores[p[2], 2], p)
                for p in __import__("itertools").permutations(range(3)))
    assert total == pytest.approx(brute[0])
    np.testing.assert_array_equal(np.argsort(assignment), brute[1])


def test_exhaustive_search_falls_back_to_nmi_when_the_space_is_too_large(caplog):
    codes, labels = planted_codes(np.arange(5).repeat(4))       # Z = 20
    with caplog.at_level(logging.WARNING, logger="groupsup_baselines.search"):
        found = assign_dimensions(codes, labels, list("abcde"), method="exhaustive",
                                  max_work=10_000)
    assert "falling back to the NMI assignment" in caplog.text and "max_work" in caplog.text
    assert found.config["method"] == "nmi" and found.config["requested"] == "exhaustive"
    assert "max_work" in found.config["fallback"]
    np.testing.assert_array_equal(found.assignment, np.arange(5).repeat(4))
    with caplog.at_level(logging.WARNING, logger="groupsup_baselines.search"):
        capped = assign_dimensions(codes[:, :11], labels, list("abcde"), method="exhaustive",
                                   max_block=2)
    assert "cannot cover 11 dimensions" in capped.config["fallback"]
    with pytest.raises(gs.ConfigError, match="search method"):
        assign_dimensions(codes, labels, list("abcde"), method="greedy")


def test_the_backbone_option_chooses_the_search(tmp_path):
    data = toy()
    net = gs.build_model("vae", data.schema, (3, 16, 16),
                             {"inner": "conv-small", "inner_options": SMALL,
                              "search": "exhaustive"})
    found = search_partition(net, data, examples=24)
    assert found.config["method"] == "exhaustive" and sum(found.partition.sizes) == 12
    assert max(found.partition.sizes) <= 4
    net.save(tmp_path / "m")
    again = gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())
    assert again.backbone.config.search == "exhaustive"
    assert search_partition(net, data, examples=24, method="nmi").config["method"] == "nmi"


def test_beta_tcvae_trains_and_evaluates_through_the_exhaustive_search(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    config = _config(tmp_path, store, "beta-tcvae", "vae", steps=3)
    config = gs.load_config(config.to_dict(), ["schema.latent={shape=2,color=2,position=2}",
                                               "model.options.search=exhaustive"])
    result = Trainer(config).fit()
    assert result.step == 3 and np.isfinite(result.last["tc-kl"])
    options = gs.EvalOptions(max_examples=8, classifier_steps=5, leakage_examples=8,
                             coprediction_examples=24)
    metrics = gs.evaluate_run(result.run_dir, options=options, progress=False, report=False,
                              adapt=PartitionSearch(examples=24, out=tmp_path / "search.json"),
                              dataset=toy_dataset)
    assert metrics["evaluation"]["partition"] and np.isfinite(metrics["synthesis"]["psnr"])
    assert '"method": "exhaustive"' in (tmp_path / "search.json").read_text()
