"""Load a scenario file: YAML → validated, cross-checked :class:`Scenario`."""

from __future__ import annotations

import difflib
import hashlib
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from roamsim.scenario.errors import Problem, ScenarioError, problems_from_validation
from roamsim.scenario.reference import cohort_block_size
from roamsim.scenario.schema import Scenario


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate keys (a typo must never be silently ignored)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (for an unknown-key message)."""
    model: type[BaseModel] = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return []
        nested = _model_in(field.annotation)
        if nested is None:
            return []
        model = nested
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text, turning syntax errors into a :class:`ScenarioError` with a line number."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  # nosec B506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        context = ""
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            # e.g. an unclosed "{": the problem shows on a later line than its cause
            cm = exc.context_mark
            context = f" ({exc.context} started at line {cm.line + 1}, column {cm.column + 1})"
        raise ScenarioError(
            source, [Problem("", f"not valid YAML at {where}: {exc.problem or exc}{context}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [Problem("", f"not valid YAML: {exc}")]) from None


def scenario_from_data(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-parsed data into a :class:`Scenario` (schema, then cross-references)."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem("", f"got {type(data).__name__}: expected a mapping at the top level")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, problems_from_validation(exc, allowed_keys)) from None
    problems = list(cross_check(scenario))
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises :class:`ScenarioError` on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), [Problem("", f"cannot read the file: {exc.strerror}")]) from None
    return scenario_from_data(parse_yaml(text, str(p)), str(p))


def scenario_digest(path: str | Path) -> str:
    """SHA-256 of a scenario file's bytes (recorded in the run manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _unknown(kind: str, value: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(value, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{value!r} is not a known {kind}{hint}; expected one of: {', '.join(known)}"


def cross_check(s: Scenario) -> Iterable[Problem]:
    """Checks that span fields: unique ids, references to operators and countries."""
    ops: dict[str, int] = {}
    plmns: dict[str, int] = {}
    for i, op in enumerate(s.operators):
        if op.id in ops:
            yield Problem(f"operators[{i}].id", f"{op.id!r} is already used by operators[{ops[op.id]}]")
        ops.setdefault(op.id, i)
        if op.plmn in plmns:
            yield Problem(f"operators[{i}].plmn", f"{op.plmn!r} is already used by operators[{plmns[op.plmn]}]")
        plmns.setdefault(op.plmn, i)
    # The first operator with an id wins, so a duplicate id does not also break every reference to it.
    by_id = {op_id: s.operators[i] for op_id, i in ops.items()}
    countries = {op.country for op in s.operators}
    known_countries = ", ".join(sorted(countries))
    for i, op in enumerate(s.operators):
        for j, pref in enumerate(op.sim_preferred):
            if pref not in by_id:
                yield Problem(f"operators[{i}].sim_preferred[{j}]", _unknown("operator", pref, by_id))

    for i, o in enumerate(s.ipx.overrides):
        for j, end in enumerate(o.between):
            if end not in by_id and not (len(end) == 2 and end.isupper()):
                yield Problem(f"ipx.overrides[{i}].between[{j}]",
                              f"{end!r}: expected an operator id or a country code")
        kinds = {e in by_id for e in o.between}
        if len(kinds) != 1:
            yield Problem(f"ipx.overrides[{i}].between",
                          f"{list(o.between)!r}: expected two operator ids or two country codes, not a mix")

    seen_pairs: dict[tuple[str, str], str] = {}
    for i, a in enumerate(s.agreements):
        if a.home not in by_id:
            yield Problem(f"agreements[{i}].home", _unknown("operator", a.home, by_id))
            continue
        for j, v in enumerate(a.visited):
            if v not in by_id:
                yield Problem(f"agreements[{i}].visited[{j}]", _unknown("operator", v, by_id))
            elif v == a.home:
                yield Problem(f"agreements[{i}].visited[{j}]", f"{v!r} is the home operator itself")
            elif (a.home, v) in seen_pairs:
                yield Problem(f"agreements[{i}].visited[{j}]",
                              f"{a.home!r} → {v!r} already has an agreement at {seen_pairs[(a.home, v)]}")
            else:
                seen_pairs[(a.home, v)] = f"agreements[{i}]"

    seen_steer: dict[tuple[str, str], int] = {}
    for i, st in enumerate(s.steering):
        if st.home not in by_id:
            yield Problem(f"steering[{i}].home", _unknown("operator", st.home, by_id))
        if st.country not in countries:
            yield Problem(f"steering[{i}].country",
                          f"{st.country!r} has no operator in this scenario; expected one of: {known_countries}")
        key = (st.home, st.country)
        if key in seen_steer:
            yield Problem(f"steering[{i}]",
                          f"{st.home!r} in {st.country} is already steered by steering[{seen_steer[key]}]")
        seen_steer.setdefault(key, i)
        for j, pref in enumerate(st.preferred):
            if pref not in by_id:
                yield Problem(f"steering[{i}].preferred[{j}]", _unknown("operator", pref, by_id))
            elif by_id[pref].country != st.country:
                yield Problem(f"steering[{i}].preferred[{j}]",
                              f"{pref!r} is in {by_id[pref].country}: expected an operator in {st.country}")

    names: dict[str, int] = {}
    per_home: dict[str, int] = {}
    for i, c in enumerate(s.cohorts):
        per_home[c.home] = per_home.get(c.home, 0) + 1
        if per_home[c.home] == 100:
            yield Problem(f"cohorts[{i}].home", f"{c.home!r} has more than 99 cohorts: expected at most 99 per "
                          "home operator (each takes one block of MSINs)")
        if c.home in by_id:
            block = cohort_block_size(by_id[c.home].plmn)
            mnc = by_id[c.home].mnc
            if c.roamers > block:
                yield Problem(f"cohorts[{i}].roamers", f"got {c.roamers}: expected at most {block:,} per cohort "
                              f"for the {len(mnc)}-digit MNC of {c.home!r} (split the cohort)")
        if c.name in names:
            yield Problem(f"cohorts[{i}].name", f"{c.name!r} is already used by cohorts[{names[c.name]}]")
        names.setdefault(c.name, i)
        home = by_id.get(c.home)
        if home is None:
            yield Problem(f"cohorts[{i}].home", _unknown("operator", c.home, by_id))
        if not c.destinations and not c.itineraries:
            yield Problem(f"cohorts[{i}].destinations", "empty: give destinations (country → weight) or itineraries")
        if c.destinations and sum(c.destinations.values()) <= 0:
            yield Problem(f"cohorts[{i}].destinations", "the weights sum to 0: expected at least one positive weight")
        legs = [(f"cohorts[{i}].destinations.{k}", k) for k in c.destinations] + [
            (f"cohorts[{i}].itineraries[{j}].countries[{k}]", cc)
            for j, it in enumerate(c.itineraries) for k, cc in enumerate(it.countries)
        ]
        for path, cc in legs:
            if cc not in countries:
                yield Problem(path, f"{cc!r} has no operator in this scenario; expected one of: {known_countries}")
            elif home is not None and cc == home.country:
                yield Problem(path, f"{cc!r} is the home country of {c.home!r}: expected a destination abroad")
