"""SwapAutoencoder: construction checks, swap/synthesize, save/load without code, and learning:
trained on groups, zero-shot synthesis of held-out combinations beats the baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.backbones import ConvSmall

# ---------------------------------------------------------------- a tiny procedural dataset
SIZE = 16
COLORS = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], dtype=np.float32)
CENTRES = [(4, 4), (4, 11), (11, 4), (11, 11)]


class Shapes(gs.Schema):
    shape = gs.Attribute(values=["square", "plus", "diamond"], latent=4)
    color = gs.Attribute(values=["red", "green", "blue", "yellow"], latent=4)
    position = gs.Attribute(values=["top-left", "top-right", "bottom-left", "bottom-right"],
                            latent=4)


def render(labels: np.ndarray) -> torch.Tensor:
    """``(N, 3)`` codes -> ``(N, 3, 16, 16)`` images in [-1, 1]: a 7x7 shape on black."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    out = np.full((len(labels), 3, SIZE, SIZE), -1, dtype=np.float32)
    for i, (shape, color, position) in enumerate(np.asarray(labels).tolist()):
        dy, dx = yy - CENTRES[position][0], xx - CENTRES[position][1]
        if shape == 0:
            mask = (abs(dy) <= 3) & (abs(dx) <= 3)
        elif shape == 1:
            mask = ((abs(dy) <= 3) & (abs(dx) <= 1)) | ((abs(dx) <= 3) & (abs(dy) <= 1))
        else:
            mask = abs(dy) + abs(dx) <= 3
        out[i][:, mask] = COLORS[color][:, None]
    return torch.from_numpy(out)


GRID = np.stack(np.meshgrid(range(3), range(4), range(4), indexing="ij"), -1).reshape(-1, 3)
HELD_OUT = np.random.default_rng(0).choice(len(GRID), 8, replace=False)
TRAIN = GRID[np.setdiff1d(np.arange(len(GRID)), HELD_OUT)]
TRAIN_IMAGES = render(TRAIN)


def centre_cover_groups(rng: np.random.Generator, groups: int) -> gs.GroupBatch:
    """Groups of a centre plus, per attribute j, a partner sharing exactly attribute j."""
    same = TRAIN[:, None, :] == TRAIN[None, :, :]
    examples, pairs, attrs, providers = [], [], [], []
    for centre in rng.integers(0, len(TRAIN), groups):
        base = len(examples)
        examples.append(centre)
        for j in range(3):
            exact = np.flatnonzero(same[centre, :, j] & (same[centre].sum(1) == 1))
            examples.append(rng.choice(exact))
            pairs.append((base, base + 1 + j))
            attrs.append(j)
        providers.append([base + 1, base + 2, base + 3])
    return gs.GroupBatch(np.array(examples), swap_pairs=np.array(pairs),
                         swap_attribute=np.array(attrs), cover_target=np.arange(groups) * 4,
                         cover_providers=np.array(providers), groups=groups)


def train(terms: list[str], steps: int = 400, seed: int = 0) -> gs.SwapAutoencoder:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = gs.build_model("conv-small", Shapes, (3, SIZE, SIZE),
                               {"width": 16, "max_width": 32})
    optimiser = torch.optim.Adam(model.parameters(), lr=4e-3)
    recipe = gs.build_recipe(terms, distance="l2")
    for _ in range(steps):
        batch = centre_cover_groups(rng, 8)
        loss = recipe.compute(model, TRAIN_IMAGES[batch.examples], batch).total
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained() -> dict[str, gs.SwapAutoencoder]:
    # Ops this small gain nothing from threads, and on a busy machine OpenMP threads that
    # wait for each other make a step 10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {"gsl": train(["recon", "swap", "cover"]), "ae": train(["recon"])}
    finally:
        torch.set_num_threads(threads)


def synthesis_error(model: gs.SwapAutoencoder, random_blocks: bool = False) -> float:
    """MSE of held-out combinations built from training images, block j from an image
    showing value j of the target (or, with *random_blocks*, from any training image)."""
    rng = np.random.default_rng(1)
    truth = render(GRID[HELD_OUT])
    errors = []
    with torch.no_grad():
        for _ in range(4):
            sources = {}
            for j, name in enumerate(Shapes.names):
                rows = [rng.choice(np.arange(len(TRAIN)) if random_blocks
                                   else np.flatnonzero(TRAIN[:, j] == target[j]))
                        for target in GRID[HELD_OUT]]
                sources[name] = TRAIN_IMAGES[rows]
            errors.append(((model.synthesize(sources) - truth) ** 2).mean().item())
    return float(np.mean(errors))


def test_zero_shot_synthesis_beats_autoencoder_and_random_blocks(trained):
    gsl = synthesis_error(trained["gsl"])
    autoencoder = synthesis_error(trained["ae"])
    random_blocks = synthesis_error(trained["gsl"], random_blocks=True)
    assert gsl < 0.4 * autoencoder, (gsl, autoencoder)
    assert gsl < 0.4 * random_blocks, (gsl, random_blocks)


