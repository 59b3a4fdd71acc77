"""SSIM and PSNR cross-checked against scikit-image, so that the SSIM and PSNR groupsup reports
compare with published numbers (issue 31).

scikit-image's ``structural_similarity`` is configured as groupsup's ``ssim`` computes (Wang et
al. 2004): Gaussian weights with sigma 1.5 (scikit-image truncates at 3.5 sigma: 11 taps, the
size of groupsup's window), population statistics (``use_sample_covariance=False``),
``K1 = 0.01``, ``K2 = 0.03``, channels averaged (``channel_axis``), and the map averaged where the
window fits inside the image: scikit-image filters the whole image with reflected borders and
then crops 5 pixels on each side, which leaves exactly the "valid" positions groupsup filters.
The images are like the demo's: ``(N, 3, 32, 32)`` float32 in ``[-1, 1]`` (``data_range`` 2),
rendered shapes on a flat background with noise, blur and other renderings as predictions.
groupsup computes in float64 whatever the input; scikit-image keeps float32 as float32, so it
gets the same values as float64.
"""

import numpy as np
import pytest
import torch
from conftest import toy_images, toy_labels

import groupsup.evaluate as ev

metrics = pytest.importorskip(
    "skimage.metrics", reason="the cross-check needs scikit-image (groupsup[metrics])")

pytestmark = pytest.mark.usefixtures("one_thread")

TOLERANCE = 1e-6


def demo_like_pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred, truth)``, each ``(36, 3, 32, 32)`` float32 in ``[-1, 1]``: 12 rendered images as
    truth, each against itself plus noise at two levels and against another rendering blurred
    and blended with it."""
    pixels = toy_images(toy_labels(copies=1), size=32)
    truth = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1
    gen = torch.Generator().manual_seed(31)
    noisy = [(truth + s * torch.randn(truth.shape, generator=gen)).clamp(-1, 1)
             for s in (0.05, 0.3)]
    other = truth.roll(1, dims=0)
    blurred = torch.nn.functional.avg_pool2d(other, 3, stride=1, padding=1,
                                             count_include_pad=False)
    blended = (0.5 * blurred + 0.5 * truth).clamp(-1, 1)
    return torch.cat([*noisy, blended]), truth.repeat(3, 1, 1, 1)


def test_ssim_equals_scikit_image():
    pred, truth = demo_like_pairs()
    ours = ev.ssim(pred, truth, data_range=2.0).per_image
    p, t = pred.double().numpy(), truth.double().numpy()
    theirs = np.array([
        metrics.structural_similarity(
            t[i], p[i], data_range=2.0, gaussian_weights=True, sigma=1.5, win_size=11,
            use_sample_covariance=False, K1=0.01, K2=0.03, channel_axis=0)
        for i in range(len(p))])
    assert theirs.min() < 0.5 < 0.9 < theirs.max()  # the pairs span the scale
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)


def test_ssim_equals_scikit_image_with_channels_last():
    """The channel axis is only a layout: (H, W, C) for scikit-image gives the same values."""
    pred, truth = demo_like_pairs()
    ours = ev.ssim(pred[:4], truth[:4], data_range=2.0).per_image
    p = pred[:4].double().permute(0, 2, 3, 1).numpy()
    t = truth[:4].double().permute(0, 2, 3, 1).numpy()
    theirs = [metrics.structural_similarity(t[i], p[i], data_range=2.0, gaussian_weights=True,
                                            sigma=1.5, use_sample_covariance=False,
                                            channel_axis=-1)
              for i in range(4)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)


def test_psnr_equals_scikit_image():
    pred, truth = demo_like_pairs()
    ours = ev.psnr(pred, truth, data_range=2.0).per_image
    p, t = pred.double().numpy(), truth.double().numpy()
    theirs = [metrics.peak_signal_noise_ratio(t[i], p[i], data_range=2.0) for i in range(len(p))]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)
