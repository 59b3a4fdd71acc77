"""`groupsup export`: the encoder and decoder as ONNX (run by onnxruntime, the real runtime)
and TorchScript graphs with a dynamic batch, a manifest to recombine blocks, and a swap example
that runs without groupsup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.export import PARITY_TOLERANCE, export_model, read_export

onnxruntime = pytest.importorskip("onnxruntime")


class Digits(gs.Schema):
    digit = gs.Attribute(latent=3, values=[str(i) for i in range(4)])
    ink = gs.Attribute(latent=2, values=["red", "blue"])


class Handwriting(gs.Schema):
    digit = gs.Attribute(latent=3, values=[str(i) for i in range(4)])
    style = gs.Free(latent=2)


def demo_network() -> gs.SwapAutoencoder:
    """The demo's network (plugins/groupsup-fonts/groupsup_fonts/demo.toml): conv-small, width
    32, max width 128, batch-normalised decoder, five blocks of 20, 32 px."""
    from groupsup_fonts.demo import demo_config

    torch.manual_seed(0)
    model = gs.resolve(gs.load_config(demo_config())).model
    # batch-norm statistics other than the initial ones, as after training
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, *model.image_shape) * 2 - 1)
    return model.eval()


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    model = demo_network()
    out = tmp_path_factory.mktemp("export") / "demo-onnx"
    return model, out, export_model(model, out, "onnx", source="test")


def test_the_demo_decoder_matches_eager_torch_through_onnxruntime(demo_export):
    model, out, manifest = demo_export
    assert manifest["decoder_parity"]["max_abs_difference"] <= PARITY_TOLERANCE
    decoder = onnxruntime.InferenceSession(str(out / "decoder.onnx"))
    encoder = onnxruntime.InferenceSession(str(out / "encoder.onnx"))
    for batch in (1, 3, 17):  # the batch dimension is dynamic
        codes = torch.randn(batch, model.partition.size)
        images = torch.rand(batch, *model.image_shape) * 2 - 1
        with torch.no_grad():
            want_images = model.to_image(model.decode(codes)).numpy()
            want_codes = model.encode(images).numpy()
        got_images = decoder.run(None, {"codes": codes.numpy()})[0]
        got_codes = encoder.run(None, {"images": images.numpy()})[0]
        assert got_images.shape == (batch, *model.image_shape)
        assert np.abs(got_images - want_images).max() <= PARITY_TOLERANCE
        assert np.abs(got_codes - want_codes).max() <= 1e-4


def test_the_manifest_says_how_to_recombine(demo_export):
    model, out, manifest = demo_export
    assert read_export(out) == manifest
    assert [b["name"] for b in manifest["blocks"]] == list(model.partition.names)
    assert [(b["start"], b["stop"]) for b in manifest["blocks"]][:2] == [(0, 20), (20, 40)]
    assert manifest["image_shape"] == [3, 32, 32] and manifest["latent_size"] == 100
    assert manifest["values"]["font"][0] == "cmb10" and manifest["source"] == "test"
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx",
                                                     "export.json", "swap_example.py"]


def test_the_swap_example_runs_without_groupsup_and_swaps_the_block(demo_export, tmp_path):
    """The folder's example in a fresh interpreter that cannot import groupsup or torch: its
    output equals the swap done in torch."""
    model, out, _ = demo_export
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / name)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    for package in ("groupsup", "torch"):
        (blocker / f"{package}.py").write_text(f"raise ImportError('{package} is hidden')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    subprocess.run([sys.executable, str(out / "swap_example.py"), str(tmp_path / "a.png"),
                    str(tmp_path / "b.png"), "font", str(tmp_path / "out.png")],
                   check=True, env=env, cwd=tmp_path)
    got = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float32)

    def read(name):
        pixels = np.asarray(Image.open(tmp_path / name), dtype=np.float32)
        return torch.from_numpy(pixels.transpose(2, 0, 1) / 127.5 - 1)[None]

    with torch.no_grad():
        z = model.partition.swap(model.encode(read("a.png")), model.encode(read("b.png")),
                                 "font")[0]
        want = ((model.to_image(model.decode(z))[0].numpy().transpose(1, 2, 0) + 1) * 127.5)
    assert np.abs(got - want.clip(0, 255).round()).max() <= 1


def test_the_deploy_pages_snippet_recombines_blocks_like_torch(demo_export, tmp_path):
    """docs/deploy.md's onnxruntime snippet, run as written on the exported folder: its
    synthesis equals the model's own (`SwapAutoencoder.synthesize`) to one grey level."""
    model, out, _ = demo_export
    page = (Path(__file__).resolve().parents[1] / "docs" / "deploy.md").read_text()
    snippet = page.split("```python\n")[1].split("```")[0]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "demo-onnx").symlink_to(out)
    rng = np.random.default_rng(1)
    sources = {}
    for name, path in zip(model.partition.names, "abcde"):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{path}.png")
        sources[name] = torch.from_numpy(pixels.transpose(2, 0, 1) / 127.5 - 1).float()[None]
    subprocess.run([sys.executable, "-c", snippet], check=True, cwd=tmp_path)
    got = np.asarray(Image.open(tmp_path / "synthesis.png"), dtype=np.float32)
    with torch.no_grad():
        want = model.synthesize(sources)[0].numpy().transpose(1, 2, 0)
    assert np.abs(got - ((want + 1) * 127.5).clip(0, 255).round()).max() <= 1


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_torchscript_export_with_an_unlabelled_warp_block(tmp_path):
    torch.manual_seed(0)
    model = gs.build_model("conv-small", Handwriting, (1, 16, 16),
                               {"width": 4, "max_width": 8}, free_warp="shift").eval()
    manifest = export_model(model, tmp_path / "ts", "torchscript")
    assert manifest["blocks"][-1] == {"name": "style", "start": 3, "stop": 5,
                                      "unlabelled": True}
    assert manifest["decoder_parity"]["max_abs_difference"] <= PARITY_TOLERANCE
    decoder = torch.jit.load(str(tmp_path / "ts" / "decoder.pt"))
    codes = torch.randn(6, 5)
    with torch.no_grad():
        torch.testing.assert_close(decoder(codes), model.to_image(model.decode(codes)))