def test_swapping_a_block_moves_the_output_to_the_sources_value(trained):
    """Partition collapse check: the decoder must not ignore any block."""
    model = trained["gsl"]
    rng = np.random.default_rng(2)
    for j, name in enumerate(Shapes.names):
        a = rng.integers(0, len(TRAIN), 16)
        b = np.array([rng.choice(np.flatnonzero(TRAIN[:, j] != TRAIN[i, j])) for i in a])
        wanted = TRAIN[a].copy()
        wanted[:, j] = TRAIN[b, j]
        with torch.no_grad():
            y, _ = model.swap(TRAIN_IMAGES[a], TRAIN_IMAGES[b], name)
        to_truth = ((y - render(wanted)) ** 2).mean().item()
        to_original = ((y - TRAIN_IMAGES[a]) ** 2).mean().item()
        assert to_truth < 0.4 * to_original, (name, to_truth, to_original)


# ---------------------------------------------------------------- construction
def small(**config) -> gs.SwapAutoencoder:
    torch.manual_seed(0)
    return gs.build_model("conv-small", Shapes, (3, 16, 16),
                              {"width": 4, "max_width": 8, **config})


def test_model_attributes():
    model = small()
    assert model.schema is Shapes and model.partition == Shapes.partition
    assert model.image_shape == (3, 16, 16) and model.backbone_name == "conv-small"
    assert isinstance(model.backbone, ConvSmall) and model.backbone.latent_size == 12


def test_latent_size_mismatch_names_both_sizes():
    with pytest.raises(gs.PartitionError, match=r"latent size 7.*Shapes's partition totals 12"):
        gs.build_model(ConvSmall((3, 16, 16), 7), Shapes, (3, 16, 16))
    with pytest.raises(gs.ConfigError, match=r"built for images \(3, 16, 16\)"):
        gs.build_model(ConvSmall((3, 16, 16), 12), Shapes, (3, 32, 32))
    with pytest.raises(gs.ConfigError, match="already configured"):
        gs.build_model(ConvSmall((3, 16, 16), 12), Shapes, (3, 16, 16), {"width": 4})


def test_unknown_backbone_suggests_a_name():
    with pytest.raises(gs.RegistryError, match=r"no backbone named 'conv-smal' \(did you mean "
                                               r"'conv-small'\?\)"):
        gs.build_model("conv-smal", Shapes, (3, 16, 16))


def test_swap_equals_manual_block_exchange():
    model = small()
    x_a, x_b = TRAIN_IMAGES[:3], TRAIN_IMAGES[3:6]
    y_a, y_b = model.swap(x_a, x_b, "color")
    z_a, z_b = model.encode(x_a), model.encode(x_b)
    cols = Shapes.partition.slice("color")
    z_a2, z_b2 = z_a.clone(), z_b.clone()
    z_a2[:, cols], z_b2[:, cols] = z_b[:, cols], z_a[:, cols]
    assert torch.allclose(y_a, model.decode(z_a2), atol=1e-6)
    assert torch.allclose(y_b, model.decode(z_b2), atol=1e-6)


def test_synthesize_broadcasts_single_images_and_encodes_each_source_once(monkeypatch):
    model = small()
    batch, one = TRAIN_IMAGES[:4], TRAIN_IMAGES[7]
    seen = []
    original = model.backbone.encode
    monkeypatch.setattr(model.backbone, "encode", lambda x: seen.append(len(x)) or original(x))
    y = model.synthesize({"shape": batch, "color": one, "position": batch})
    assert y.shape == (4, 3, 16, 16) and seen == [5]
    z = model.encode(torch.cat([batch, one[None]]))
    cols = Shapes.partition.slice("color")
    want = z[:4].clone()
    want[:, cols] = z[4, cols]
    assert torch.allclose(y, model.decode(want), atol=1e-6)


def test_synthesize_errors():
    model = small()
    with pytest.raises(gs.PartitionError, match=r"missing \['position'\], unexpected \['pos'\]"):
        model.synthesize({"shape": TRAIN_IMAGES[0], "color": TRAIN_IMAGES[0],
                          "pos": TRAIN_IMAGES[0]})
    with pytest.raises(gs.ConfigError, match=r"source for 'color' must be \(B, 3, 16, 16\)"):
        model.synthesize({"shape": TRAIN_IMAGES[0], "color": torch.zeros(3, 8, 8),
                          "position": TRAIN_IMAGES[0]})


def test_logits_backbone_maps_outputs_to_images():
    model = small(output="logits")
    y = torch.tensor([-30.0, 0.0, 30.0])
    assert torch.allclose(model.to_image(y), torch.tensor([-1.0, 0.0, 1.0]))
    assert model.reconstruct(TRAIN_IMAGES[:2]).abs().max() <= 1


