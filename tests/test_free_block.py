"""The unlabelled block (``gs.Free`` / ``[schema] free = N``): declared, carried through the
partition, the model and checkpoints; every group term decodes a target with its own; width 0
is the paper's model to the bit; ``independence`` keeps the attributes out of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.errors import ConfigError, PartitionError, SchemaError
from groupsup.losses.base import Decode, Encode, StepContext
from groupsup.losses.terms import Cover, Cycle, Latent, Swap
from groupsup.losses.unlabelled import Independence
from groupsup.train.config import load_config
from groupsup.train.resolve import schema_of


class AB(gs.Schema):
    a = gs.Attribute(values=[0, 1, 2], latent=3)
    b = gs.Attribute(values=[0, 1], latent=2)


class ABStyle(AB):
    style = gs.Free(latent=4)


LABELS = np.array([[0, 0], [0, 1], [1, 0], [2, 1], [1, 1], [2, 0], [0, 0], [1, 1]])
BATCH = gs.GroupBatch(np.arange(8), groups=2, swap_pairs=[[0, 1], [0, 2], [4, 3]],
                      swap_attribute=[0, 1, 1], cover_target=[0, 4],
                      cover_providers=[[1, 2], [2, 3]], cycle_pairs=[[6, 3], [5, 7]],
                      cycle_attribute=[0, 1])
TERMS = ["recon", "swap", "cover", "cycle", "latent", "invariance"]
# Recorded with the commit before the unlabelled block existed (7495baa), float64, this very
# computation (golden() below): equal to the bit on the machine that recorded them; the
# tolerance only allows another CPU's summation order.
GOLDEN = {"recon": "0x1.5fc9492d7ba00p-2", "swap": "0x1.59e1ed923ce04p-2",
          "cover": "0x1.4529e9b430e88p-2", "cycle": "0x1.603763163b9f5p-2",
          "latent": "0x1.4a5b80866342ep-2", "invariance": "0x1.afc7f3b9b3a46p-1"}


def golden(schema: type[gs.Schema]) -> dict[str, float]:
    torch.manual_seed(0)
    model = gs.build_model("conv-small", schema, (3, 8, 8),
                               {"width": 4, "max_width": 8}).double()
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(8, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    torch.manual_seed(2)
    out = gs.build_recipe(TERMS, distance="l2").compute(model, images, BATCH, LABELS)
    return {k: float(v) for k, v in out.terms.items()}


# ---------------------------------------------------------------- declaration


def test_declared_in_a_schema_class_and_carried_by_the_partition():
    assert ABStyle.names == ("a", "b") and len(ABStyle) == 2  # labels stay the attributes'
    assert ABStyle.free is not None and ABStyle.free.name == "style"
    p = ABStyle.partition
    assert p.names == ("a", "b", "style") and p.free == "style" and p.labelled == ("a", "b")
    assert p.size == ABStyle.latent_size == 9
    assert repr(ABStyle) == "<schema ABStyle: a[3]:3, b[2]:2, style[unlabelled]:4>"
    assert "style=4 unlabelled" in repr(p)
    assert AB.free is None and AB.partition.free is None and "free" not in AB.to_dict()


def test_json_round_trip_latent_override_and_removal():
    again = gs.Schema.from_json(ABStyle.to_json())
    assert again.same_as(ABStyle) and again.partition == ABStyle.partition
    assert not AB.same_as(ABStyle)
    wider = ABStyle.with_latent(style=6, a=5)
    assert dict(wider.partition) == {"a": 5, "b": 2, "style": 6}
    assert ABStyle.with_free(0).partition == AB.partition
    assert AB.with_free(2, name="pose").partition.free == "pose"


def test_declaration_errors_name_the_block():
    with pytest.raises(SchemaError, match="at most one"):
        class Two(gs.Schema):
            a = gs.Attribute(values=[0], latent=1)
            x = gs.Free(latent=1)
            y = gs.Free(latent=1)
    with pytest.raises(SchemaError, match="'a' names both"):
        AB.with_free(2, name="a")
    with pytest.raises(SchemaError, match="int >= 0"):
        AB.with_free(-1)
    with pytest.raises(PartitionError, match="must be the last"):
        gs.LatentPartition([("s", 2), ("a", 1)], free="s")


def test_config_free_width_and_its_errors():
    base = {"dataset": {"name": "folder"}}
    config = load_config({**base, "schema": {"free": 6, "free_name": "style"}})
    assert schema_of(config, AB).partition.free == "style"
    assert schema_of(load_config({**base, "schema": {"free": 0}}), ABStyle).free is None
    assert schema_of(load_config(base), ABStyle).free is not None  # unset: as declared
    with pytest.raises(ConfigError, match=r"schema\.free") as caught:
        load_config({**base, "schema": {"free": -1}})
    assert len(str(caught.value).strip().splitlines()) == 1
    with pytest.raises(ConfigError, match=r"schema\.free") as caught:
        schema_of(load_config({**base, "schema": {"free": 2, "free_name": "a"}}), AB)
    assert len(str(caught.value).strip().splitlines()) == 1


def test_a_backbone_that_cannot_take_it_is_refused_in_one_line():
    class Fixed(gs.Backbone):
        accepts_free = False

        def encode(self, x):
            return x.flatten(1)[:, :self.latent_size]

        def decode(self, z):
            return z

    with pytest.raises(ConfigError, match="cannot take an unlabelled block") as caught:
        gs.build_model(Fixed((3, 8, 8), 9), ABStyle, (3, 8, 8))
    assert len(str(caught.value).splitlines()) == 1
    gs.build_model(Fixed((3, 8, 8), 5), AB, (3, 8, 8))  # without one it builds


# ---------------------------------------------------------------- width 0: the paper's model


def test_width_zero_gives_the_recorded_loss_values():
    values = golden(AB)
    for name, recorded in GOLDEN.items():
        assert values[name] == pytest.approx(float.fromhex(recorded), rel=1e-12, abs=0), name


def test_free_zero_from_the_config_is_bit_identical_to_no_declaration():
    config = load_config({"dataset": {"name": "folder"}, "schema": {"free": 0}})
    assert golden(schema_of(config, ABStyle)) == golden(AB)


# ---------------------------------------------------------------- group terms


def step_with_free() -> StepContext:
    torch.manual_seed(0)
    model = gs.build_model("conv-small", ABStyle, (3, 8, 8), {"width": 4, "max_width": 8})
    z = torch.randn(8, ABStyle.partition.size)
    return StepContext(model, torch.zeros(8, 3, 8, 8), z, BATCH, LABELS)


def first_decode(term: gs.LossTerm, step: StepContext) -> torch.Tensor:
    request = next(term.run(step))
    assert isinstance(request, Decode)
    return request.tensor


def test_cover_takes_the_unlabelled_block_from_the_target():
    step = step_with_free()
    codes = first_decode(Cover(), step)
    z, p = step.z.numpy(), ABStyle.partition
    for k, (target, providers) in enumerate(zip([0, 4], [[1, 2], [2, 3]])):
        naive = np.concatenate([z[providers[0], p.slice("a")], z[providers[1], p.slice("b")],
                                z[target, p.slice("style")]])
        np.testing.assert_array_equal(codes[k].numpy(), naive)


def test_swap_keeps_each_rows_own_unlabelled_block():
    step = step_with_free()
    codes = first_decode(Swap(), step)
    style = ABStyle.partition.slice("style")
    rows = [0, 0, 4, 1, 2, 3]  # a-rows then b-rows of the swap pairs
    np.testing.assert_array_equal(codes[:, style].numpy(), step.z[rows][:, style].numpy())


def test_the_cycles_return_decode_takes_the_originals_unlabelled_block():
    step = step_with_free()
    run = Cycle().run(step)
    next(run)  # first decode: no ground truth
    fake = torch.randn(4, 3, 8, 8)
    run.send(fake)  # -> Encode request
    reencoded = torch.randn(4, ABStyle.partition.size)
    back = run.send(reencoded).tensor  # the return decode, compared with the originals
    p, rows = ABStyle.partition, [6, 5, 3, 7]
    np.testing.assert_array_equal(back[:, p.slice("style")].numpy(),
                                  step.z[rows][:, p.slice("style")].numpy())
    # the attributes' blocks are the re-encoded codes with block j swapped back
    a_back, b_back = p.swap(reencoded[:2], reencoded[2:], torch.tensor([0, 1]))
    np.testing.assert_array_equal(back[:, :5].numpy(), torch.cat([a_back, b_back])[:, :5].numpy())


@pytest.mark.parametrize("labelled_only", [False, True])
def test_latent_scaled_by_the_steps_variance_equals_a_naive_computation(labelled_only):
    step = step_with_free()
    term = Latent({"scale": "variance", "labelled_only": labelled_only})
    run = term.run(step)
    mixed = next(run).tensor  # the cycle pairs' new combinations
    next_request = run.send(torch.zeros(4, 3, 8, 8))
    assert isinstance(next_request, Encode)
    again = torch.randn(4, ABStyle.partition.size)
    with pytest.raises(StopIteration) as stop:
        run.send(again)
    z, keep = step.z.numpy(), list(range(ABStyle.partition.size))
    if labelled_only:  # the unlabelled block's columns left out
        style = ABStyle.partition.slice("style")
        keep = [c for c in keep if not style.start <= c < style.stop]
    variance = z.var(axis=0, ddof=1)
    naive = np.mean([(again.numpy()[i, c] - mixed.numpy()[i, c]) ** 2 / variance[c]
                     for i in range(4) for c in keep])
    assert float(stop.value.value) == pytest.approx(naive, rel=1e-5)
    # scale-free: codes ten times larger give the same value
    big = StepContext(step.model, step.images, step.z * 10, BATCH, LABELS)
    run = term.run(big)
    next(run)
    run.send(torch.zeros(4, 3, 8, 8))
    with pytest.raises(StopIteration) as stop_big:
        run.send(again * 10)
    assert float(stop_big.value.value) == pytest.approx(float(stop.value.value), rel=1e-5)


def test_assemble_asks_for_the_unlabelled_rows():
    z = torch.randn(4, 9)
    with pytest.raises(PartitionError, match="pass free="):
        ABStyle.partition.assemble(z, torch.tensor([[0, 1]]))
    with pytest.raises(PartitionError, match="no unlabelled block"):
        AB.partition.assemble(z[:, :5], torch.tensor([[0, 1]]), free=torch.tensor([2]))
    full = ABStyle.partition.assemble(z, torch.tensor([[0, 1, 3]]))
    assert torch.equal(full, ABStyle.partition.assemble(z, torch.tensor([[0, 1]]),
                                                        free=torch.tensor([3])))


# ---------------------------------------------------------------- independence


def naive_independence(free: np.ndarray, labels: np.ndarray) -> float:
    shares = []
    for j in range(labels.shape[1]):
        values = np.unique(labels[:, j])
        if len(values) < 2 or len(values) == len(labels):
            continue
        total = ((free - free.mean(0)) ** 2).sum(0)
        within = sum(((free[labels[:, j] == v] - free[labels[:, j] == v].mean(0)) ** 2).sum(0)
                     for v in values)
        shares.append(np.mean((total - within) / total))
    return float(np.mean(shares))


def independence(z: torch.Tensor, labels: np.ndarray = LABELS) -> float:
    step = step_with_free()
    return float(Independence().run(StepContext(step.model, step.images, z, BATCH, labels)))


def test_independence_matches_a_naive_computation_and_is_scale_free():
    z = torch.randn(8, 9, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = naive_independence(z[:, 5:].numpy(), LABELS)
    assert independence(z) == pytest.approx(expected, rel=1e-9)
    assert independence(z * 1e-3) == pytest.approx(expected, rel=1e-6)


def test_independence_is_zero_for_nothing_labelled_and_one_for_a_copied_attribute():
    z = torch.zeros(8, 9, dtype=torch.float64)
    assert independence(z) == 0.0  # an empty (constant) block carries no attribute
    z[:, 5] = torch.as_tensor(LABELS[:, 0], dtype=torch.float64)
    z[:, 6:] = torch.as_tensor(LABELS[:, [1]], dtype=torch.float64)
    assert independence(z) == pytest.approx(naive_independence(z[:, 5:].numpy(), LABELS))
    carrying = torch.as_tensor(np.repeat(LABELS[:, [0]], 4, axis=1), dtype=torch.float64)
    z[:, 5:] = carrying
    assert naive_independence(carrying.numpy(), LABELS[:, [0]]) == pytest.approx(1.0)
    unknown = LABELS.copy()
    unknown[:, 1] = -1  # b unknown everywhere: only a counts, which the block copies
    assert independence(z, unknown) == pytest.approx(1.0)


def test_independence_needs_an_unlabelled_block():
    torch.manual_seed(0)
    model = gs.build_model("conv-small", AB, (3, 8, 8), {"width": 4, "max_width": 8})
    step = StepContext(model, torch.zeros(8, 3, 8, 8), torch.randn(8, 5), BATCH, LABELS)
    with pytest.raises(ConfigError, match=r"schema\.free"):
        Independence().run(step)


def test_cover_free_mix_takes_other_images_unlabelled_blocks():
    from groupsup.losses.unlabelled import mixed_rows

    rows = torch.arange(6)
    assert torch.equal(mixed_rows(rows, 6, 0.0), rows)
    moved = mixed_rows(rows, 6, 1.0)
    assert not (moved == rows).any() and ((moved >= 0) & (moved < 6)).all()
    torch.manual_seed(5)
    first = mixed_rows(torch.zeros(100000, dtype=torch.long), 8, 0.25)
    torch.manual_seed(5)
    assert torch.equal(first, mixed_rows(torch.zeros(100000, dtype=torch.long), 8, 0.25))
    assert 0.24 < float((first != 0).float().mean()) < 0.26
    step = step_with_free()
    torch.manual_seed(0)
    codes = first_decode(Cover({"free_mix": 1.0}), step)
    style, z = ABStyle.partition.slice("style"), step.z
    for k, target in enumerate([0, 4]):
        assert not torch.equal(codes[k, style], z[target, style])  # another image's block
        assert any(torch.equal(codes[k, style], z[i, style]) for i in range(8))


def test_swap_free_mix_gives_decodes_another_images_unlabelled_block():
    step = step_with_free()
    torch.manual_seed(0)
    codes = first_decode(Swap({"free_mix": 1.0}), step)
    style, rows = ABStyle.partition.slice("style"), [0, 0, 4, 1, 2, 3]
    for k, row in enumerate(rows):
        assert not torch.equal(codes[k, style], step.z[row, style])
    plain = first_decode(Swap(), step)
    np.testing.assert_array_equal(codes[:, :5].numpy(), plain[:, :5].numpy())


def test_bottleneck_noises_only_the_unlabelled_block_in_training_and_prices_its_rate():
    from groupsup.losses.unlabelled import Bottleneck

    step = step_with_free()
    term = Bottleneck({"sigma": 0.5})
    z = step.z
    noisy = term.perturb(z, step.model.train())
    assert torch.equal(noisy[:, :5], z[:, :5]) and not torch.equal(noisy[:, 5:], z[:, 5:])
    assert torch.equal(term.perturb(z, step.model.eval()), z)
    context = StepContext(step.model, step.images, noisy, BATCH, LABELS, encoded=z)
    expected = float((z[:, 5:] ** 2).mean() / (2 * 0.25))
    assert float(term.run(context)) == pytest.approx(expected, rel=1e-6)
    torch.manual_seed(0)
    plain = gs.build_model("conv-small", AB, (3, 8, 8), {"width": 4, "max_width": 8})
    with pytest.raises(ConfigError, match="bottleneck"):
        term.perturb(torch.zeros(2, 5), plain)


def test_a_recipe_with_a_bottleneck_decodes_noisy_codes_and_regularises_the_clean_ones():
    torch.manual_seed(0)
    model = gs.build_model("conv-small", ABStyle, (3, 8, 8), {"width": 4, "max_width": 8})
    images = torch.rand(8, 3, 8, 8) * 2 - 1
    recipe = gs.build_recipe(["recon", "independence", {"term": "bottleneck", "weight": 0.1}])
    torch.manual_seed(1)
    first = recipe.compute(model.train(), images, BATCH, LABELS).terms
    torch.manual_seed(2)
    second = recipe.compute(model, images, BATCH, LABELS).terms
    assert first["recon"] != second["recon"]  # the noise differs
    assert first["independence"] == second["independence"]  # read on the clean codes
    assert first["bottleneck"] == second["bottleneck"]


def test_cover_detach_free_sends_no_gradient_into_the_targets_unlabelled_block():
    step = step_with_free()
    style = ABStyle.partition.slice("style")
    for detach, expected_zero in ((True, True), (False, False)):
        z = step.z.clone().requires_grad_(True)
        context = StepContext(step.model, step.images, z, BATCH, LABELS)
        codes = first_decode(Cover({"detach_free": detach}), context)
        codes.sum().backward()
        assert bool((z.grad[:, style] == 0).all()) is expected_zero
        assert bool((z.grad[:, :5] != 0).any())  # the providers' blocks still learn


def test_free_adversary_trains_its_classifiers_on_the_block_and_the_encoder_towards_uniform():
    import torch.nn.functional as F

    from groupsup.losses.unlabelled import FreeAdversary

    step = step_with_free()
    term = FreeAdversary({"hidden": 0})
    heads = term.build(step.model)
    z = step.z.clone().requires_grad_(True)
    value = term.run(StepContext(step.model, step.images, z, BATCH, LABELS))
    value.backward()
    free, labels = z[:, 5:].detach(), torch.as_tensor(LABELS)
    for j, head in enumerate(heads):
        w = head.weight.detach().clone().requires_grad_(True)
        fit = F.cross_entropy(free @ w.T + head.bias.detach(), labels[:, j])
        (grad,) = torch.autograd.grad(fit / 2, w)  # the term averages the two attributes
        assert torch.allclose(head.weight.grad, grad, atol=1e-6)
    x = z.detach()[:, 5:].clone().requires_grad_(True)
    uniform = sum(-F.log_softmax(x @ h.weight.detach().T + h.bias.detach(), 1).mean()
                  for h in heads) / 2
    (expected,) = torch.autograd.grad(uniform, x)
    assert torch.allclose(z.grad[:, 5:], expected, atol=1e-6)
    assert bool((z.grad[:, :5] == 0).all())


def test_with_block_replaces_exactly_the_named_columns():
    p, z = ABStyle.partition, torch.randn(3, 9)
    for name in p.names:
        new = torch.full((3, p.sizes[p.index(name)]), 7.0)
        out = p.with_block(z, name, new)
        assert torch.equal(out[:, p.slice(name)], new)
        keep = ~p.mask(name)
        assert torch.equal(out[:, keep], z[:, keep])
