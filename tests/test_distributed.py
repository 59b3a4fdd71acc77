"""Two gloo processes under torchrun train like one process drawing the same global batch."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import toy_config, write_config


def ddp_config(path: Path, store: Path, out: Path) -> Path:
    return write_config(path, toy_config(
        store, out, name="ddp", seed=5, optim={"lr": 1e-3},
        train={"steps": 5, "groups_per_step": 4, "shards": 2, "log_every": 1,
               "checkpoint_every": 5, "sample_every": 100}))


def losses(run: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None
                    and shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_process_gloo_matches_single_process(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = ddp_config(tmp_path / "single.json", store, tmp_path / "single")
    subprocess.run([sys.executable, "-m", "groupsup", "train", str(single)], check=True,
                   env=env, capture_output=True, timeout=300)
    multi = ddp_config(tmp_path / "multi.json", store, tmp_path / "multi")
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun) if torchrun.exists() else "torchrun", "--standalone",
           "--nproc_per_node=2", "-m", "groupsup", "train", str(multi)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = losses(tmp_path / "single"), losses(tmp_path / "multi")
    assert len(a) == len(b) == 5
    assert np.allclose(a, b, rtol=1e-4, atol=1e-5), (a, b)
    # only rank 0 wrote the run files
    assert (tmp_path / "multi" / "checkpoints" / "latest").is_file()
    # and the 2-process run resumes like any other
    resume = subprocess.run([*cmd[:-1], "--resume", str(tmp_path / "multi"), "--set",
                             "train.steps=6"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert len(losses(tmp_path / "multi")) == 6
