"""``free_warp="affine"``: the unlabelled block moves the decoded image and does nothing else."""

from __future__ import annotations

import math

import pytest
import torch

import groupsup as gs
from groupsup.backbones.warp import FreeWarp
from groupsup.errors import ConfigError
from groupsup.train.config import load_config


class AB(gs.Schema):
    a = gs.Attribute(values=[0, 1, 2], latent=3)
    b = gs.Attribute(values=[0, 1], latent=2)


class ABStyle(AB):
    style = gs.Free(latent=6)


def model(schema: type[gs.Schema] = ABStyle, **kwargs) -> gs.SwapAutoencoder:
    torch.manual_seed(0)
    return gs.build_model("conv-small", schema, (3, 16, 16), {"width": 4, "max_width": 8},
                              **kwargs)


def codes(n: int = 5) -> torch.Tensor:
    return torch.randn(n, ABStyle.partition.size, generator=torch.Generator().manual_seed(1))


def test_the_backbone_never_sees_the_block_and_the_warp_starts_at_the_identity():
    warped, plain = model(free_warp="affine").eval(), model().eval()
    z = codes()
    free = ABStyle.partition.slice("style")
    zeroed = z.clone()
    zeroed[:, free] = 0
    expected = plain.backbone.decode(zeroed)  # same seed: same backbone weights
    torch.testing.assert_close(warped.decode(z), expected, atol=1e-5, rtol=0)
    other = z.clone()
    other[:, free] = torch.randn(5, 6)
    # With the head at zero, the block changes nothing at all: it has no other way in.
    torch.testing.assert_close(warped.decode(other), warped.decode(z), atol=0, rtol=0)


def test_a_shift_moves_the_image_by_whole_pixels_and_repeats_the_border():
    warp = FreeWarp(2, "shift", max_shift=0.5)
    side = 16
    with torch.no_grad():
        # tanh(bias) * max_shift = -2 px in affine_grid's [-1, 1] units (2 / side per px): the
        # output at x samples the input at x - 2, so the content moves 2 px right.
        warp.head.bias[0] = math.atanh(-2 * (2 / side) / 0.5)
    image = torch.arange(side * side, dtype=torch.float32).view(1, 1, side, side)
    out = warp(image, torch.zeros(1, 2))
    torch.testing.assert_close(out[..., 2:], image[..., :-2], atol=1e-3, rtol=0)
    torch.testing.assert_close(out[..., :2], image[..., :1].expand(-1, -1, -1, 2), atol=1e-3,
                               rtol=0)


def test_a_shift_warp_only_translates():
    warp = FreeWarp(3, "shift", max_shift=0.5)
    with torch.no_grad():
        warp.head.weight.normal_(std=10)
    theta = warp.theta(torch.randn(64, 3))
    assert warp.head.out_features == 2
    torch.testing.assert_close(theta[:, :, :2], torch.eye(2).expand(64, 2, 2), atol=0, rtol=0)
    assert theta[:, :, 2].abs().max() <= 0.5 and theta[:, :, 2].abs().max() > 0.1


def test_the_transform_is_bounded_whatever_the_block():
    warp = FreeWarp(3, max_linear=0.25, max_shift=0.5)
    with torch.no_grad():
        warp.head.weight.normal_(std=10)
    theta = warp.theta(torch.randn(64, 3) * 100)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    deviation = (theta - identity).abs()
    assert deviation[:, :, :2].max() <= 0.25 + 1e-6 and deviation[:, :, 2].max() <= 0.5 + 1e-6


def test_gradients_reach_the_block_once_the_head_has_moved():
    m = model(free_warp="affine")
    with torch.no_grad():
        m.warp.head.weight.normal_(std=0.1)
    z = codes().requires_grad_()
    m.decode(z).square().sum().backward()
    free = ABStyle.partition.slice("style")
    assert z.grad[:, free].abs().sum() > 0


def test_errors_name_the_option():
    with pytest.raises(ConfigError, match=r"declares none: set schema.free"):
        model(AB, free_warp="affine")
    with pytest.raises(ConfigError, match=r"free_warp must be one of \['shift', 'affine'\]"):
        model(free_warp="elastic")


@pytest.mark.parametrize("kind", ["shift", "affine"])
def test_saved_and_loaded_with_the_warp_and_old_configs_load_without(tmp_path, kind):
    m = model(free_warp=kind)
    with torch.no_grad():
        m.warp.head.weight.normal_(std=0.1)
    m.save(tmp_path / "m")
    loaded = gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())
    assert loaded.free_warp == kind
    z = codes()
    torch.testing.assert_close(loaded.eval().decode(z), m.eval().decode(z))
    assert "free_warp" not in model().config_dict()


def test_the_config_option(tmp_path):
    path = tmp_path / "c.toml"
    dataset = '[dataset]\nname = "fonts"\n'
    path.write_text(dataset + '[model]\nfree_warp = "affine"\n')
    assert load_config(path).model.free_warp == "affine"
    path.write_text(dataset + '[model]\nfree_warp = "elastic"\n')
    with pytest.raises(ConfigError, match=r"model\.free_warp"):
        load_config(path)
