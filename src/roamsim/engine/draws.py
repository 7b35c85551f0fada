"""Buffered random draws from one NumPy stream (scalar draws without per-call overhead).

Values are drawn in blocks with NumPy and handed out one at a time by a
C-level iterator (``itertools.chain`` over the blocks), so a draw costs the
engine one ``__next__`` call, not a Generator call. A block is drawn when the
previous one is used up, never ahead: streams that share a Generator draw in
the order their values are consumed.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain

import numpy as np

from roamsim.scenario.distributions import Distribution

_BLOCK = 8192


def block_draws(rng: np.random.Generator, make: Callable[[np.random.Generator, int], np.ndarray]
                ) -> Callable[[], float]:
    """A function returning the values of ``make(rng, n)`` one at a time, drawing ``n`` = 8192 at a time."""
    blocks = iter(lambda: make(rng, _BLOCK).tolist(), None)  # never None: an endless supply of blocks
    return chain.from_iterable(blocks).__next__


def uniform_block(g: np.random.Generator, n: int) -> np.ndarray:
    """``n`` floats in [0, 1)."""
    return g.random(n)


def jitter_block(sigma: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Blocks of log-normal factors with median 1 and log-sd ``sigma`` (the IPX latency jitter)."""
    return lambda g, n: np.exp(sigma * g.standard_normal(n))


def service_block(d: Distribution) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Blocks of service times of ``d`` in ns (negative draws of a distribution clipped to 0)."""
    return lambda g, n: np.maximum(d.sample(g, n), 0.0)


class Draws:
    """One cohort's engine stream: uniforms, IPX jitter factors and service times."""

    __slots__ = ("jitter", "rng", "uniform")

    def __init__(self, rng: np.random.Generator, jitter_sigma: float) -> None:
        self.rng = rng
        self.uniform: Callable[[], float] = block_draws(rng, uniform_block)
        """A float in [0, 1)."""
        self.jitter: Callable[[], float] = (
            block_draws(rng, jitter_block(jitter_sigma)) if jitter_sigma > 0.0
            else _one)
        """A log-normal factor with median 1 applied to the IPX latency."""


def _one() -> float:
    return 1.0
