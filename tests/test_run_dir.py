"""A run directory belongs to one run: the lock, refusing a previous run's files, --overwrite,
resumes that never log a step twice, checkpoints that are never non-finite, and what a run
shows and keeps while it trains (progress lines, curves, a bounded number of sample sheets)."""

import inspect
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_trainer import config, metrics

import groupsup as gs
from groupsup.cli import main
from groupsup.train import NonFiniteLossError, RunLockedError, Trainer, load_checkpoint
from groupsup.train import lock as lock_module
from groupsup.train.checkpoint import count_non_finite
from groupsup.train.config import ExperimentConfig
from groupsup.train.lock import LOCK_FILE, RunLock
from groupsup.train.progress import Progress as _Progress
from groupsup.train.rundir import truncate_metrics


@pytest.fixture
def store(toy_dataset, tmp_path):
    return toy_dataset.write_store(tmp_path / "store")


def _hold_lock(run_dir: str, ready, release) -> None:
    with RunLock(run_dir):
        ready.set()
        release.wait(30)


@pytest.fixture
def holder():
    """Start another process that takes the lock of a run directory and keeps it."""
    ctx = multiprocessing.get_context("fork")  # the child needs no fresh torch import
    started = []

    def start(run_dir: Path):
        ready, release = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=_hold_lock, args=(str(run_dir), ready, release))
        proc.start()
        assert ready.wait(10)
        started.append((proc, release))
        return proc

    yield start
    for proc, release in started:
        if proc.is_alive():  # (an Event set waits for its sleepers, never for a killed one)
            release.set()
        proc.join(10)


# ---------------------------------------------------------------------- item 1: the lock
def test_a_second_process_cannot_start_or_resume_a_locked_run(tmp_path, store, holder):
    Trainer(config(tmp_path, store, steps=1)).fit()
    run = tmp_path / "run"
    proc = holder(run)
    where = rf"pid {proc.pid} on host {socket.gethostname()}"
    with pytest.raises(RunLockedError, match=where):
        Trainer(config(tmp_path, store), resume=run)
    with pytest.raises(RunLockedError, match=where):
        Trainer(config(tmp_path / "other", store, out=str(run)), overwrite=True)
    assert load_checkpoint(run).step == 1  # --overwrite deleted nothing


def test_a_stale_lock_of_a_dead_process_is_reported_and_taken_over(tmp_path, store, holder,
                                                                  capsys):
    run = tmp_path / "run"
    proc = holder(run)
    os.kill(proc.pid, signal.SIGKILL)  # dies without releasing: the file stays behind
    proc.join(10)
    assert (run / LOCK_FILE).is_file()
    result = Trainer(config(tmp_path, store, steps=1)).fit()
    assert result.step == 1
    assert f"stale lock of pid {proc.pid}" in capsys.readouterr().err
    assert not (run / LOCK_FILE).exists()


def test_the_lock_is_held_while_training_and_released_after(tmp_path, store):
    trainer = Trainer(config(tmp_path, store, steps=2))
    seen = []
    original = trainer.train_step

    def step(*args):
        seen.append(json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"])
        with pytest.raises(RunLockedError):
            RunLock(tmp_path / "run").acquire()
        return original(*args)

    trainer.train_step = step
    trainer.fit()
    assert seen == [os.getpid()] * 2
    assert not (tmp_path / "run" / LOCK_FILE).exists()


def test_an_uncreatable_run_directory_is_one_clear_error(tmp_path, store):
    (tmp_path / "file").write_text("")
    with pytest.raises(gs.DataError, match=r"run.lock: cannot create the run directory's lock"):
        Trainer(config(tmp_path, store, out=str(tmp_path / "file" / "run")))


def test_a_failed_construction_releases_the_lock(tmp_path, store):
    cfg = config(tmp_path, store)
    cfg.strategy.name = "edge"  # fails after the lock is taken
    with pytest.raises(gs.ConfigError, match="'cover' needs"):
        Trainer(cfg)
    with RunLock(tmp_path / "run"):
        pass


# ---------------------------------------------------------------------- item 2: old runs
def test_a_crashed_run_without_checkpoint_is_refused_then_overwritten(tmp_path, store):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 10, "loss": 9.0}\n')
    (run / "notes.txt").write_text("mine")
    with pytest.raises(gs.ConfigError, match=r"already holds a run \(metrics.jsonl\).*"
                                             r"--resume.*--overwrite"):
        Trainer(config(tmp_path, store, steps=2))
    with pytest.raises(gs.ConfigError, match=r"holds no checkpoint.*--overwrite"):
        Trainer(config(tmp_path, store, steps=2), resume=run)
    Trainer(config(tmp_path, store, steps=2), overwrite=True).fit()
    assert [r["step"] for r in metrics(run)] == [1, 2]
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own files go


