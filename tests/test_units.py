"""Property tests for scenario units (durations, sizes, fractions) and distributions."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roamsim.scenario.distributions import Z99, Distribution, parse_distribution
from roamsim.scenario.units import (
    BYTES_PER,
    DURATION_HELP,
    NS_PER,
    UnitError,
    format_duration,
    parse_duration,
    parse_fraction,
    parse_size,
)

NS = st.integers(min_value=0, max_value=2**63 - 1)
UNITS = st.sampled_from(sorted(NS_PER))

# ----------------------------------------------------------------- durations


@given(NS)
def test_format_then_parse_is_identity(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns


@given(NS)
def test_format_is_canonical(ns: int) -> None:
    text = format_duration(ns)
    assert text == format_duration(parse_duration(text))
    assert " " not in text


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), UNITS), min_size=1, max_size=6))
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{q}{unit}" for q, unit in parts)
    assert parse_duration(text) == sum(q * NS_PER[unit] for q, unit in parts)
    assert parse_duration(" ".join(f"{q}{unit}" for q, unit in parts)) == parse_duration(text)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999), UNITS)
def test_decimal_durations(whole: int, frac: int, unit: str) -> None:
    exact = Fraction(whole * 1000 + frac, 1000) * NS_PER[unit]
    assert parse_duration(f"{whole}.{frac:03d}{unit}") == round(exact)  # exact value, half-even rounding


@pytest.mark.parametrize(
    ("text", "ns"),
    [("150ms", 150_000_000), ("1h30m", 5_400_000_000_000), ("7d", 7 * 86_400 * 10**9), ("2.5s", 2_500_000_000),
     ("1w", 7 * 86_400 * 10**9), ("1m", 60 * 10**9), ("1ms", 10**6), ("1us", 1_000), (0, 0), ("0s", 0)],
)
def test_known_durations(text: str | int, ns: int) -> None:
    assert parse_duration(text) == ns


@given(st.one_of(st.integers().filter(lambda n: n != 0), st.floats(allow_nan=False).filter(lambda x: x != 0)))
def test_bare_numbers_are_rejected(n: float) -> None:
    with pytest.raises(UnitError, match="bare number is ambiguous"):
        parse_duration(n)


@given(st.integers(min_value=0, max_value=10**9))
def test_unitless_strings_are_rejected(n: int) -> None:
    with pytest.raises(UnitError):
        parse_duration(str(n))


@pytest.mark.parametrize("bad", ["", " ", "5 parsecs", "5sec", "ms", "-5s", "1h-30m", "1.5", "s5", "1h30", True, False])
def test_malformed_durations_are_rejected_with_help(bad: str | bool) -> None:
    with pytest.raises(UnitError) as info:
        parse_duration(bad)
    assert DURATION_HELP in str(info.value)


# --------------------------------------------------------------------- sizes


@given(st.integers(min_value=0, max_value=2**62))
def test_bare_integer_size_is_bytes(n: int) -> None:
    assert parse_size(n) == n


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(BYTES_PER)))
def test_size_units(n: int, unit: str) -> None:
    assert parse_size(f"{n}{unit}") == n * BYTES_PER[unit]
    assert parse_size(f" {n} {unit} ") == n * BYTES_PER[unit]


@given(st.integers(max_value=-1))
def test_negative_sizes_are_rejected(n: int) -> None:
    with pytest.raises(UnitError):
        parse_size(n)


@pytest.mark.parametrize("bad", ["", "5", "5 parsecs", "-5MB", "5mb", "MB", "5 M B", True])
def test_malformed_sizes_are_rejected(bad: str | bool) -> None:
    with pytest.raises(UnitError):
        parse_size(bad)


def test_decimal_sizes() -> None:
    assert parse_size("1.5GB") == 1_500_000_000
    assert parse_size("0.5KiB") == 512


# ----------------------------------------------------------------- fractions


@given(st.floats(min_value=0.0, max_value=1.0))
def test_fractions_in_range_pass_through(f: float) -> None:
    assert parse_fraction(f) == f


@given(st.integers(min_value=0, max_value=10_000))
def test_percentages(hundredths: int) -> None:
    text = f"{hundredths // 100}.{hundredths % 100:02d}%"
    assert math.isclose(parse_fraction(text), hundredths / 10_000, abs_tol=1e-15)
    assert 0.0 <= parse_fraction(text) <= 1.0


@given(
    st.one_of(
        st.floats(max_value=-1e-9),
        st.floats(min_value=1.000000001),
        st.just(math.nan),
        st.integers(min_value=2),
        st.integers(max_value=-1),
    )
)
def test_fractions_out_of_range_are_rejected(f: float) -> None:
    with pytest.raises(UnitError):
        parse_fraction(f)


@pytest.mark.parametrize("bad", ["100.5%", "-1%", "10", "ten%", "%", "", True])
def test_malformed_percentages_are_rejected(bad: str | bool) -> None:
    with pytest.raises(UnitError):
        parse_fraction(bad)


# ------------------------------------------------------------- distributions


def test_z99_is_the_normal_quantile() -> None:
    assert math.isclose(Z99, statistics.NormalDist().inv_cdf(0.99), rel_tol=1e-12)


@given(st.floats(min_value=1.0, max_value=1e15), st.floats(min_value=0.01, max_value=3.0))
def test_lognormal_sigma_from_p99(median: float, sigma: float) -> None:
    p99 = median * math.exp(sigma * Z99)
    d = Distribution("lognormal", median, p99)
    assert math.isclose(d.sigma, sigma, rel_tol=1e-9)
    assert math.isclose(d.mean, median * math.exp(sigma**2 / 2), rel_tol=1e-9)


def test_sigma_is_only_for_lognormal() -> None:
    with pytest.raises(ValueError, match="log-normal"):
        _ = Distribution("exponential", 5.0).sigma


def _rng() -> np.random.Generator:
    return np.random.default_rng(20270703)


def test_lognormal_sample_median_and_p99() -> None:
    d = parse_distribution({"lognormal": {"median": "5ms", "p99": "150ms"}}, parse_duration, DURATION_HELP)
    x = d.sample(_rng(), 100_000)
    assert x.shape == (100_000,)
    assert x.dtype == np.float64
    assert (x > 0).all()
    assert abs(np.median(x) / 5e6 - 1) < 0.02
    assert abs(np.quantile(x, 0.99) / 150e6 - 1) < 0.10
    assert abs(x.mean() / d.mean - 1) < 0.05


def test_exponential_sample_mean() -> None:
    d = parse_distribution({"exponential": {"mean": "30m"}}, parse_duration, DURATION_HELP)
    x = d.sample(_rng(), 100_000)
    assert (x >= 0).all()
    assert abs(x.mean() / (30 * 60e9) - 1) < 0.02
    assert d.mean == 30 * 60e9


def test_uniform_sample_bounds_and_mean() -> None:
    d = parse_distribution({"uniform": {"low": "1d", "high": "3d"}}, parse_duration, DURATION_HELP)
    x = d.sample(_rng(), 100_000)
    assert x.min() >= 86_400e9
    assert x.max() <= 3 * 86_400e9
    assert abs(x.mean() / (2 * 86_400e9) - 1) < 0.01


def test_bare_value_is_fixed() -> None:
    d = parse_distribution("5ms", parse_duration, DURATION_HELP)
    assert d == Distribution("fixed", 5e6)
    assert (d.sample(_rng(), 10) == 5e6).all()
    assert parse_distribution({"fixed": "5ms"}, parse_duration, DURATION_HELP) == d


def test_sampling_is_reproducible_with_a_seeded_generator() -> None:
    d = Distribution("lognormal", 5e6, 150e6)
    assert np.array_equal(d.sample(_rng(), 1000), d.sample(_rng(), 1000))


DIST_PARAMS = st.integers(min_value=1, max_value=10**15)


@given(
    st.one_of(
        DIST_PARAMS.map(lambda a: Distribution("fixed", float(a))),
        DIST_PARAMS.map(lambda a: Distribution("exponential", float(a))),
        st.tuples(DIST_PARAMS, DIST_PARAMS).filter(lambda t: t[0] < t[1]).map(
            lambda t: Distribution("lognormal", float(t[0]), float(t[1]))
        ),
        st.tuples(DIST_PARAMS, DIST_PARAMS).map(
            lambda t: Distribution("uniform", float(min(t)), float(max(t)))
        ),
    )
)
def test_distribution_yaml_round_trip(d: Distribution) -> None:
    assert parse_distribution(d.to_yaml(format_duration), parse_duration, DURATION_HELP) == d


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"lognormal": {"median": "150ms", "p99": "5ms"}}, "0 < median < p99"),
        ({"lognormal": {"median": "5ms", "p90": "150ms"}}, "exactly the keys median, p99"),
        ({"uniform": {"low": "3d", "high": "1d"}}, "low <= high"),
        ({"exponential": {"mean": "0s"}}, "must be positive"),
        ({"gamma": {"k": "1s"}}, "unknown distribution 'gamma'"),
        ({"fixed": "5ms", "uniform": {}}, "expected a distribution"),
        ({"fixed": "5 parsecs"}, "'5 parsecs' is not valid"),
        (5, "bare number is ambiguous"),
    ],
)
def test_bad_distributions_name_what_was_expected(value: object, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_distribution(value, parse_duration, DURATION_HELP)
    assert fragment in str(info.value)
