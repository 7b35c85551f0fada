"""Units used in scenario files: durations, percentages and data sizes.

Durations are written with a unit ("150ms", "30m", "7d", "1h30m") and are held
internally as an ``int`` number of nanoseconds, the simulator's clock unit.
"""

from __future__ import annotations

import re
from decimal import Decimal

NS_PER: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
    "d": 86_400 * 1_000_000_000,
    "w": 7 * 86_400 * 1_000_000_000,
}
"""Nanoseconds per duration unit (``m`` is minutes)."""

BYTES_PER: dict[str, int] = {
    "B": 1,
    "kB": 1_000,
    "KB": 1_000,
    "MB": 1_000_000,
    "GB": 1_000_000_000,
    "TB": 1_000_000_000_000,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
}

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d|w)")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")

DURATION_HELP = 'a duration with a unit, e.g. "150ms", "30s", "30m", "1h30m", "7d" (units: ns us ms s m h d w)'
SIZE_HELP = 'a data size with a unit, e.g. "500MB", "3GB", "200kB"'
PERCENT_HELP = 'a percentage such as "10%", or a fraction between 0 and 1'


class UnitError(ValueError):
    """A value that does not parse as the expected unit."""


def parse_duration(text: str | int | float) -> int:
    """Parse a duration such as ``"1h30m"`` or ``"2.5s"`` into nanoseconds.

    A bare ``0`` is accepted; any other number needs a unit, because a bare
    number is ambiguous (seconds or milliseconds?).
    """
    if isinstance(text, bool):
        raise UnitError(f"expected {DURATION_HELP}")
    if isinstance(text, (int, float)):
        if text == 0:
            return 0
        raise UnitError(f"a bare number is ambiguous: expected {DURATION_HELP}")
    s = text.strip().replace(" ", "")
    if not s:
        raise UnitError(f"expected {DURATION_HELP}")
    pos = 0
    total = Decimal(0)  # exact: a float sum loses nanoseconds beyond 2**53 ns (~104 days)
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += Decimal(m.group(1)) * NS_PER[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise UnitError(f"expected {DURATION_HELP}")
    return round(total)  # Decimal → int, half-even


def format_duration(ns: int) -> str:
    """Format nanoseconds as the shortest exact duration string (inverse of :func:`parse_duration`)."""
    if ns == 0:
        return "0s"
    out = []
    rest = ns
    for unit in ("d", "h", "m", "s", "ms", "us", "ns"):
        q, rest = divmod(rest, NS_PER[unit])
        if q:
            out.append(f"{q}{unit}")
    return "".join(out)


def parse_size(text: str | int) -> int:
    """Parse a data size such as ``"500MB"`` into bytes; a bare integer means bytes."""
    if isinstance(text, bool):
        raise UnitError(f"expected {SIZE_HELP}")
    if isinstance(text, int):
        if text < 0:
            raise UnitError(f"expected {SIZE_HELP}")
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise UnitError(f"expected {SIZE_HELP}")
    return round(Decimal(m.group(1)) * BYTES_PER[m.group(2)])


def parse_fraction(value: str | int | float) -> float:
    """Parse ``"10%"`` or ``0.1`` into a fraction in [0, 1]."""
    if isinstance(value, bool):
        raise UnitError(f"expected {PERCENT_HELP}")
    if isinstance(value, str):
        m = _PERCENT.match(value)
        if not m:
            raise UnitError(f"expected {PERCENT_HELP}")
        f = float(m.group(1)) / 100.0
    else:
        f = float(value)
    if not 0.0 <= f <= 1.0:
        raise UnitError(f"expected {PERCENT_HELP}")
    return f