def test_onnx_export_of_a_modulated_decoder_matches_eager_torch(tmp_path):
    torch.manual_seed(0)
    model = gs.build_model("conv-small", Digits, (3, 16, 16),
                           {"width": 4, "max_width": 8, "modulation": True}).eval()
    with torch.no_grad():  # modulations away from their identity start, as after training
        for film in model.backbone.modulations:
            film.affine.weight.normal_(0, 0.3)
    manifest = export_model(model, tmp_path / "onnx", "onnx")
    assert manifest["decoder_parity"]["max_abs_difference"] <= PARITY_TOLERANCE
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "decoder.onnx"))
    codes = torch.randn(5, 5)
    got = session.run(None, {session.get_inputs()[0].name: codes.numpy()})[0]
    with torch.no_grad():
        want = model.to_image(model.decode(codes)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_export_keeps_the_models_mode_and_micro_batch(tmp_path):
    model = gs.build_model("conv-small", Digits, (3, 16, 16), {"width": 4, "max_width": 8},
                               micro_batch=2)
    model.train()
    export_model(model, tmp_path / "x", "onnx")
    assert model.training and model.micro_batch == 2


def test_refusals_name_the_culprit(tmp_path):
    model = gs.build_model("conv-small", Digits, (3, 16, 16), {"width": 4, "max_width": 8})
    with pytest.raises(gs.ConfigError, match="export format 'tflite'"):
        export_model(model, tmp_path / "x", "tflite")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(gs.ConfigError, match="taken: exists"):
        export_model(model, taken, "onnx")
    assert (taken / "keep.txt").read_text() == "mine"  # nothing lost
    with pytest.raises(gs.ConfigError, match=r"export\.json: missing"):
        read_export(taken)


def test_the_command_exports_a_trained_run(tmp_path, capsys):
    labels = np.array([[d, i] for d in range(4) for i in range(2)] * 2)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 3, 16, 16)).astype(np.float32)
    data = gs.GroupDataset.from_arrays(Digits, images, labels)
    model = gs.build_model("conv-small", Digits, (3, 16, 16), {"width": 4, "max_width": 8})
    result = gs.train(model, data, steps=2, groups_per_step=2, out=tmp_path / "run",
                      progress=False)
    assert main(["export", str(result.run_dir), "--out", str(tmp_path / "onnx")]) == 0
    printed = capsys.readouterr().out
    assert "digit 0:3, ink 3:5" in printed and "onnxruntime" in printed
    manifest = read_export(tmp_path / "onnx")
    assert Path(manifest["source"]).parent == result.run_dir / "checkpoints"
    assert main(["export", str(result.run_dir), "--out", str(tmp_path / "onnx"),
                 "--format", "torchscript", "--overwrite"]) == 0
    assert read_export(tmp_path / "onnx")["decoder"] == "decoder.pt"
