"""The independent attribute classifier and swap accuracy."""

import json

import numpy as np
import pytest
import torch

import groupsup as gs
import groupsup.evaluate as ev
from groupsup.errors import ConfigError, DataError

COLOURS = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], dtype=np.float32)


pytestmark = pytest.mark.usefixtures("one_thread")


def squares(labels: np.ndarray, size: int = 16, seed: int = 0) -> np.ndarray:
    """float32 (N, 3, size, size) in [-1, 1]: a square of colour labels[:, 0] in the quadrant
    labels[:, 1], on black, with a little noise."""
    n, half = len(labels), size // 2
    images = np.full((n, 3, size, size), -1.0, dtype=np.float32)
    rows = (labels[:, 1] // 2) * half + half // 4
    cols = (labels[:, 1] % 2) * half + half // 4
    yy, xx = np.mgrid[0:size, 0:size]
    inside = ((yy[None] >= rows[:, None, None]) & (yy[None] < rows[:, None, None] + half // 2)
              & (xx[None] >= cols[:, None, None]) & (xx[None] < cols[:, None, None] + half // 2))
    images = np.where(inside[:, None], COLOURS[labels[:, 0]][:, :, None, None], images)
    noise = np.random.default_rng(seed).normal(0, 0.1, images.shape).astype(np.float32)
    return np.clip(images + noise, -1, 1)


def grid_labels(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 4, n), rng.integers(0, 4, n)], axis=1)


@pytest.fixture(scope="module")
def fitted() -> ev.ClassifierFit:
    labels = grid_labels(1000, seed=0)
    return ev.train_classifier(squares(labels), labels, (4, 4), names=["colour", "quadrant"],
                               steps=80, batch_size=32, seed=0)


def test_classifier_learns_a_separable_image_set(fitted):
    assert fitted.accuracy.min() > 0.95
    assert fitted.classifier.names == ("colour", "quadrant")
    assert fitted.config["steps"] == 80 and fitted.config["n_test"] == 200
    out = json.loads(json.dumps(fitted.to_dict()))
    assert out["attributes"] == ["colour", "quadrant"] and out["accuracy"][0] > 0.95


def test_swap_accuracy_counts_requested_values(fitted):
    labels = grid_labels(200, seed=1)
    images = torch.from_numpy(squares(labels, seed=1))
    right = ev.swap_accuracy(fitted.classifier, images, labels)
    assert right.accuracy.min() > 0.95 and right.all_correct > 0.9
    wrong = labels.copy()
    wrong[:, 1] = (wrong[:, 1] + 1) % 4  # ask for another quadrant than the image shows
    swapped = ev.swap_accuracy(fitted.classifier, images, wrong)
    assert swapped.accuracy[0] == right.accuracy[0] and swapped.accuracy[1] < 0.05
    assert json.loads(json.dumps(swapped.to_dict()))["n"] == 200
    with pytest.raises(DataError, match=r"requested_labels must have shape \(N, 2\)"):
        ev.swap_accuracy(fitted.classifier, images, labels[:, :1])


def test_training_is_deterministic_for_a_seed():
    labels = grid_labels(200, seed=2)
    images = squares(labels)
    runs = [ev.train_classifier(images, labels, steps=3, batch_size=16, seed=7)
            for _ in range(2)]
    first, second = (r.classifier.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = ev.train_classifier(images, labels, steps=3, batch_size=16, seed=8)
    assert not torch.equal(first["heads.0.weight"], other.classifier.state_dict()["heads.0.weight"])


def test_trains_from_a_group_dataset_within_a_time_budget():
    class Squares(gs.Schema):
        colour = gs.Attribute(values=["red", "green", "blue", "yellow"], latent=2)
        quadrant = gs.Attribute(values=[0, 1, 2, 3], latent=2)

    labels = grid_labels(64, seed=3)
    data = gs.GroupDataset.from_arrays(Squares, torch.from_numpy(squares(labels)), labels)
    fit = ev.train_classifier(data, steps=10_000, batch_size=8, time_budget=0.2, seed=0)
    assert fit.config["steps"] < 10_000 and fit.classifier.names == ("colour", "quadrant")
    assert fit.classifier.cardinalities == (4, 4)


@pytest.mark.parametrize(("channels", "size", "stages"), [(1, 16, 2), (3, 64, 3), (1, 128, 4)])
def test_architecture_adapts_to_channels_and_size(channels, size, stages):
    net = ev.AttributeClassifier(channels, (3, 7), image_size=size, width=8)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) == stages
    logits = net(torch.zeros(2, channels, size, size))
    assert [tuple(lg.shape) for lg in logits] == [(2, 3), (2, 7)]
    assert ev.AttributeClassifier(**net.config()).config() == net.config()


def test_classifier_errors_name_the_argument_at_fault():
    labels = grid_labels(20, seed=4)
    images = squares(labels)
    with pytest.raises(DataError, match=r"images must have shape \(N, C, H, W\)"):
        ev.train_classifier(images[0], labels)
    with pytest.raises(DataError, match="labels must have 20 rows"):
        ev.train_classifier(images, labels[:5])
    with pytest.raises(DataError, match="labels column 0 holds code 3 but cardinalities says 2"):
        ev.train_classifier(images, labels, (2, 4))
    with pytest.raises(ConfigError, match="steps or epochs"):
        ev.train_classifier(images, labels, steps=2, epochs=1)
    with pytest.raises(ConfigError, match="in_channels must be 1 or 3"):
        ev.AttributeClassifier(4, (2,))
    net = ev.AttributeClassifier(3, (2,), image_size=16)
    with pytest.raises(DataError, match=r"images must have shape \(N, 3, H, W\)"):
        net.predict(np.zeros((2, 1, 16, 16), np.float32))
