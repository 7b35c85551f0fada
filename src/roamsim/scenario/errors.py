"""Scenario errors that name the field, the bad value and what was expected."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(ValueError):
    """A scenario file that cannot be used; ``problems`` lists every finding."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.source}: invalid scenario ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''})"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def format_path(loc: Sequence[int | str]) -> str:
    """Render a pydantic location as ``cohorts[2].activity.purge_after``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation(
    exc: ValidationError, allowed: Callable[[tuple[int | str, ...]], list[str]] | None = None
) -> list[Problem]:
    """Turn pydantic errors into problems, keeping the user's field names (aliases)."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = format_path(loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            keys = allowed(tuple(loc[:-1])) if allowed else []
            hint = f"; expected one of: {', '.join(keys)}" if keys else ""
            out.append(Problem(path, f"unknown key {loc[-1]!r}{hint}"))
            continue
        if etype == "missing":
            out.append(Problem(path, "required field is missing"))
            continue
        msg = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        out.append(Problem(path, f"got {_short(err.get('input'))}: {msg[0].lower() + msg[1:] if msg else msg}"))
    return out
