"""The gzsnet backbone: reference sizes, generic shapes, options and errors."""

from __future__ import annotations

import pytest
import torch
from groupsup_gzsnet import GZSNet
from torch import nn

import groupsup as gs


def count(shape, latent, config=None) -> int:
    with torch.device("meta"):
        net = GZSNet(shape, latent, config)
    return sum(p.numel() for p in net.parameters())


def test_reference_size_at_128px():
    assert count((3, 128, 128), 100) == pytest.approx(142.95e6, rel=1e-3)
    with torch.device("meta"):
        net = GZSNet((3, 128, 128), 100)
    linear = sum(p.numel() for m in net.modules() if isinstance(m, nn.Linear)
                 for p in m.parameters())
    assert linear == pytest.approx(135e6, rel=1e-3)
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.bias is None for c in convs) and len(convs) == 5 + 2 + 2 + 4 + 1
    assert net._inner == (256, 8, 8) and isinstance(net.decoder[-1], nn.Tanh)


def test_dsprites_variant_by_config():
    config = {"fc_width": 512, "output": "logits"}
    assert count((1, 64, 64), 10, config) == pytest.approx(12.09e6, rel=1e-3)
    with torch.device("meta"):
        net = GZSNet((1, 64, 64), 10, config)
    assert net._inner == (256, 4, 4) and net.output == "logits"
    assert not any(isinstance(m, nn.Tanh) for m in net.modules())


def test_small_forward_is_generic_in_size_width_and_blocks():
    net = GZSNet((3, 48, 32), 6, {"width": 4, "fc_width": 32, "res_blocks": 2})
    x = torch.rand(2, 3, 48, 32) * 2 - 1
    y = net.decode(net.encode(x))
    assert y.shape == x.shape and y.abs().max() <= 1
    assert net._inner == (16, 3, 2)
    norms = [m for m in net.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 5 + 4 + 4 * 2 and all(m.num_groups == m.num_channels for m in norms)


def test_group_norm_is_instance_norm():
    x = torch.randn(3, 8, 5, 5)
    group, instance = nn.GroupNorm(8, 8), nn.InstanceNorm2d(8, affine=True)
    with torch.no_grad():
        for norm in (group, instance):
            norm.weight.copy_(torch.linspace(0.5, 2, 8))
            norm.bias.copy_(torch.linspace(-1, 1, 8))
    assert torch.allclose(group(x), instance(x), atol=1e-5)


def test_instance_statistics_at_eval():
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    torch.manual_seed(0)
    reference = GZSNet((1, 32, 32), 4, {"width": 4, "fc_width": 16})
    train_out = reference(x)
    reference.eval()
    assert torch.allclose(reference(x), train_out, atol=1e-6)
    assert torch.allclose(reference(x[:1]), train_out[:1], atol=1e-6)

    torch.manual_seed(0)
    running = GZSNet((1, 32, 32), 4, {"width": 4, "fc_width": 16,
                                      "instance_stats_at_eval": False})
    assert torch.allclose(running(x), train_out, atol=1e-5)  # same weights, train mode
    running.eval()
    assert not torch.allclose(running(x), train_out, atol=1e-3)
    assert running.state_dict().keys() >= reference.state_dict().keys()


@pytest.mark.parametrize(("shape", "message"), [
    ((3, 16, 16), "multiples of 16 and at least 32.*height is 16"),
    ((3, 64, 40), "width is 40"),
    ((2, 64, 64), "1 or 3 image channels, got 2"),
])
def test_unsupported_shapes_fail_early(shape, message):
    with pytest.raises(gs.ConfigError, match=message):
        GZSNet(shape, 10)


def test_unknown_option_names_the_key():
    message = r"unknown key 'fc_widht' \(did you mean 'fc_width'\?\)"
    with pytest.raises(gs.ConfigError, match=message):
        gs.build_model("gzsnet", gs.Schema.define("A", [gs.Attribute(name="a", latent=4)]),
                           (3, 32, 32), {"fc_widht": 10})
