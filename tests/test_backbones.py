"""Backbones: the base class contract (config validation, shapes) and conv-small."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import groupsup as gs
from groupsup.backbones import ConvSmall, ConvSmallConfig


def test_conv_small_is_registered_as_a_builtin():
    entry = gs.get_host().backbones.entry("conv-small")
    assert entry.obj is ConvSmall and entry.distribution == "groupsup"


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_conv_small_shapes_and_size(size):
    net = ConvSmall((3, size, size), 24)
    x = torch.rand(2, 3, size, size) * 2 - 1
    z = net.encode(x)
    y = net.decode(z)
    assert z.shape == (2, 24) and y.shape == x.shape
    assert y.abs().max() <= 1 and net.output == "tanh"
    assert sum(p.numel() for p in net.parameters()) < 2_500_000


def test_conv_small_rectangular_grey_and_logits():
    net = ConvSmall((1, 16, 32), 6, {"output": "logits", "norm": "none", "width": 8})
    y = net.decode(net.encode(torch.zeros(3, 1, 16, 32)))
    assert y.shape == (3, 1, 16, 32) and net.output == "logits"
    assert not any(isinstance(m, nn.Tanh) for m in net.modules())
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize(("shape", "message"), [
    ((3, 24, 24), "powers of two from 8 to 128; height is 24"),
    ((3, 32, 256), "width is 256"),
    ((3, 32), r"three positive ints \(C, H, W\)"),
    ((0, 32, 32), "three positive ints"),
    ("abc", r"image_shape must be \(C, H, W\)"),
])
def test_bad_image_shapes_fail_early(shape, message):
    with pytest.raises(gs.ConfigError, match=message):
        ConvSmall(shape, 8)


def test_config_errors_name_the_key():
    with pytest.raises(gs.ConfigError, match=r"unknown key 'widht' \(did you mean 'width'\?\)"):
        ConvSmall((3, 16, 16), 8, {"widht": 8})
    with pytest.raises(gs.ConfigError, match=r"key 'output' = 'sigmoid'"):
        ConvSmall((3, 16, 16), 8, {"output": "sigmoid"})
    with pytest.raises(gs.ConfigError, match="latent_size must be a positive int"):
        ConvSmall((3, 16, 16), 0)


def test_config_accepts_models_and_mappings():
    cfg = ConvSmallConfig(width=8)
    assert ConvSmall((3, 16, 16), 4, cfg).config is cfg
    assert ConvSmall((3, 16, 16), 4, {"width": 8}).config == cfg
    assert ConvSmall((3, 16, 16), 4).config == ConvSmallConfig()


def test_input_and_code_shapes_are_checked():
    net = ConvSmall((3, 16, 16), 8)
    with pytest.raises(gs.ConfigError, match=r"expects images of shape \(B, 3, 16, 16\)"):
        net.encode(torch.zeros(2, 3, 32, 32))
    with pytest.raises(gs.ConfigError, match=r"expects codes of shape \(B, 8\)"):
        net.decode(torch.zeros(2, 9))


def test_per_image_independence_and_channels_last():
    torch.manual_seed(0)
    net = ConvSmall((3, 32, 32), 10)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    batched = net(x)
    single = torch.cat([net(x[i : i + 1]) for i in range(4)])
    assert torch.allclose(batched, single, atol=1e-5)
    net_cl = net.to(memory_format=torch.channels_last)
    y = net_cl(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(y, batched, atol=1e-5)


class Tiny(gs.Backbone):
    """A user backbone: flatten, one linear layer each way."""

    class Config(gs.BackboneConfig):
        hidden: int = 16

    def __init__(self, image_shape, latent_size, config=None):
        super().__init__(image_shape, latent_size, config)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(pixels, latent_size))
        self.dec = nn.Sequential(nn.Linear(latent_size, pixels), nn.Tanh())

    def encode(self, x):
        self.check_input(x)
        return self.enc(x)

    def decode(self, z):
        return self.dec(z).unflatten(1, self.image_shape)


def test_a_user_backbone_subclass_works_with_the_model():
    schema = gs.Schema.define("Two", [gs.Attribute(name="a", latent=3),
                                      gs.Attribute(name="b", latent=2)])
    model = gs.build_model(Tiny((1, 4, 4), 5, {"hidden": 3}), schema, (1, 4, 4))
    assert model.reconstruct(torch.zeros(2, 1, 4, 4)).shape == (2, 1, 4, 4)
    with pytest.raises(gs.ConfigError, match="unknown key 'depth'"):
        Tiny((1, 4, 4), 5, {"depth": 2})


def test_conv_small_decoder_norm_and_activation():
    net = ConvSmall((3, 32, 32), 6, {"width": 8, "decoder_norm": "none",
                                     "activation": "leaky_relu"})
    assert any(isinstance(m, nn.GroupNorm) for m in net.encoder.modules())
    assert not any(isinstance(m, nn.GroupNorm) for m in net.decoder.modules())
    assert all(m.bias is not None for m in net.decoder.modules()
               if isinstance(m, nn.ConvTranspose2d))
    assert all(m.bias is None for m in net.encoder.modules() if isinstance(m, nn.Conv2d))
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())
    batch = ConvSmall((3, 16, 16), 6, {"width": 8, "norm": "batch"})
    assert sum(isinstance(m, nn.BatchNorm2d) for m in batch.modules()) == 3
    assert batch.decode(batch.encode(torch.zeros(2, 3, 16, 16))).shape == (2, 3, 16, 16)
    pixel = ConvSmall((3, 16, 16), 6, {"width": 8, "decoder_norm": "pixel"})
    x = torch.randn(2, 8, 4, 4) * 5
    unit = next(m for m in pixel.decoder.modules() if type(m).__name__ == "PixelNorm")(x)
    assert torch.allclose(unit.pow(2).mean(dim=1), torch.ones(2, 4, 4), atol=1e-4)


def test_conv_small_modulation_starts_at_the_identity_and_is_off_by_default():
    torch.manual_seed(0)
    plain = ConvSmall((3, 32, 32), 6, {"width": 8})
    torch.manual_seed(0)
    film = ConvSmall((3, 32, 32), 6, {"width": 8, "modulation": True})
    assert plain.modulations is None and not any("modulations" in k for k in plain.state_dict())
    # one FiLM per hidden decoder layer (two at 32 px) and one on the output's channels
    assert [m.affine.out_features for m in film.modulations] == [2 * 16, 2 * 8, 2 * 3]
    film.load_state_dict(plain.state_dict(), strict=False)
    z = torch.randn(4, 6)
    assert torch.equal(film.decode(z), plain.decode(z))  # zero-initialised: the identity


def test_film_scales_and_shifts_each_channel_by_a_linear_map_of_the_code():
    from groupsup.backbones.conv_small import FiLM

    film = FiLM(2, 3)
    with torch.no_grad():
        film.affine.weight.copy_(torch.arange(12.0).reshape(6, 2) / 10)
        film.affine.bias.copy_(torch.linspace(-1, 1, 6))
    h, z = torch.randn(2, 3, 4, 4), torch.randn(2, 2)
    gain_shift = z @ film.affine.weight.T + film.affine.bias
    want = h * (1 + gain_shift[:, :3, None, None]) + gain_shift[:, 3:, None, None]
    assert torch.allclose(film(h, z), want, atol=1e-6)
    net = ConvSmall((3, 16, 16), 4, {"width": 8, "modulation": True})
    net.decode(torch.randn(3, 4)).sum().backward()  # gradients reach every modulation
    assert all(m.affine.weight.grad is not None for m in net.modulations)