@pytest.mark.parametrize("name, content", [
    ("config.json", '{"title": "my notes"}'), ("metrics.jsonl", "not a log\n"),
    ("samples", None), ("training_curves.png", "text")])
def test_overwrite_keeps_files_no_run_wrote(tmp_path, store, name, content):
    run = tmp_path / "run"
    run.mkdir()
    if content is None:
        (run / name).mkdir()
        (run / name / "holiday.jpg").write_bytes(b"jpeg")
    else:
        (run / name).write_text(content)
    with pytest.raises(gs.ConfigError, match=rf"--overwrite would delete .*{name}, which no "
                                             r"groupsup run wrote"):
        Trainer(config(tmp_path, store, steps=2), overwrite=True)
    assert (run / name).exists()
    assert not (run / "checkpoints").exists()


def test_cli_overwrite_flag(tmp_path, store):
    cfg = tmp_path / "toy.json"
    cfg.write_text(json.dumps(config(tmp_path, store, steps=1).to_dict()))
    assert main(["train", str(cfg)]) == 0
    assert main(["train", str(cfg)]) == 1
    assert main(["train", str(cfg), "--overwrite", "--set", "train.steps=2"]) == 0
    assert [r["step"] for r in metrics(tmp_path / "run")] == [1, 2]
    assert main(["train", "--resume", str(tmp_path / "run"), "--overwrite"]) == 1


def test_a_resumed_run_never_logs_a_step_twice(tmp_path, store):
    Trainer(config(tmp_path, store, keep_checkpoints=3)).fit()  # checkpoints 3 and 6
    run = tmp_path / "run"
    first = metrics(run)
    # as if the run had died after logging step 6 but before its step-6 checkpoint
    (run / "checkpoints" / "latest").write_text("step-000003\n")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "lo')  # torn by the crash
    Trainer(config(tmp_path, store), resume=run).fit()
    again = metrics(run)
    assert [r["step"] for r in again] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in again] == pytest.approx([r["loss"] for r in first], abs=1e-6)


def test_staging_folders_left_by_a_killed_checkpoint_are_removed(tmp_path, store):
    Trainer(config(tmp_path, store, steps=2, checkpoint_every=1)).fit()
    root = tmp_path / "run" / "checkpoints"
    stale = root / ".step-000003.999999999.0123abcd.tmp"  # a process killed while writing
    stale.mkdir()
    (stale / "training.pt").write_bytes(b"x" * 1000)
    unrelated = root / "notes.tmp"
    unrelated.write_text("mine")
    Trainer(config(tmp_path, store, steps=3, checkpoint_every=1),
            resume=tmp_path / "run").fit()
    assert not stale.exists() and unrelated.is_file()
    assert not list(root.glob(".step-*"))


def test_truncate_metrics_is_a_no_op_without_later_steps(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
    assert truncate_metrics(tmp_path, 2) == 0
    assert truncate_metrics(tmp_path, 1) == 1
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 1}\n'


