import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import threading
import types

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.train import Trainer, load_checkpoint, load_config
from groupsup.train.trainer import NonFiniteLossError


def config(tmp_path, store, **train):
    return load_config({
        "name": "toy", "seed": 3,
        "dataset": {"name": "store", "options": {"path": str(store)}},
        "model": {"backbone": "conv-small", "options": {"width": 8, "max_width": 16}},
        "strategy": {"name": "centre-cover"},
        "loss": {"recipe": "gsl"},
        "optim": {"lr": 1e-3},
        "train": {"steps": 6, "groups_per_step": 2, "log_every": 1, "sample_every": 3,
                  "checkpoint_every": 3, "progress": False, "out": str(tmp_path / "run"),
                  "threads": 1, **train},
    })


@pytest.fixture
def store(toy_dataset, tmp_path):
    return toy_dataset.write_store(tmp_path / "store")


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_same_seed_gives_the_same_run(tmp_path, store):
    a = Trainer(config(tmp_path / "a", store))
    ra = a.fit()
    b = Trainer(config(tmp_path / "b", store))
    b.fit()
    assert ra.step == 6 and ra.stopped == "steps"
    la, lb = metrics(tmp_path / "a" / "run"), metrics(tmp_path / "b" / "run")
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]
    for (k, va), vb in zip(weights(a.state.model).items(), weights(b.state.model).values()):
        assert torch.equal(va, vb), k


def test_run_directory_contents(tmp_path, store):
    result = Trainer(config(tmp_path, store)).fit()
    run = tmp_path / "run"
    assert (run / "config.json").is_file() and (run / "schema.json").is_file()
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-000006"
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == [
        "step-000003.png", "step-000006.png"]
    records = metrics(run)
    assert [r["step"] for r in records] == list(range(1, 7))
    assert {"loss", "recon", "swap", "cover", "groups_per_s", "images_per_s", "lr"} <= set(
        records[0])
    meta = json.loads((result.checkpoint / "meta.json").read_text())
    kinds = {(p["kind"], p["name"]) for p in meta["plugins"]}
    assert {("dataset", "store"), ("backbone", "conv-small"), ("strategy", "centre-cover"),
            ("recipe", "gsl")} <= kinds
    assert meta["config"]["train"]["steps"] == 6 and meta["step"] == 6


def test_keep_last_k_checkpoints(tmp_path, store):
    Trainer(config(tmp_path, store, steps=5, checkpoint_every=1, keep_checkpoints=2)).fit()
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step-*"))
    assert kept == ["step-000004", "step-000005"]


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, store):
    full = Trainer(config(tmp_path / "full", store))
    full.fit()
    part = Trainer(config(tmp_path / "part", store))
    first = part.fit(until=4)
    assert first.stopped == "until" and first.step == 4
    resumed = Trainer(config(tmp_path / "part", store), resume=tmp_path / "part" / "run")
    assert resumed.state.step == 4
    resumed.fit()
    for (k, va), vb in zip(weights(full.state.model).items(),
                           weights(resumed.state.model).values()):
        assert torch.allclose(va, vb, atol=1e-6), k
    loss_full = [r["loss"] for r in metrics(tmp_path / "full" / "run")]
    loss_part = [r["loss"] for r in metrics(tmp_path / "part" / "run")]
    assert np.allclose(loss_full, loss_part, atol=1e-6)


@pytest.mark.parametrize("signum, stopped", [(signal.SIGINT, "interrupted"),
                                             (signal.SIGTERM, "terminated")])