def test_recipe_under_autocast_and_channels_last():
    model = small().to(memory_format=torch.channels_last)
    batch = centre_cover_groups(np.random.default_rng(0), 2)
    x = TRAIN_IMAGES[batch.examples].contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = gs.build_recipe(["recon", "swap", "cover"]).compute(model, x, batch)
    out.total.backward()
    assert torch.isfinite(out.total) and out.total.dtype == torch.float32
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


# ---------------------------------------------------------------- persistence
def test_config_dict_round_trip():
    model = small(output="logits")
    config = model.config_dict()
    assert json.loads(json.dumps(config)) == config
    assert config["backbone"] == "conv-small" and config["image_shape"] == [3, 16, 16]
    assert config["backbone_config"]["output"] == "logits"
    assert config["plugin"] == {"name": "groupsup.backbones.builtin", "distribution": "groupsup",
                                "version": gs.__version__}
    rebuilt = gs.SwapAutoencoder.from_config(config, gs.get_host())
    assert rebuilt.config_dict() == config and rebuilt.schema.same_as(Shapes)


@pytest.mark.parametrize("target", ["saved", "saved/model.json", "pair.safetensors"])
def test_save_and_load(tmp_path, target):
    model = small()
    path = tmp_path / target
    config_file = model.save(path)
    loaded = gs.SwapAutoencoder.load(path, registries=gs.get_host())
    x = TRAIN_IMAGES[:2]
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    files = sorted(p.name for p in config_file.parent.iterdir())
    assert files == sorted([config_file.name, config_file.with_suffix(".safetensors").name])


def test_load_names_the_missing_plugin(tmp_path):
    config_file = small().save(tmp_path / "m")
    document = json.loads(config_file.read_text())
    document["model"]["backbone"] = "resnet-huge"
    document["model"]["plugin"] = {"name": "huge", "distribution": "groupsup-huge",
                                   "version": "2.1"}
    config_file.write_text(json.dumps(document))
    with pytest.raises(gs.PluginError, match=r"backbone 'resnet-huge' comes from distribution "
                                             r"groupsup-huge 2.1, which is not installed: "
                                             r"pip install groupsup-huge"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())


def test_load_rejects_foreign_and_mismatched_files(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "something/1"}')
    (tmp_path / "x.safetensors").write_bytes(b"")
    with pytest.raises(gs.DataError, match="not a groupsup model"):
        gs.SwapAutoencoder.load(tmp_path / "x.json", registries=gs.get_host())
    with pytest.raises(gs.DataError, match="is missing"):
        gs.SwapAutoencoder.load(tmp_path / "nothing", registries=gs.get_host())
    config_file = small().save(tmp_path / "m")
    document = json.loads(config_file.read_text())
    document["model"]["backbone_config"]["width"] = 8
    config_file.write_text(json.dumps(document))
    with pytest.raises(gs.DataError, match=r"m/model.safetensors: weights do not fit backbone "
                                           r"'conv-small' \(.*\): backbone\.encoder\.0\.weight is "
                                           r"\(\d+, 3, 4, 4\) in the file, \(8, 3, 4, 4\) in "
                                           r"the model"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())
    document["model"]["free_warp"] = "shift"  # the file lacks the warp head's tensors
    document["model"]["backbone_config"]["width"] = small().backbone.config.width
    document["model"]["schema"]["free"] = {"name": "free", "latent": 2}
    config_file.write_text(json.dumps(document))
    with pytest.raises(gs.DataError, match=r"missing 'warp\.head\.weight', 'warp\.head\.bias'"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())


def test_micro_batch_gives_the_same_step_in_chunks(monkeypatch):
    batch = centre_cover_groups(np.random.default_rng(0), 3)
    x = TRAIN_IMAGES[batch.examples]
    recipe = gs.build_recipe(["recon", "swap", "cover"])
    results = []
    for micro_batch in (None, 5):
        model = small()
        model.micro_batch = micro_batch
        sizes = []
        original = model.backbone.decode
        monkeypatch.setattr(model.backbone, "decode", lambda z, f=original, s=sizes:
                            s.append(len(z)) or f(z))
        out = recipe.compute(model, x, batch)
        out.total.backward()
        results.append((out.total.detach(), [p.grad for p in model.parameters()], sizes))
    (whole, grads, sizes), (chunked, chunked_grads, chunk_sizes) = results
    assert sizes == [33] and chunk_sizes == [5] * 6 + [3]
    assert torch.allclose(whole, chunked, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, chunked_grads))
    with pytest.raises(gs.ConfigError, match="micro_batch must be a positive int"):
        gs.build_model("conv-small", Shapes, (3, 16, 16), micro_batch=0)
    with pytest.raises(gs.ConfigError, match="micro_batch must be a positive int"):
        model.micro_batch = 2.5
