"""Probability distributions written in scenario files.

A distribution is a one-key mapping naming its family::

    {fixed: 5ms}
    {exponential: {mean: 5ms}}
    {lognormal: {median: 5ms, p99: 150ms}}
    {uniform: {low: 1d, high: 3d}}

A bare value (``5ms``) means ``{fixed: 5ms}``. Values carry units and are
resolved to integers (nanoseconds for durations, bytes for sizes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Z99 = 2.3263478740408408
"""The standard normal quantile at 0.99, used to turn a p99 into a log-normal sigma."""

FAMILIES = ("fixed", "exponential", "lognormal", "uniform")


@dataclass(frozen=True)
class Distribution:
    """A resolved distribution over non-negative integers (ns or bytes)."""

    kind: str
    a: float
    b: float = 0.0

    @property
    def mean(self) -> float:
        """The mean of the distribution, in its unit."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "exponential":
            return self.a
        if self.kind == "lognormal":
            sigma = self.sigma
            return self.a * math.exp(sigma * sigma / 2.0)
        return (self.a + self.b) / 2.0

    @property
    def sigma(self) -> float:
        """The log-normal shape parameter: ln(p99 / median) / z(0.99)."""
        if self.kind != "lognormal":
            raise ValueError("sigma is defined for log-normal distributions only")
        return math.log(self.b / self.a) / Z99

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` values as float64 in the distribution's unit."""
        if self.kind == "fixed":
            return np.full(n, self.a, dtype=np.float64)
        if self.kind == "exponential":
            return rng.exponential(self.a, n)
        if self.kind == "lognormal":
            return self.a * np.exp(self.sigma * rng.standard_normal(n))
        return rng.uniform(self.a, self.b, n)

    def to_yaml(self, fmt: Callable[[int], str]) -> Any:
        """The mapping form of this distribution, values formatted by ``fmt``."""
        if self.kind == "fixed":
            return {"fixed": fmt(int(self.a))}
        if self.kind == "exponential":
            return {"exponential": {"mean": fmt(int(self.a))}}
        if self.kind == "lognormal":
            return {"lognormal": {"median": fmt(int(self.a)), "p99": fmt(int(self.b))}}
        return {"uniform": {"low": fmt(int(self.a)), "high": fmt(int(self.b))}}


def parse_distribution(value: Any, parse: Callable[[Any], int], unit_help: str) -> Distribution:
    """Resolve a scenario distribution; raise ``ValueError`` naming what was expected."""
    if isinstance(value, Distribution):
        return value
    expected = (
        "a distribution: a value, or one of {fixed: V}, {exponential: {mean: V}}, "
        "{lognormal: {median: V, p99: V}}, {uniform: {low: V, high: V}}, where V is " + unit_help
    )
    if not isinstance(value, dict):
        return Distribution("fixed", float(_param(parse, value, expected)))
    if len(value) != 1:
        raise ValueError(f"expected {expected}")
    (kind, params), = value.items()
    if kind not in FAMILIES:
        raise ValueError(f"unknown distribution {kind!r}: expected one of {', '.join(FAMILIES)}")
    if kind == "fixed":
        return Distribution("fixed", float(_param(parse, params, expected)))
    names = {"exponential": ("mean",), "lognormal": ("median", "p99"), "uniform": ("low", "high")}[kind]
    if not isinstance(params, dict) or set(params) != set(names):
        raise ValueError(f"{kind} takes exactly the keys {', '.join(names)}, each {unit_help}")
    vals = [float(_param(parse, params[n], expected)) for n in names]
    if kind == "exponential":
        if vals[0] <= 0:
            raise ValueError("exponential mean must be positive")
        return Distribution("exponential", vals[0])
    if kind == "lognormal":
        if not 0 < vals[0] < vals[1]:
            raise ValueError("lognormal needs 0 < median < p99")
        return Distribution("lognormal", vals[0], vals[1])
    if vals[0] > vals[1]:
        raise ValueError("uniform needs low <= high")
    return Distribution("uniform", vals[0], vals[1])


def _param(parse: Callable[[Any], int], value: Any, expected: str) -> int:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not valid: {exc}") from None
