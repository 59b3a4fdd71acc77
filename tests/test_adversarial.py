"""StarGAN and ELEGANT: the discriminator step owned by a loss term (each player gets the
gradient of its own loss only), StarGAN's label conditioning and its evaluation through the
true labels, ELEGANT's exchange and residual decoding, and both trained and compared end to
end on the toy data."""

import json

import numpy as np
import pytest
import torch
from groupsup_baselines.adversarial import Discriminator, frozen
from groupsup_baselines.elegant import Elegant, exchange, exchanged_attribute
from groupsup_baselines.stargan import StarGAN, TrueLabels
from test_compare import write_config
from test_report import tiny_config

import groupsup as gs
from groupsup.cli import main
from groupsup.train import Trainer

torch.set_num_threads(1)
PIXELS = 3 * 16 * 16
STARGAN_SCHEMA = {"latent": {"shape": 2, "color": 3, "position": 2}, "free": PIXELS,
                  "free_name": "source"}
ELEGANT_SCHEMA = {"latent": {"shape": 4, "color": 4, "position": 4}, "free": 12 + PIXELS,
                  "free_name": "source"}
ELEGANT_OPTIONS = {"inner": "conv-small", "inner_options": {"width": 8, "max_width": 16}}


def with_schema(config, layout):
    data = config.to_dict()
    data["schema"] = layout
    return gs.load_config(data)


def stargan_config(tmp_path, store, name="stargan"):
    return with_schema(tiny_config(tmp_path, store, name, model__backbone="stargan",
                                   model__options={"width": 8, "blocks": 1},
                                   loss__recipe="stargan"), STARGAN_SCHEMA)


def elegant_config(tmp_path, store, name="elegant"):
    return with_schema(tiny_config(tmp_path, store, name, model__backbone="elegant",
                                   model__options=ELEGANT_OPTIONS, loss__recipe="elegant"),
                       ELEGANT_SCHEMA)


def schema_of(data, layout):
    return data.schema.with_latent(**layout["latent"]).with_free(layout["free"],
                                                               layout["free_name"])


def test_frozen_passes_gradients_to_the_inputs_only():
    critic = Discriminator((3, 16, 16), width=4, classes=(2,))
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    logits, classes = frozen(critic, x)
    (logits.sum() + classes[0].sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())


def test_each_player_gets_the_gradient_of_its_own_loss(toy_dataset):
    torch.manual_seed(0)
    schema = schema_of(toy_dataset, STARGAN_SCHEMA)
    model = gs.build_model("stargan", schema, (3, 16, 16), {"width": 4, "blocks": 0})
    recipe = gs.build_recipe([{"term": "stargan", "options": {"width": 4}}])
    critic = recipe.build(model)["stargan"]
    images, labels = toy_dataset.load(np.arange(6)), toy_dataset.labels[:6]
    batch = gs.GroupBatch(examples=np.arange(6))
    torch.manual_seed(1)
    recipe.compute(model, images, batch, labels).total.backward()
    critic_grad = [p.grad.clone() for p in critic.parameters()]
    generator_grad = [p.grad.clone() for p in model.parameters()]
    # the discriminator's own loss alone, on the same draw of target labels
    for p in [*critic.parameters(), *model.parameters()]:
        p.grad = None
    torch.manual_seed(1)
    term = recipe.terms[0]
    target = torch.as_tensor(labels)[torch.randperm(6)]
    from groupsup_baselines.adversarial import discriminator_loss, one_hot_labels
    with torch.no_grad():
        fake = model.decode(torch.cat([one_hot_labels(target, term.widths),
                                       images.flatten(1)], dim=1))
    real_logits, real_classes = critic(images)
    fake_logits, _ = critic(fake)
    d_loss = discriminator_loss(real_logits, fake_logits) + term.classification(
        real_classes, torch.as_tensor(labels))
    d_loss.backward()
    for a, b in zip(critic_grad, critic.parameters()):
        torch.testing.assert_close(a, b.grad)
    assert all(g.abs().sum() > 0 for g in generator_grad[:1])


def test_stargan_generator_conditions_on_the_target_labels(toy_dataset):
    torch.manual_seed(0)
    net = StarGAN((3, 16, 16), 7 + PIXELS, {"width": 8, "blocks": 1}).eval()
    x = toy_dataset.load(np.arange(2))
    one = torch.tensor([[1, 0, 1, 0, 0, 1, 0]] * 2, dtype=torch.float32)
    other = torch.tensor([[0, 1, 0, 0, 1, 1, 0]] * 2, dtype=torch.float32)
    with torch.no_grad():
        a, b = net.translate(x, one), net.translate(x, other)
        assert not torch.allclose(a, b, atol=1e-4)
        torch.testing.assert_close(net.decode(torch.cat([one, x.flatten(1)], 1)), a)
    code = net.encode(x)
    assert torch.equal(code[:, :7], torch.zeros(2, 7)) and torch.equal(code[:, 7:], x.flatten(1))
    with pytest.raises(gs.ConfigError, match=r"schema\.free"):
        StarGAN((3, 16, 16), PIXELS)


