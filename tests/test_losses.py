"""Loss terms: the batched recipe equals naive per-image computations (values and gradients);
recipes validate their terms, options and needs; one network call per round."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.plugins import reset_host

SIZES = {"a": 2, "b": 3, "c": 4}


class ABC(gs.Schema):
    a = gs.Attribute(values=[0, 1], latent=SIZES["a"])
    b = gs.Attribute(values=[0, 1], latent=SIZES["b"])
    c = gs.Attribute(values=[0, 1], latent=SIZES["c"])


def block(j: int) -> slice:
    """Columns of block j, computed independently of LatentPartition."""
    widths = list(SIZES.values())
    start = sum(widths[:j])
    return slice(start, start + widths[j])


BATCH = gs.GroupBatch(
    examples=np.arange(7),
    swap_pairs=np.array([[0, 1], [0, 2], [0, 3], [4, 5]]),
    swap_attribute=np.array([0, 1, 2, 1]),
    cover_target=np.array([0, 4]),
    cover_providers=np.array([[1, 2, 3], [5, 6, 5]]),
    cycle_pairs=np.array([[1, 6], [2, 5]]),
    cycle_attribute=np.array([2, 0]),
    groups=2,
)


def make_model(output: str = "tanh", seed: int = 0) -> gs.SwapAutoencoder:
    torch.manual_seed(seed)
    model = gs.build_model("conv-small", ABC, (3, 16, 16),
                               {"width": 4, "max_width": 8, "output": output})
    return model.double()


def images(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(7, 3, 16, 16, generator=g, dtype=torch.float64) * 2 - 1


# ---------------------------------------------------------------- naive reference
def naive_distance(name: str, raw: torch.Tensor, target: torch.Tensor, logits: bool):
    if name == "bce":
        t = (target + 1) / 2
        return (raw.clamp(min=0) - raw * t + torch.log1p(torch.exp(-raw.abs()))).mean()
    image = torch.sigmoid(raw) * 2 - 1 if logits else raw
    diff = image - target
    return diff.abs().mean() if name == "l1" else (diff * diff).mean()


def enc(model, x):
    return model.backbone.encode(x[None])[0]


def dec(model, z):
    return model.backbone.decode(z[None])[0]


def with_block(z, source, j):
    out = z.clone()
    out[block(j)] = source[block(j)]
    return out


def naive_term(term: str, model, x, distance: str) -> torch.Tensor:
    logits = model.output == "logits"

    def d(raw, target):
        return naive_distance(distance, raw, target, logits)

    def image(raw):
        return torch.sigmoid(raw) * 2 - 1 if logits else raw

    parts = []
    if term == "recon":
        parts = [d(dec(model, enc(model, x[i])), x[i]) for i in range(len(x))]
    elif term == "swap":
        for (a, b), j in zip(BATCH.swap_pairs, BATCH.swap_attribute):
            za, zb = enc(model, x[a]), enc(model, x[b])
            parts += [d(dec(model, with_block(za, zb, j)), x[a]),
                      d(dec(model, with_block(zb, za, j)), x[b])]
    elif term == "cover":
        for t, providers in zip(BATCH.cover_target, BATCH.cover_providers):
            code = torch.cat([enc(model, x[p])[block(j)] for j, p in enumerate(providers)])
            parts.append(d(dec(model, code), x[t]))
    elif term in ("cycle", "latent"):
        for (a, b), j in zip(BATCH.cycle_pairs, BATCH.cycle_attribute):
            za, zb = enc(model, x[a]), enc(model, x[b])
            mixed_a, mixed_b = with_block(za, zb, j), with_block(zb, za, j)
            ra = enc(model, image(dec(model, mixed_a)))
            rb = enc(model, image(dec(model, mixed_b)))
            if term == "cycle":
                parts += [d(dec(model, with_block(ra, rb, j)), x[a]),
                          d(dec(model, with_block(rb, ra, j)), x[b])]
            else:
                for r, m in ((ra, mixed_a), (rb, mixed_b)):
                    diff = r - m.detach()
                    parts.append(diff.abs().mean() if distance == "l1" else (diff**2).mean())
    return torch.stack(parts).mean()


CASES = [(t, d) for t in ("recon", "swap", "cover", "cycle", "latent")
         for d in ("l1", "l2", "bce") if not (t == "latent" and d == "bce")]


@pytest.mark.parametrize(("term", "distance"), CASES)
def test_batched_term_equals_naive_value_and_gradient(term, distance):
    model = make_model("logits" if distance == "bce" else "tanh")
    x = images()
    params = [p for p in model.parameters()]
    recipe = gs.build_recipe([{"term": term, "distance": distance, "weight": 2.0}])
    out = recipe.compute(model, x, BATCH)
    expected = naive_term(term, model, x, distance)
    assert torch.allclose(out.terms[term], expected.detach(), rtol=1e-9, atol=1e-12)
    assert torch.allclose(out.total, 2 * expected, rtol=1e-9, atol=1e-12)
    got = torch.autograd.grad(out.total, params, allow_unused=True)
    want = torch.autograd.grad(2 * expected, params, allow_unused=True)
    for p, g, w in zip(params, got, want):
        g = torch.zeros_like(p) if g is None else g
        w = torch.zeros_like(p) if w is None else w
        assert torch.allclose(g, w, rtol=1e-7, atol=1e-10)


def test_l1_and_l2_compare_sigmoid_images_for_logits_backbones():
    model = make_model("logits")
    x = images()
    out = gs.build_recipe(["recon"], distance="l2").compute(model, x, BATCH)
    assert torch.allclose(out.terms["recon"], naive_term("recon", model, x, "l2").detach())


def test_total_is_weighted_sum_and_terms_are_detached():
    model = make_model()
    recipe = gs.build_recipe(["recon", {"term": "swap", "weight": 0.5},
                            {"term": "cover", "weight": 3}, {"term": "cycle", "weight": 0}])
    out = recipe.compute(model, images(), BATCH)
    t = out.terms
    assert torch.allclose(out.total, t["recon"] + 0.5 * t["swap"] + 3 * t["cover"])
    assert out.total.requires_grad and not any(v.requires_grad for v in t.values())
    again = recipe.compute(model, images(), BATCH)
    assert torch.equal(again.total, out.total)  # no randomness inside terms


def test_one_network_call_per_round(monkeypatch):
    model = make_model()
    calls = {"encode": [], "decode": []}
    for name in calls:
        original = getattr(model.backbone, name)

        def counted(t, _name=name, _original=original):
            calls[_name].append(len(t))
            return _original(t)

        monkeypatch.setattr(model.backbone, name, counted)
    gs.build_recipe("gsl").compute(model, images(), BATCH)
    # one encode of the 7 images; one decode of 7 recon + 8 swap + 2 cover codes
    assert calls == {"encode": [7], "decode": [17]}
    calls["encode"].clear()
    calls["decode"].clear()
    gs.build_recipe(["recon", "swap", "cover", "cycle", "latent"]).compute(model, images(), BATCH)
    # round 1 decodes 17 + cycle 4 + latent 4; round 2 re-encodes cycle 4 + latent 4;
    # round 3 decodes the cycle's swapped-back codes
    assert calls == {"encode": [7, 8], "decode": [25, 4]}


# ---------------------------------------------------------------- recipes
def test_named_recipe_and_requirements():
    recipe = gs.build_recipe("gsl")
    assert [s.term for s in recipe.specs] == ["recon", "swap", "cover"]
    assert all(s.weight == 1 and s.distance == "l1" for s in recipe.specs)
    assert recipe.requires == {"swap", "cover"}
    recipe.check({"swap", "cover", "cycle"})
    with pytest.raises(gs.ConfigError, match=r"'cover' needs \['cover'\].*provides only"):
        recipe.check({"swap"})
    assert gs.build_recipe("gsl").to_list() == recipe.to_list()
    assert gs.build_recipe(recipe) is recipe


@pytest.mark.parametrize(("specs", "kwargs", "message"), [
    (["recno"], {}, r"no loss named 'recno' \(did you mean 'recon'\?\)"),
    ([{"term": "latent", "options": {"detach": True}}], {},
     r"'latent': unknown option 'detach' \(did you mean 'detach_target'\?\)"),
    ([{"term": "swap", "wieght": 2}], {}, r"loss 'swap': unknown key 'wieght'"),
    ([{"term": "swap", "distance": "l3"}], {}, r"loss 'swap': key 'distance' = 'l3'"),
    (["swap", "swap"], {}, r"'swap' appears twice"),
    (["recon"], {"distance": "huber"}, r"distance 'huber' is not one of"),
    ([{"term": "latent", "distance": "bce"}], {}, r"compares latent codes"),
    ([], {}, r"non-empty list"),
])
def test_recipe_errors_name_the_fault(specs, kwargs, message):
    with pytest.raises(gs.GroupsupError, match=message):
        gs.build_recipe(specs, **kwargs)


def test_latent_ignores_the_recipe_default_distance():
    recipe = gs.build_recipe(["recon", "latent"], distance="bce")
    assert [s.distance for s in recipe.specs] == ["bce", "l1"]


def test_bce_needs_a_logits_backbone():
    with pytest.raises(gs.ConfigError, match="'bce' needs a backbone whose output is 'logits'"):
        gs.build_recipe(["recon"], distance="bce").compute(make_model(), images(), BATCH)


def test_missing_batch_part_is_an_error():
    batch = gs.GroupBatch(examples=np.arange(7))
    with pytest.raises(gs.ConfigError,
                       match=r"'swap' needs the relation 'swap' in the GroupBatch, which holds"):
        gs.build_recipe(["recon", "swap"]).compute(make_model(), images(), batch)
    with pytest.raises(gs.ConfigError, match="M = 7"):
        gs.build_recipe(["recon"]).compute(make_model(), images()[:3], batch)


# ---------------------------------------------------------------- user terms
PLUGIN = '''
import groupsup as gs


class Brightness(gs.LossTerm):
    """Mean brightness of each reconstruction matches its image."""

    name = "brightness"

    def run(self, step):
        raw = yield gs.Decode(step.z)
        again = yield gs.Encode(step.to_image(raw))
        raw2 = yield gs.Decode(again)
        return (step.to_image(raw2).mean((1, 2, 3)) - step.images.mean((1, 2, 3))).abs().mean()


@gs.hookimpl
def register_losses(register):
    register("brightness", Brightness)
'''


@pytest.fixture
def user_term(tmp_path, monkeypatch):
    path = tmp_path / "brightness_plugin.py"
    path.write_text(PLUGIN)
    monkeypatch.setenv("GROUPSUP_PLUGINS", str(path))
    reset_host()
    yield
    reset_host()


def test_user_term_from_a_local_plugin_runs_in_lock_step(user_term):
    model = make_model()
    recipe = gs.build_recipe(["recon", "brightness", "cycle"])
    out = recipe.compute(model, images(), BATCH)
    assert set(out.terms) == {"recon", "brightness", "cycle"}
    out.total.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_shift_tolerant_distance_forgives_moves_up_to_its_reach():
    from groupsup.losses.distances import image_distance, shift_tolerant_distance

    torch.manual_seed(0)
    target = torch.rand(3, 3, 12, 12) * 2 - 1
    padded = torch.nn.functional.pad(target, (2, 2, 2, 2), mode="replicate")
    moved = padded[:, :, 0:12, 1:13]                    # every image moved 2 down, 1 right
    for distance in ("l1", "l2"):
        plain = image_distance(distance, moved, target, "tanh")
        assert plain > 0.1
        assert shift_tolerant_distance(distance, moved, target, "tanh", 0) == plain
        assert shift_tolerant_distance(distance, moved, target, "tanh", 1) > 0
        assert shift_tolerant_distance(distance, moved, target, "tanh", 2) == 0
    # per image: the best shift of each image, then the mean
    mixed = torch.cat([moved[:1], target[1:]])
    assert shift_tolerant_distance("l2", mixed, target, "tanh", 2) == 0
    raw = moved.clone().requires_grad_(True)
    shift_tolerant_distance("l1", raw + 0.1, target, "tanh", 2).backward()
    assert raw.grad.abs().sum() > 0
    with pytest.raises(gs.ConfigError, match="shift tolerance"):
        shift_tolerant_distance("l1", moved, target, "tanh", -1)


def test_cover_term_takes_a_shift_tolerance_option():
    recipe = gs.build_recipe(["recon", {"term": "cover", "options": {"shift_tolerance": 2}}],
                           distance="l2")
    _, cover = recipe.terms
    assert cover.config.shift_tolerance == 2 and cover.distance == "l2"
    with pytest.raises(gs.ConfigError, match="shift_tolerance"):
        gs.build_recipe([{"term": "cover", "options": {"shift_tolerance": 9}}])
