"""Buffered random draws from one NumPy stream (scalar draws without per-call overhead).

Values are drawn in blocks with NumPy and handed out one at a time, so the
engine's per-event cost is a list index, not a Generator call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_BLOCK = 8192


class Block:
    """Serves values of ``make(rng, n)`` one at a time, refilling ``n`` at a time."""

    __slots__ = ("_buf", "_i", "_make", "_rng")

    def __init__(self, rng: np.random.Generator, make: Callable[[np.random.Generator, int], np.ndarray]) -> None:
        self._rng = rng
        self._make = make
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        i = self._i
        if i == len(self._buf):
            self._buf = self._make(self._rng, _BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]


class Draws:
    """One cohort's engine stream: uniforms, IPX jitter factors and service times."""

    __slots__ = ("jitter", "rng", "uniform")

    def __init__(self, rng: np.random.Generator, jitter_sigma: float) -> None:
        self.rng = rng
        self.uniform = Block(rng, lambda g, n: g.random(n)).next
        """A float in [0, 1)."""
        if jitter_sigma > 0.0:
            self.jitter = Block(rng, lambda g, n: np.exp(jitter_sigma * g.standard_normal(n))).next
        else:
            self.jitter = _one
        """A log-normal factor with median 1 applied to the IPX latency."""


def _one() -> float:
    return 1.0