# ---------------------------------------------------------------------- item 3: non-finite
def test_a_diverged_run_writes_no_checkpoint(tmp_path, store):
    cfg = config(tmp_path, store, steps=3, checkpoint_every=1)
    cfg.optim.lr = 1e39  # the reproduction: step 1 overflows every weight
    with pytest.raises(NonFiniteLossError, match=r"step 1: NaN or infinite values in "
                                                 r"(\d+) of \1 model tensors.*"
                                                 r"no checkpoint was written before"):
        Trainer(cfg).fit()
    assert not (tmp_path / "run" / "checkpoints" / "latest").exists()
    assert not list((tmp_path / "run" / "checkpoints").glob("step-*"))


def test_non_finite_weights_keep_latest_at_the_last_good_checkpoint(tmp_path, store):
    trainer = Trainer(config(tmp_path, store, checkpoint_every=1))
    original = trainer.train_step

    def step(*args):
        out = original(*args)
        if trainer.state.step == 3:
            with torch.no_grad():
                next(trainer.state.model.parameters())[0] = float("inf")
        return out

    trainer.train_step = step
    with pytest.raises(NonFiniteLossError, match=r"step 3: .*1 of \d+ model tensors.*"
                                                 r"last good checkpoint is .*step-000002"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run").step == 2
    assert not (tmp_path / "run" / "checkpoints" / "step-000003").exists()


def test_non_finite_optimiser_state_is_refused(tmp_path, store):
    trainer = Trainer(config(tmp_path, store, steps=1))
    trainer.fit()
    state = next(iter(trainer.state.optimizer.state.values()))
    state["exp_avg"].fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"0 of \d+ model tensors, 1 of \d+ "
                                                 "optimizer tensors"):
        trainer.checkpoints.save(trainer.state)
    assert count_non_finite({"a": [torch.ones(2), torch.tensor([float("inf")])],
                             "n": torch.arange(3)}) == (1, 2)


# ---------------------------------------------------------------------- item 12: progress
def test_progress_prints_plain_lines_when_not_a_terminal(tmp_path, store, capsys):
    Trainer(config(tmp_path, store, steps=4, log_every=2, progress="auto")).fit()
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if " step " in line]
    assert [line.split()[2] for line in lines] == ["2/4", "4/4"]
    assert all("loss " in line and "recon " in line and "steps/s" in line and " left" in line
               for line in lines)
    assert "\r" not in out + err


def test_progress_false_prints_lines_and_off_is_silent(tmp_path, store, capsys):
    def mode(value):
        return ExperimentConfig.model_validate(
            {"dataset": {"name": "x"}, "train": {"progress": value}}).train.progress

    assert (mode(True), mode(False), mode("off")) == ("auto", "lines", "off")
    cfg = config(tmp_path, store, steps=2)
    assert cfg.train.progress == "lines"  # the test config says progress=False: no bar
    Trainer(cfg).fit()
    out, err = capsys.readouterr()
    assert "\r" not in out + err and "step 2" in out
    cfg = config(tmp_path / "off", store, steps=2)
    cfg.train.progress = "off"
    Trainer(cfg).fit()
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_under_a_time_budget_the_bar_counts_seconds(capsys):
    budget = _Progress("bar", "x", 100000, 0, 30.0)
    steps = _Progress("bar", "x", 100000, 0, None)
    try:
        assert budget.bar.total == 30.0 and steps.bar.total == 100000
        budget.advance(12.5)
        budget.advance(99.0)  # never past the budget
        assert budget.bar.n == 30.0
    finally:
        budget.close()
        steps.close()
    lines = _Progress("lines", "x", 100000, 0, 30.0)
    record = {"step": 10, "time": 25.0, "loss": 0.5, "recon": 0.25}
    assert lines.time_left(record, 1.0) == 5.0  # the budget ends before the steps do
    lines.log(record, ["recon"], 1.0)
    assert capsys.readouterr().out == ("x step 10 (25/30 s)  loss 0.5000  recon 0.2500  "
                                       "1.00 steps/s  5s left\n")


