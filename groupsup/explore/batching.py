"""Coalescing concurrent model calls of the explorer into one batch (docs/explore.md, "Speed")."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(eq=False)
class _Pending:
    """One caller's input and, once its batch ran, its rows or the batch's error."""

    x: torch.Tensor
    out: torch.Tensor | None = None
    error: BaseException | None = None
    done: bool = False

    def result(self) -> torch.Tensor:
        if self.error is not None:
            raise self.error
        assert self.out is not None
        return self.out


class Coalescer:
    """Runs *fn* (a batch ``(n, ...)`` -> ``(n, ...)`` tensor function) for many threads at
    once: a caller that finds *fn* idle runs it on every input queued so far (its own and
    those of the callers waiting), up to *max_rows* rows; the others wait for their rows.
    Under concurrent requests the model then runs once per batch instead of once per
    request, which on a CPU costs little more than one (docs/explore.md, "Speed"); a lone
    caller runs *fn* on its own input at once. An error in *fn* reaches every caller of the
    batch."""

    def __init__(self, fn: Any, max_rows: int = 64):
        self._fn, self._max_rows = fn, max_rows
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._busy = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        item = _Pending(x)
        with self._cond:
            self._queue.append(item)
            while not item.done and self._busy:
                self._cond.wait()
            if item.done:
                return item.result()
            self._busy = True
            batch, rows = [], 0
            while self._queue and (not batch or rows + len(self._queue[0].x) <= self._max_rows):
                batch.append(self._queue.popleft())
                rows += len(batch[-1].x)
        try:
            out = self._fn(torch.cat([b.x for b in batch]))
            start = 0
            for b in batch:
                b.out = out[start:start + len(b.x)]
                start += len(b.x)
        except BaseException as err:  # every caller of the batch sees it
            for b in batch:
                b.error = err
        with self._cond:
            for b in batch:
                b.done = True
            self._busy = False
            self._cond.notify_all()
        return item.result()