def test_ctrl_c_or_sigterm_saves_a_checkpoint_and_stops_cleanly(tmp_path, store, signum,
                                                                 stopped):
    before = signal.getsignal(signum)
    trainer = Trainer(config(tmp_path, store, steps=100000, checkpoint_every=100000))
    original = trainer.train_step

    def step_then_signal(*args):
        out = original(*args)
        if trainer.state.step == 2:
            threading.Timer(0, os.kill, (os.getpid(), signum)).start()
            threading.Event().wait(0.2)
        return out

    trainer.train_step = step_then_signal
    result = trainer.fit()
    assert result.stopped == stopped and 2 <= result.step < 10
    assert load_checkpoint(tmp_path / "run").step == result.step
    assert signal.getsignal(signum) is before  # the handler is put back


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_train_command_exits_128_plus_the_signal_after_its_checkpoint(tmp_path, store,
                                                                          signum, status):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config(tmp_path, store, steps=100000, checkpoint_every=100000,
                                      log_every=1).to_dict()))
    process = subprocess.Popen([sys.executable, "-m", "groupsup", "train", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:  # wait until it trains
        lines.append(line)
        if " step 3" in line:
            process.send_signal(signum)
            break
    lines += process.stdout.readlines()
    assert process.wait(timeout=60) == status, "".join(lines)
    step = load_checkpoint(tmp_path / "run").step
    assert step >= 3 and f"stopped at step {step}" in "".join(lines)


def test_a_step_larger_than_the_data_or_the_memory_is_refused_before_training(tmp_path, store,
                                                                              monkeypatch):
    with pytest.raises(gs.ConfigError, match=r"train.groups_per_step=1,000,000,000 exceeds the "
                                             r"\d+ training examples"):
        Trainer(config(tmp_path, store, groups_per_step=1_000_000_000))
    assert not (tmp_path / "run").exists()  # nothing left behind
    monkeypatch.setattr(sys.modules["groupsup.train.preflight"], "physical_memory",
                        lambda: 1 << 10)  # a 1 KiB machine
    with pytest.raises(gs.ConfigError, match=r"groups_per_step=2: one step's \d+ images take "
                                             r".* GiB as float32 .* over half of this machine"):
        Trainer(config(tmp_path, store))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, store):
    trainer = Trainer(config(tmp_path, store, checkpoint_every=2))
    compute = trainer.state.recipe.compute

    def poisoned(model, images, batch, labels=None):
        out = compute(model, images, batch, labels)
        if trainer.state.step == 3:
            return dataclasses.replace(out, total=out.total * float("nan"))
        return out

    trainer.state.recipe.compute = poisoned
    with pytest.raises(NonFiniteLossError, match=r"step 4.*step-000002"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run").step == 2


def test_checkpoint_with_missing_plugin_names_it(tmp_path, store):
    result = Trainer(config(tmp_path, store, steps=1)).fit()
    meta_path = result.checkpoint / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["plugins"].append({"kind": "backbone", "name": "fancy", "distribution":
                            "groupsup-fancy-backbones", "version": "9.9"})
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(gs.PluginError, match="pip install groupsup-fancy-backbones"):
        load_checkpoint(tmp_path / "run")


@pytest.mark.parametrize("flags, amp, allowed", [
    (frozenset({"avx2", "avx512f"}), "bf16", False),
    (frozenset({"avx2", "avx512f", "avx512_bf16"}), "bf16", True),
    (frozenset({"avx2", "amx_tile", "amx_bf16"}), "bf16", True),
    (frozenset({"avx2", "amx_tile", "amx_bf16"}), "fp16", False),
])
def test_amp_on_cpu_follows_native_bf16(tmp_path, store, monkeypatch, flags, amp, allowed):
    # the decision, for CPUs other than this one: cpu_info's parsing is tested on real text
    # (by module object: `groupsup.train` as a dotted path resolves to the function gs.train)
    monkeypatch.setattr(sys.modules["groupsup.train.preflight"], "cpu_info",
                        lambda: ("Test CPU", flags))
    if allowed:
        assert Trainer(config(tmp_path, store, amp=amp, device="cpu")).config.train.amp == amp
        return
    with pytest.raises(gs.ConfigError, match=r"on this CPU \(Test CPU\).*force_amp"):
        Trainer(config(tmp_path, store, amp=amp, device="cpu"))
    forced = config(tmp_path, store, amp=amp, device="cpu", force_amp=True,
                    out=str(tmp_path / "forced"))
    assert Trainer(forced).config.train.amp == amp


def test_strategy_and_recipe_mismatch_is_a_config_error(tmp_path, store):
    cfg = config(tmp_path, store)
    cfg.strategy.name = "edge"
    with pytest.raises(gs.ConfigError, match="'cover' needs"):
        Trainer(cfg)


def test_python_api_trains_objects(tmp_path, toy_dataset):
    model = gs.build_model("conv-small", toy_dataset.schema, toy_dataset.image_shape,
                               {"width": 8, "max_width": 16})
    result = gs.train(model, toy_dataset, steps=3, groups_per_step=2, out=tmp_path / "py",
                      progress=False, threads=1)
    assert result.step == 3 and result.checkpoint.is_dir()
    assert gs.load_model(tmp_path / "py").schema.same_as(toy_dataset.schema)


def test_a_new_run_refuses_to_overwrite_an_existing_one(tmp_path, store):
    Trainer(config(tmp_path, store, steps=1)).fit()
    with pytest.raises(gs.ConfigError, match=r"already holds a run.*--resume"):
        Trainer(config(tmp_path, store, steps=1))


def test_cosine_schedule_over_the_time_budget(tmp_path, store, monkeypatch):
    """``optim.schedule_by = "time"`` decays over the larger of the fractions of train.steps and
    of train.time_budget done: a budget of 10 s with 5 s gone is half way, whatever the steps."""
    cfg = config(tmp_path, store, steps=1000, time_budget=10.0)
    cfg.optim.schedule, cfg.optim.schedule_by = "cosine", "time"
    trainer = Trainer(cfg)
    clock = {"now": 100.0}
    module = sys.modules["groupsup.train.state"]
    monkeypatch.setattr(module, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))
    trainer.state.learning_rate.started = 100.0
    assert trainer.state.learning_rate.factor(0) == pytest.approx(1.0)
    clock["now"] = 105.0
    assert trainer.state.learning_rate.factor(1) == pytest.approx(0.5)
    clock["now"] = 120.0
    assert trainer.state.learning_rate.factor(2) == pytest.approx(0.0)
    cfg.optim.schedule_by = "steps"
    assert trainer.state.learning_rate.factor(500) == pytest.approx(0.5)
    trainer.close()


def test_wsd_schedule_is_constant_then_linear_to_zero(tmp_path, store, monkeypatch):
    """``optim.schedule = "wsd"``: the full rate until the last ``decay_fraction`` of the run,
    then linearly to 0, over steps or over the time budget."""
    cfg = config(tmp_path, store, steps=1000, time_budget=10.0)
    cfg.optim.schedule, cfg.optim.decay_fraction, cfg.optim.warmup_steps = "wsd", 0.25, 10
    trainer = Trainer(cfg)
    expected = {0: 0.1, 9: 1.0, 500: 1.0, 750: 1.0, 875: 0.5, 950: 0.2, 1000: 0.0, 1200: 0.0}
    for step, factor in expected.items():
        assert trainer.state.learning_rate.factor(step) == pytest.approx(factor), step
    cfg.optim.schedule_by = "time"
    clock = {"now": 100.0}
    module = sys.modules["groupsup.train.state"]
    monkeypatch.setattr(module, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))
    trainer.state.learning_rate.started = 100.0
    for now, factor in {107.0: 1.0, 108.5: 0.6, 110.0: 0.0, 130.0: 0.0}.items():
        clock["now"] = now
        assert trainer.state.learning_rate.factor(20) == pytest.approx(factor), now
    trainer.close()
    with pytest.raises(gs.ConfigError, match="decay_fraction"):
        gs.load_config({**cfg.to_dict(), "optim": {"schedule": "wsd", "decay_fraction": 0}})


