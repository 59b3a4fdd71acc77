"""``free_leakage`` on constructed models: near 0 when the decoder ignores the unlabelled block,
near 1 for the attribute a model carries there (a real judge, fitted on the images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import Styled as StyledSchema
from conftest import Toy, styled_run, toy_images, toy_labels

import groupsup as gs
from groupsup.evaluate.judge import fit_judge
from groupsup.runs.zeroshot import leakage_swaps, synthesize

LEFT = torch.tensor([-0.8, 0.0, 0.8])  # attribute a: the left half's grey level
RIGHT = torch.tensor([-0.5, 0.5])  # attribute b: the right half's


class Halves(gs.Schema):
    a = gs.Attribute(values=[0, 1, 2], latent=3)
    b = gs.Attribute(values=[0, 1], latent=2)
    style = gs.Free(latent=3)


class HandBuilt(gs.Backbone):
    """Codes are one-hot readings of the halves; block ``style`` holds a's one-hot too. The
    decoder paints the left half from block a, or (``a_from_style``) from the style block."""

    def __init__(self, a_from_style: bool) -> None:
        super().__init__((1, 8, 8), 8)
        self.a_from_style = a_from_style

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        a = (x[:, 0, :, :4].mean((1, 2))[:, None] - LEFT).abs().argmin(1)
        b = (x[:, 0, :, 4:].mean((1, 2))[:, None] - RIGHT).abs().argmin(1)
        one_a = torch.nn.functional.one_hot(a, 3).float()
        return torch.cat([one_a, torch.nn.functional.one_hot(b, 2).float(), one_a], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        a = z[:, 5:8] if self.a_from_style else z[:, 0:3]
        left, right = LEFT[a.argmax(1)], RIGHT[z[:, 3:5].argmax(1)]
        image = torch.empty(len(z), 1, 8, 8)
        image[:, :, :, :4] = left[:, None, None, None]
        image[:, :, :, 4:] = right[:, None, None, None]
        return image


@pytest.fixture(scope="module")
def data_and_judge():
    codes = np.array([[a, b] for a in range(3) for b in range(2)] * 12)
    images = torch.empty(len(codes), 1, 8, 8)
    images[:, :, :, :4] = LEFT[codes[:, 0]][:, None, None, None]
    images[:, :, :, 4:] = RIGHT[codes[:, 1]][:, None, None, None]
    data = gs.GroupDataset.from_arrays(Halves, images=images.numpy(), labels=codes)
    judge = fit_judge(data, train=np.arange(len(data)), test=None, steps=150, seed=0)
    assert judge.unreliable == []  # the judge reads both halves
    return data, judge


def free_leakage(data: gs.GroupDataset, judge, a_from_style: bool) -> np.ndarray:
    model = gs.build_model(HandBuilt(a_from_style), Halves, (1, 8, 8)).eval()
    rng = np.random.default_rng(0)
    train = np.arange(len(data))
    leak = leakage_swaps(model, data, judge, rng.choice(train, 48, replace=False), train, rng,
                         "cpu")
    assert leak.blocks == ("a", "b", "style")
    return leak.matrix[-1]


def test_near_zero_when_the_decoder_ignores_the_unlabelled_block(data_and_judge):
    row = free_leakage(*data_and_judge, a_from_style=False)
    assert np.all(row <= 0.05), row


def test_near_one_for_the_attribute_carried_in_the_unlabelled_block(data_and_judge):
    row = free_leakage(*data_and_judge, a_from_style=True)
    assert row[0] >= 0.95 and row[1] <= 0.05, row


def test_held_out_synthesis_takes_the_unlabelled_block_from_the_free_provider(data_and_judge):
    data, _ = data_and_judge
    model = gs.build_model(HandBuilt(True), Halves, (1, 8, 8)).eval()
    providers = np.array([[0, 1], [2, 3]])  # a from example 0 / 2, b from example 1 / 3
    free = np.array([4, 5])  # the style (which carries a here) from examples 4 and 5
    out = synthesize(model, data, providers, "cpu", free=free)
    expected_left = LEFT[data.labels[free, 0]]
    assert torch.allclose(out[:, 0, :, :4].mean((1, 2)), expected_left)
    with pytest.raises(gs.DataError, match="unlabelled block 'style' needs its provider"):
        synthesize(model, data, providers, "cpu")


def test_evaluate_reports_the_unlabelled_rows_and_attributes_the_model_does_not_name(
        tmp_path, one_thread):
    run, styled = styled_run(tmp_path / "run")
    labels = toy_labels()
    full = gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")
    options = gs.EvalOptions(max_examples=8, classifier_steps=30, leakage_examples=8,
                             coprediction_examples=24, code_metrics=())
    metrics = gs.evaluate_run(run, dataset=full, options=options, progress=False,
                              out=tmp_path / "eval")
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "## The unlabelled block" in report and "follows the unlabelled" in report
    assert (tmp_path / "eval" / "free_sweep.png").is_file()
    assert set(metrics["free_leakage"]) == {"shape", "color"}
    assert set(metrics["free_coprediction"]["accuracy"]) == {"shape", "color"}
    assert metrics["leakage"]["blocks"] == ["shape", "color", "style"]
    unnamed = metrics["unnamed_attributes"]["attributes"]
    assert set(unnamed) == {"position"} and 0 <= unnamed["position"]["follows_free"] <= 1
    assert "free_provider" in metrics["synthesis"]
    # the model's own attributes only: nothing unnamed to read
    alone = gs.evaluate_run(run, dataset=styled, options=options, progress=False, report=False)
    assert "unnamed_attributes" not in alone
    assert alone["free_leakage"].keys() == metrics["free_leakage"].keys()


def test_the_evaluate_callback_synthesises_with_a_free_provider(tmp_path, one_thread):
    labels = toy_labels()[:, :2]
    data = gs.GroupDataset.from_arrays(StyledSchema, toy_images(toy_labels()), labels)
    model = gs.build_model("conv-small", StyledSchema, data.image_shape,
                               {"width": 8, "max_width": 16})
    callback = gs.EvaluateDuringTraining(gs.EvaluateDuringTraining.Config(every=1, examples=4))
    run = gs.train(model, data, steps=2, groups_per_step=2, out=tmp_path / "run",
                   progress=False, threads=1, callbacks=[callback])
    records = (run.run_dir / "evaluations.jsonl").read_text().splitlines()
    assert len(records) == 2
