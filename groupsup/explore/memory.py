"""What the explorer keeps in memory between requests: the codes of examples it has encoded
(:class:`ExampleCodes`) and the uploaded images, each a code and its PNG (:class:`Uploads`).
Both are shared by the server's threads and take their own lock; both are bounded, so a client
cannot grow the process without limit."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

import torch

from groupsup.explore.checks import RequestError

__all__ = ["CODE_CACHE", "ExampleCodes", "Uploads"]

CODE_CACHE = 100_000  # example codes kept in memory before the cache starts afresh


class ExampleCodes:
    """Example id -> ``(Z,)`` code, encoded on first use by *encode* (``list[int]`` ->
    ``(n, Z)``), at most *capacity* kept (beyond it the cache starts afresh)."""

    def __init__(self, encode: Callable[[list[int]], torch.Tensor], capacity: int = CODE_CACHE):
        self._encode, self._capacity = encode, capacity
        self._lock = threading.Lock()
        self._codes: dict[int, torch.Tensor] = {}

    def get(self, ids: Iterable[int]) -> dict[int, torch.Tensor]:
        """The codes of *ids*, encoding the missing ones together (outside the lock, so
        concurrent requests encode concurrently)."""
        ids = set(ids)
        with self._lock:
            found = {i: self._codes[i] for i in ids if i in self._codes}
        missing = sorted(ids - found.keys())
        if missing:
            z = self._encode(missing)
            found.update(zip(missing, z))
            with self._lock:
                if len(self._codes) + len(missing) > self._capacity:
                    self._codes.clear()
                self._codes.update(zip(missing, z))
        return found

    def clear(self) -> None:
        with self._lock:
            self._codes.clear()


class Uploads:
    """Uploaded images by id (``"u1"``, ``"u2"``, ...): each its code and its PNG, the newest
    *capacity* kept (the oldest go first)."""

    def __init__(self, capacity: int):
        self._capacity = capacity
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[torch.Tensor, bytes]] = OrderedDict()
        self._next = 1

    def add(self, code: torch.Tensor, png: bytes) -> str:
        """Keep *code* and *png*; returns the new upload's id."""
        with self._lock:
            name = f"u{self._next}"
            self._next += 1
            self._kept[name] = (code, png)
            while len(self._kept) > self._capacity:
                self._kept.popitem(last=False)
        return name

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._kept

    def _get(self, name: str) -> tuple[torch.Tensor, bytes]:
        with self._lock:
            if name not in self._kept:
                raise RequestError("upload", f"unknown upload {name!r}", 404)
            return self._kept[name]

    def code(self, name: str) -> torch.Tensor:
        """The ``(Z,)`` code of upload *name*; a :class:`RequestError` (404) when it is not (or
        no longer) kept."""
        return self._get(name)[0]

    def png(self, name: str) -> bytes:
        """The PNG of upload *name* (as decoded, in the model's channels)."""
        return self._get(name)[1]