def test_curves_are_drawn_while_training_and_samples_are_bounded(tmp_path, store):
    trainer = Trainer(config(tmp_path, store, steps=6, sample_every=1, checkpoint_every=4,
                             keep_samples=2))
    curves = tmp_path / "run" / "training_curves.png"
    seen = []
    original = trainer.checkpoints.save

    def save(state):
        seen.append(curves.is_file())
        return original(state)

    trainer.checkpoints.save = save
    trainer.fit()
    assert seen[0]  # drawn at step 4, before the run ended
    assert Image.open(curves).size == (700, 400)
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == [
        "step-000005.png", "step-000006.png"]


# ---------------------------------------------------------------------- item 14: lr
def test_the_default_learning_rate_is_the_one_documented_for_conv_small():
    default = ExperimentConfig.model_fields["optim"].default_factory().lr
    assert default == 1e-3
    assert inspect.signature(gs.train).parameters["lr"].default == default
    docs = Path(__file__).parent.parent / "docs"
    assert "`lr` (1e-3;" in (docs / "training.md").read_text()
    assert "lr 1e-3" in (docs / "model.md").read_text()


def test_a_full_disk_when_a_resume_takes_its_lock_is_one_line_naming_the_file(tmp_path, store,
                                                                              monkeypatch):
    import errno

    Trainer(config(tmp_path, store, steps=2)).fit()
    real_pwrite = os.pwrite

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    lock = tmp_path / "run" / LOCK_FILE
    with pytest.raises(gs.StorageError, match=rf"{lock}: cannot record this run's lock \(No "
                                              r"space left on device\)"):
        Trainer(config(tmp_path, store, steps=4), resume=tmp_path / "run")
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    with RunLock(tmp_path / "run"):  # nothing was left locked
        pass
    assert load_checkpoint(tmp_path / "run").step == 2


# ---------------------------------------------------------------------- portability
def test_groupsup_imports_where_fcntl_does_not_exist():
    """``import groupsup`` needs nothing POSIX-only (Windows has no ``fcntl``): filelock, which
    holds the run lock, picks the platform's primitive."""
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import groupsup, groupsup.cli\n"
            "from groupsup.train.lock import RunLock\n"
            "print(groupsup.Trainer.__name__, RunLock.__name__, groupsup.__file__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[:2] == ["Trainer", "RunLock"]
    assert done.stdout.split()[2] == gs.__file__  # this checkout, not another installed one


def test_the_run_lock_is_a_filelock_lock(tmp_path):
    """The lock is filelock's, so any filelock user (the Fonts writer's store lock is one)
    contends with it on the same file: refused while a run holds it, free after."""
    filelock = pytest.importorskip("filelock")
    path = tmp_path / "run" / LOCK_FILE
    with RunLock(tmp_path / "run"), pytest.raises(filelock.Timeout):
        filelock.FileLock(path, blocking=False).acquire()
    other = filelock.FileLock(path, blocking=False)
    with other, pytest.raises(RunLockedError, match=r"in use by pid \? on host \?"):
        RunLock(tmp_path / "run").acquire()


def test_a_lock_file_removed_by_its_releasing_holder_is_retried_not_refused(tmp_path,
                                                                           monkeypatch):
    """A process that locked the old, already unlinked file of a holder that released
    meanwhile finds the file gone and takes the current one (here: the first attempt is
    refused and the file removed, as a racing release leaves it)."""
    real = lock_module.FileLock.acquire
    attempts = []

    def racing(self, *args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            Path(self.lock_file).unlink(missing_ok=True)
            raise lock_module.Timeout(self.lock_file)
        return real(self, *args, **kwargs)

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK_FILE).write_text("")
    monkeypatch.setattr(lock_module.FileLock, "acquire", racing)
    with RunLock(tmp_path / "run"):
        owner = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
    assert len(attempts) == 2 and owner["pid"] == os.getpid()
