"""Coalescing concurrent model calls of the explorer into one batch (docs/explore.md, "Speed")."""

from __future__ import annotations

import threading
from typing import Any

import torch


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
        self._queue: list[list[Any]] = []  # [input, result, error, done]
        self._busy = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        item: list[Any] = [x, None, None, False]
        with self._cond:
            self._queue.append(item)
            while not item[3] and self._busy:
                self._cond.wait()
            if item[3]:
                return self._result(item)
            self._busy = True
            batch, rows = [], 0
            while self._queue and (not batch or rows + len(self._queue[0][0]) <= self._max_rows):
                batch.append(self._queue.pop(0))
                rows += len(batch[-1][0])
        try:
            out = self._fn(torch.cat([b[0] for b in batch]))
            start = 0
            for b in batch:
                b[1] = out[start:start + len(b[0])]
                start += len(b[0])
        except BaseException as err:  # every caller of the batch sees it
            for b in batch:
                b[2] = err
        with self._cond:
            for b in batch:
                b[3] = True
            self._busy = False
            self._cond.notify_all()
        return self._result(item)

    @staticmethod
    def _result(item: list[Any]) -> torch.Tensor:
        if item[2] is not None:
            raise item[2]
        return item[1]
