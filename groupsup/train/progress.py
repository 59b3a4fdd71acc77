"""What the training loop shows and listens to: progress (a tqdm bar or plain lines),
TensorBoard scalars, and Ctrl-C as a request to checkpoint and stop."""

from __future__ import annotations

import math
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from groupsup.errors import ConfigError


def _duration(seconds: float) -> str:
    """``"1h02m"``, ``"4m05s"`` or ``"12s"``."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Training progress where the user looks: a tqdm bar on a terminal; one plain line per
    log interval elsewhere, so that a log file gets no carriage returns; or nothing.

    *mode* is ``train.progress``: "bar", "lines", "off", or "auto" (a bar when stdout and
    stderr are both terminals, else lines). Under a time budget the bar counts seconds up to
    the budget, when the run will stop, rather than steps it will not reach.
    """

    def __init__(self, mode: str, name: str, steps: int, start: int,
                 time_budget: float | None) -> None:
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() and sys.stderr.isatty() else "lines"
        self.mode, self.name, self.steps, self.time_budget = mode, name, steps, time_budget
        self.bar: Any = None
        if mode == "bar" and time_budget:
            self.bar = tqdm(total=time_budget, desc=name, unit="s", dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s "
                                       "[{elapsed}<{remaining}{postfix}]")
        elif mode == "bar":
            self.bar = tqdm(total=steps, initial=start, desc=name, unit="step",
                            dynamic_ncols=True)

    def advance(self, elapsed: float) -> None:
        """One step done, *elapsed* seconds into the run."""
        if self.bar is None:
            return
        if self.time_budget:
            self.bar.update(min(elapsed, self.time_budget) - self.bar.n)
        else:
            self.bar.update(1)

    def time_left(self, record: dict[str, Any], steps_per_s: float) -> float:
        """Seconds until the run stops: at ``train.steps`` or at the time budget."""
        left = (self.steps - record["step"]) / steps_per_s if steps_per_s > 0 else math.inf
        if self.time_budget:
            left = min(left, self.time_budget - record["time"])
        return left

    def log(self, record: dict[str, Any], terms: list[str], steps_per_s: float) -> None:
        """Show a ``metrics.jsonl`` record (its loss terms named by *terms*)."""
        if self.bar is not None:
            postfix = {"loss": f"{record['loss']:.4f}",
                       **{k: f"{record[k]:.3f}" for k in terms},
                       "gps": f"{record['groups_per_s']:.1f}"}
            if self.time_budget:
                postfix["step"] = str(record["step"])
            self.bar.set_postfix(postfix)
        elif self.mode == "lines":
            losses = "  ".join(f"{k} {record[k]:.4f}" for k in ("loss", *terms))
            where = (f"step {record['step']} ({record['time']:.0f}/{self.time_budget:.0f} s)"
                     if self.time_budget else f"step {record['step']}/{self.steps}")
            print(f"{self.name} {where}  {losses}  "
                  f"{steps_per_s:.2f} steps/s  "
                  f"{_duration(self.time_left(record, steps_per_s))} left", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class StopFlag:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM into a request to checkpoint and stop after
    the current step; a second one stops at once. ``signal`` is the one that asked (its exit
    status, by shell convention, is ``128 + signal``: 130 for Ctrl-C, 143 for SIGTERM)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second signal: stop now
            raise KeyboardInterrupt
        self.requested, self.signal = True, signum
        name = "interrupt" if signum == signal.SIGINT else "terminate (SIGTERM)"
        tqdm.write(f"{name}: finishing this step, then saving a checkpoint "
                   "(Ctrl-C again to abort)")

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}


class TensorBoard:
    """Scalars into ``RUN/tensorboard`` (needs the tensorboard package)."""

    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                              "pip install tensorboard") from err
        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def add_scalar(self, key: str, value: float, step: int) -> None:
        self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()