def test_time_schedule_reaches_zero_when_the_budget_ends_and_needs_a_budget(tmp_path, store):
    cfg = config(tmp_path, store, steps=100000, time_budget=1.5, log_every=1)
    cfg.optim.schedule, cfg.optim.schedule_by = "cosine", "time"
    result = Trainer(cfg).fit()
    assert result.stopped == "time_budget"
    records = metrics(tmp_path / "run")
    lrs = [r["lr"] for r in records]
    assert lrs == sorted(lrs, reverse=True)

    def cosine(t):
        return 1e-3 * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, t) / 1.5)))

    # each logged rate is the cosine of the wall clock at that step (the record's time is taken
    # a moment after the rate, from a clock started a moment before: 0.1 s either way), so the
    # rate follows the clock, not the step count, and the last one is where the clock left it
    # (a loaded machine can stall a step for a third of a second, so no fixed end value)
    for r in records:
        assert cosine(r["time"] + 0.1) - 1e-9 <= r["lr"] <= cosine(r["time"] - 0.1) + 1e-9, r
    assert records[-1]["time"] > 0.5 and lrs[-1] < 0.6 * lrs[0]
    again = config(tmp_path / "b", store)
    again.optim.schedule, again.optim.schedule_by = "cosine", "time"
    trainer = Trainer(again)
    with pytest.raises(gs.ConfigError, match=r"schedule_by='time'.*time_budget, which is not set"):
        trainer.fit()
    trainer.close()


def test_ema_callback_puts_the_average_in_the_saved_model(tmp_path, store):
    """``[[train.callbacks]] name = "ema"``: the saved model holds the running average of the
    weights after every step (with the warm-up min(decay, (1 + n) / (10 + n)))."""
    cfg = config(tmp_path, store, steps=4, checkpoint_every=100,
                 callbacks=[{"name": "ema", "decay": 0.5}])
    trainer = Trainer(cfg)
    seen = []

    class Record(gs.Callback):
        def on_step_end(self, loop, values, batch):
            seen.append([p.detach().clone() for p in loop.model.parameters()])

    trainer.callbacks.insert(0, Record())  # runs before the ema callback swaps the average in
    start = [p.detach().clone() for p in trainer.state.model.parameters()]
    trainer.fit()
    expected = start
    for n, weights in enumerate(seen, 1):
        decay = min(0.5, (1 + n) / (10 + n))
        expected = [e * decay + w * (1 - decay) for e, w in zip(expected, weights)]
    state = load_checkpoint(tmp_path / "run").model_state
    names = [name for name, _ in trainer.state.model.named_parameters()]
    assert len(names) == len(expected)
    for name, e in zip(names, expected):
        torch.testing.assert_close(state[name], e)
