"""Buffered random draws from one NumPy stream (scalar draws without per-call overhead).

Values are drawn in blocks with NumPy and handed out one at a time by a
C-level iterator (``itertools.chain`` over the blocks), so a draw costs the
engine one ``__next__`` call, not a Generator call. Each stream has its own
Generator (:func:`engine_generators`), and NumPy draws a stream's values one
after the other whatever the block sizes (``make(g, a)`` then ``make(g, b)``
gives the values of ``make(g, a + b)``): when and how far ahead a block is
drawn never changes a value, so the compiled engine draws ahead, outside its
event loop, and both engines still hand out the same values.
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


ENGINE_STREAMS = ("uniform", "jitter", "service")
"""A cohort's engine draw streams, in the order of their Generators (children of the cohort's engine seed)."""


def engine_generators(seq: np.random.SeedSequence) -> tuple[np.random.Generator, ...]:
    """One Generator per engine stream (:data:`ENGINE_STREAMS`): child ``i`` of ``seq`` for stream ``i`` (what
    ``seq.spawn`` gives a fresh sequence, without counting the children in ``seq``)."""
    return tuple(np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i),
                                                              pool_size=seq.pool_size))
                 for i in range(len(ENGINE_STREAMS)))


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
    """One cohort's engine streams: uniforms, IPX jitter factors and the Generator of its service times."""

    __slots__ = ("jitter", "service_rng", "uniform")

    def __init__(self, seq: np.random.SeedSequence, jitter_sigma: float) -> None:
        uniform, jitter, self.service_rng = engine_generators(seq)
        self.uniform: Callable[[], float] = block_draws(uniform, uniform_block)
        """A float in [0, 1)."""
        self.jitter: Callable[[], float] = (
            block_draws(jitter, jitter_block(jitter_sigma)) if jitter_sigma > 0.0
            else _one)
        """A log-normal factor with median 1 applied to the IPX latency."""


def _one() -> float:
    return 1.0
