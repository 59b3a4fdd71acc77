"""``groupsup evaluate`` end to end on a tiny trained run: metrics, report.md, report.html."""

import base64
import json
import re

import pytest
import torch

from groupsup.cli import main
from groupsup.runs.report import markdown_to_html
from groupsup.train import Trainer, load_config

torch.set_num_threads(1)


def tiny_config(tmp_path, store, name="gsl", **overrides):
    data = {
        "name": name, "seed": 3,
        "dataset": {"name": "store", "options": {"path": str(store)},
                    "split": "random-combinations", "split_options": {"fraction": 0.25}},
        "model": {"backbone": "conv-small", "options": {"width": 8, "max_width": 16}},
        "strategy": {"name": "centre-cover"}, "loss": {"recipe": "gsl"},
        "optim": {"lr": 1e-3},
        "train": {"steps": 6, "groups_per_step": 2, "log_every": 2, "sample_every": 3,
                  "checkpoint_every": 100, "progress": False, "threads": 1,
                  "out": str(tmp_path / name)},
    }
    for key, value in overrides.items():
        section, field = key.split("__")
        data[section][field] = value
    return load_config(data)


@pytest.fixture
def trained_run(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    return Trainer(tiny_config(tmp_path, store)).fit().run_dir


def test_evaluate_writes_metrics_and_reports(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--classifier-steps", "5",
                 "--max-examples", "16", "--leakage-examples", "8"]) == 0
    out = trained_run / "eval" / "001"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation"]["partition"] == {"shape": 4, "color": 4, "position": 4}
    assert metrics["evaluation"]["adapt"] is None and metrics["synthesis"]["held_out"]
    assert (out / "training_curves.png").stat().st_size > 1000
    md = (out / "report.md").read_text()
    for heading in ("## Training curves", "## Zero-shot synthesis", "## Swap accuracy",
                    "## Judge", "## Leakage", "## Disentanglement metrics",
                    "## Co-prediction", "## Config", "## Synthesis per combination"):
        assert heading in md
    assert "![co-prediction](coprediction.png)" in md and "block-MIG " in md
    assert '"recipe": "gsl"' in md
    page = (out / "report.html").read_text()
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 6 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "<table>" in page and "missing image" not in page


def test_markdown_to_html_inlines_images(tmp_path):
    """CommonMark with pipe tables (markdown-it-py); raw HTML escaped; an image on its own line is
    a figure with its file inlined, a missing file is named in its place."""
    (tmp_path / "sheet.png").write_bytes(b"\x89PNG not really")
    text = ("# Title\n\nSome `code` and **bold** <b>, [a link](https://example.org).\n"
            "continued\n\n| a | b |\n|---|---:|\n| 1 | 2 |\n\n- one\n- two\n  more\n\n"
            "```json\n{\"k\": 1}\n```\n\n![the sheet](sheet.png)\n\n![gone](x.png)\n")
    page = markdown_to_html(text, tmp_path, "T & U")
    assert page.startswith("<!DOCTYPE html>") and "<title>T &amp; U</title><style>" in page
    assert "<h1>Title</h1>" in page
    assert ("<p>Some <code>code</code> and <strong>bold</strong> &lt;b&gt;, "
            '<a href="https://example.org">a link</a>.\ncontinued</p>') in page
    cells = re.sub(r"\s+", "", page.split("<table>")[1].split("</table>")[0])
    assert cells == ('<thead><tr><th>a</th><thstyle="text-align:right">b</th></tr></thead>'
                     '<tbody><tr><td>1</td><tdstyle="text-align:right">2</td></tr></tbody>')
    assert "<ul>\n<li>one</li>\n<li>two\nmore</li>\n</ul>" in page
    assert '<pre><code class="language-json">{&quot;k&quot;: 1}\n</code></pre>' in page
    data = base64.b64encode(b"\x89PNG not really").decode("ascii")
    assert (f'<figure><img alt="the sheet" src="data:image/png;base64,{data}">'
            "<figcaption>the sheet</figcaption></figure>") in page
    assert "<figure><em>missing image x.png</em></figure>" in page
