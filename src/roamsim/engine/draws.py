"""Buffered random draws from one NumPy stream (scalar draws without per-call overhead)."""

from __future__ import annotations

import numpy as np

_BLOCK = 8192


class Draws:
    """Uniform and standard-normal draws served from blocks of a :class:`numpy.random.Generator`."""

    __slots__ = ("_rng", "_u", "_ui", "_z", "_zi")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._u: list[float] = []
        self._ui = 0
        self._z: list[float] = []
        self._zi = 0

    def uniform(self) -> float:
        """A float in [0, 1)."""
        i = self._ui
        if i == len(self._u):
            self._u = self._rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._u[i]

    def normal(self) -> float:
        """A standard normal float."""
        i = self._zi
        if i == len(self._z):
            self._z = self._rng.standard_normal(_BLOCK).tolist()
            i = 0
        self._zi = i + 1
        return self._z[i]