def test_stargan_needs_one_hot_blocks_of_the_cardinalities(toy_dataset):
    wrong = toy_dataset.schema.with_latent(shape=2, color=2, position=2).with_free(PIXELS,
                                                                                   "source")
    model = gs.build_model("stargan", wrong, (3, 16, 16), {"width": 4, "blocks": 0})
    with pytest.raises(gs.ConfigError, match="at least its cardinality"):
        gs.build_recipe(["stargan"]).build(model)
    # wider blocks are zero-padded one-hot vectors (a config sized for a larger dataset)
    wide = toy_dataset.schema.with_latent(shape=3, color=4, position=2).with_free(PIXELS,
                                                                                  "source")
    model = gs.build_model("stargan", wide, (3, 16, 16), {"width": 4, "blocks": 0})
    recipe = gs.build_recipe(["stargan"])
    assert recipe.build(model)["stargan"].classifiers[1].out_features == 3
    view = TrueLabels()(model, toy_dataset, np.arange(len(toy_dataset)))
    with torch.no_grad():
        code = view.encode(toy_dataset.load(np.arange(3)))
    assert torch.equal(code[:, :9].sum(1), torch.full((3,), 3.0))
    assert torch.equal(code[:, 2], torch.zeros(3))        # shape's padding slot


def test_true_labels_give_the_label_blocks_the_examples_labels(toy_dataset):
    torch.manual_seed(0)
    schema = schema_of(toy_dataset, STARGAN_SCHEMA)
    model = gs.build_model("stargan", schema, (3, 16, 16), {"width": 4, "blocks": 0})
    train = np.arange(0, len(toy_dataset), 2)
    view = TrueLabels()(model, toy_dataset, train)
    with torch.no_grad():
        code = view.encode(toy_dataset.load(train[:5]))
    blocks = view.partition.split(code)
    for j, name in enumerate(toy_dataset.schema.names):
        np.testing.assert_array_equal(blocks[name].argmax(1).numpy(),
                                      toy_dataset.labels[train[:5], j])
        assert torch.equal(blocks[name].sum(1), torch.ones(5))
    with pytest.raises(gs.DataError, match="training split"):
        view.encode(toy_dataset.load(np.array([1])) * 0.5)


def test_elegant_exchange_swaps_exactly_the_chosen_attributes_block(toy_dataset):
    torch.manual_seed(0)
    schema = schema_of(toy_dataset, ELEGANT_SCHEMA)
    model = gs.build_model("elegant", schema, (3, 16, 16), ELEGANT_OPTIONS).eval()
    assert isinstance(model.backbone, Elegant)
    x = toy_dataset.load(np.arange(4))
    with torch.no_grad():
        z = model.encode(x)
    za, zb = z[:2], z[2:]
    c, d = exchange(model.partition, za, zb, torch.tensor([1, 2]))
    p = model.partition
    for row, chosen in enumerate(["color", "position"]):
        for name in p.names:
            span = p.slice(name)
            want = (zb if name == chosen else za)[row, span]
            torch.testing.assert_close(c[row, span], want)
            torch.testing.assert_close(d[row, span], (za if name == chosen else zb)[row, span])
    # the base travels with its own code: the image is the base plus a residual
    with torch.no_grad():
        out = model.decode(c)
        base = x[:2]
        residual = model.backbone.residual(c[:, :12], za[:, 12:24])
        torch.testing.assert_close(out, (base + residual).clamp(-1, 1))
    labels_a = torch.tensor([[0, 1, 0], [1, 1, 1]])
    assert exchanged_attribute(labels_a, torch.tensor([[0, 2, 0], [1, 1, 1]])).tolist() == [1, -1]


@pytest.mark.parametrize("make", [stargan_config, elegant_config])
def test_adversarial_baselines_train_a_few_steps(tmp_path, toy_dataset, make):
    store = toy_dataset.write_store(tmp_path / "store")
    trainer = Trainer(gs.load_config(make(tmp_path, store).to_dict(), ["train.steps=3"]))
    critic = [p.detach().clone() for p in trainer.state.terms.parameters()]
    result = trainer.fit()
    assert result.step == 3 and np.isfinite(result.last["loss"])
    assert all(not torch.equal(a, b) for a, b in zip(critic, trainer.state.terms.parameters()))


def test_compare_evaluates_stargan_and_elegant(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    star = write_config(tmp_path / "stargan.json", stargan_config(tmp_path, store))
    ele = write_config(tmp_path / "elegant.json", elegant_config(tmp_path, store))
    out = tmp_path / "cmp"
    assert main(["compare", str(star), str(ele), "--budget", "1", "--out", str(out),
                 "--set", "train.steps=3", "--classifier-budget", "1",
                 "--max-examples", "8"]) == 0
    document = json.loads((out / "compare.json").read_text())
    rows = {r["name"]: r for r in document["rows"]}
    for row in rows.values():
        assert np.isfinite(row["psnr"]) and 0 <= row["swap_accuracy"] <= 1
        assert row["coprediction_diagonal"] is None and row["searched_partition"] is False
        assert 0 <= row["leakage"] <= 1
    metrics = json.loads((out / "stargan" / "eval" / "metrics.json").read_text())
    assert metrics["evaluation"]["adapt"] == "TrueLabels()"
    assert metrics["disentanglement"] == {}
    table = (out / "compare.md").read_text()
    assert "| stargan | stargan | stargan |" in table and "n/a" in table
