"""The strict parsers of client input: every input either parses to a bounded value or is
refused with InvalidValue (a 400 naming the field); nothing else is ever raised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucid_sessions.adapters.http.inputs import (
    MAX_DIGITS,
    bounded_int,
    decimal,
    decimal_fraction,
    media_type,
    optional_int,
)
from lucid_sessions.adapters.http.ranges import ByteRange, Unsatisfiable, parse_range
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.session import validate_id
from lucid_sessions.domain.values import RDPConfig, RecordingConfig

# What the hostile requests of the hardening review sent, and their neighbours.
NOT_DECIMAL = [
    "",
    " 1",
    "1 ",
    "+1",
    "-1",
    "1_0",
    "3e0",
    "5.0",
    "0x10",
    "²",
    "1²",
    "\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() says yes
    "1\n",
    "\n1",
    "1\x00",
    "9" * 5000,
    "0" * 5000 + "3",
]


@pytest.mark.parametrize("raw", NOT_DECIMAL)
def test_decimal_refuses_anything_but_ascii_digits(raw: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        decimal(raw, "x-chunk-frame-count")
    assert caught.value.field == "x-chunk-frame-count"


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("007", 7), ("9" * MAX_DIGITS, 10**18 - 1)])
def test_decimal_reads_plain_digits(raw: str, value: int) -> None:
    assert decimal(raw, "n") == value


@given(st.text())
def test_decimal_parses_or_refuses_any_text(raw: str) -> None:
    try:
        value = decimal(raw, "n")
    except InvalidValue:
        assert not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= MAX_DIGITS)
    else:
        assert str(value) == raw.lstrip("0") or (value == 0 and set(raw) == {"0"})


@pytest.mark.parametrize("raw", ["3e0", "5.0", "0", "1001", "00000000001", "1\n", " 5"])
def test_bounded_int_refuses_lax_forms_and_values_out_of_range(raw: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        bounded_int(raw, "limit", 1, 1000, 50)
    assert caught.value.field == "limit"


def test_bounded_int_defaults_and_bounds() -> None:
    assert bounded_int(None, "limit", 1, 1000, 50) == 50
    assert bounded_int("1", "limit", 1, 1000, 50) == 1
    assert bounded_int("1000", "limit", 1, 1000, 50) == 1000
    assert optional_int(None, "tree_size", 1, 10**12) is None
    assert optional_int("3", "tree_size", 1, 10**12) == 3
    with pytest.raises(InvalidValue):
        optional_int("3e0", "tree_size", 1, 10**12)


@given(st.text(), st.integers(0, 10), st.integers(10, 10**6))
def test_bounded_int_never_escapes_its_bounds(raw: str, low: int, high: int) -> None:
    try:
        value = bounded_int(raw, "n", low, high, low)
    except InvalidValue:
        return
    assert low <= value <= high


@pytest.mark.parametrize("raw", ["1_0", "1e3", "nan", "inf", "-1", "+1", ".5", "1.", " 1", "1\n"])
def test_decimal_fraction_refuses_what_float_accepts(raw: str) -> None:
    with pytest.raises(InvalidValue):
        decimal_fraction(raw, "x-chunk-duration-seconds")


@given(st.text())
def test_decimal_fraction_parses_or_refuses_any_text(raw: str) -> None:
    try:
        value = decimal_fraction(raw, "d")
    except InvalidValue:
        return
    assert 0 <= value < 1e12
    assert raw.isascii()


def test_decimal_fraction_reads_digits_and_a_fraction() -> None:
    assert decimal_fraction("10", "d") == 10.0
    assert decimal_fraction("0.25", "d") == 0.25


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type(" Application/JSON ; charset=utf-8") == "application/json"
    assert media_type("") == ""


# -- Range (RFC 9110 section 14) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "total", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, ByteRange(0, 4)),
        ("bytes=5-", 10, ByteRange(5, 9)),
        ("bytes=-3", 10, ByteRange(7, 9)),
        ("bytes=-30", 10, ByteRange(0, 9)),
        ("bytes=2-99", 10, ByteRange(2, 9)),
        ("BYTES=1-1", 10, ByteRange(1, 1)),
        ("bytes=0-" + "9" * 5000, 10, ByteRange(0, 9)),  # an end past the content: to the end
        ("bytes=-" + "9" * 5000, 10, ByteRange(0, 9)),  # a suffix longer than the content
        ("bytes=0-1,3-4", 10, None),  # several ranges: the whole content (a server may)
        ("bytes=x-y", 10, None),  # not a byte range: ignored (RFC 9110 14.2)
        ("items=0-1", 10, None),
        ("bytes=0-4\n", 10, None),
        ("bytes=-1", 0, None),  # the one satisfiable range of an empty content: all of it
    ],
)
def test_parse_range(header: str | None, total: int, expected: ByteRange | None) -> None:
    assert parse_range(header, total) == expected


@pytest.mark.parametrize(
    ("header", "total"),
    [
        ("bytes=10-", 10),
        ("bytes=5-4", 10),
        ("bytes=-0", 10),
        ("bytes=0-", 0),
        ("bytes=-0", 0),
        ("bytes=" + "9" * 5000 + "-", 10),
        ("bytes=" + "9" * 5000 + "-" + "9" * 5000, 10),
    ],
)
def test_unsatisfiable_ranges(header: str, total: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, total)


@given(st.one_of(st.none(), st.text()), st.integers(0, 10**12))
def test_parse_range_answers_any_header(header: str | None, total: int) -> None:
    try:
        found = parse_range(header, total)
    except Unsatisfiable:
        return
    if found is not None:
        assert 0 <= found.start <= found.end < total


@given(st.integers(0, 10**15), st.integers(0, 10**15), st.integers(1, 10**15))
def test_parse_range_of_well_formed_numbers(first: int, last: int, total: int) -> None:
    try:
        found = parse_range(f"bytes={first}-{last}", total)
    except Unsatisfiable:
        assert first >= total or last < first
        return
    assert found == ByteRange(first, min(last, total - 1))


# -- Patterns match the whole value (no trailing newline) --------------------------------


@pytest.mark.parametrize("raw", ["abc\n", "abc\r\n", "\nabc", "a" * 65, "", "a b", "a/b"])
def test_session_ids_match_whole(raw: str) -> None:
    with pytest.raises(InvalidValue):
        validate_id(raw)


@pytest.mark.parametrize("host", ["db1.corp\n", "999.999.999.999", "1.2.3.256", "-a.corp", "a..b"])
def test_hosts_are_checked_whole(host: str) -> None:
    with pytest.raises(InvalidValue):
        RDPConfig(host=host)


@pytest.mark.parametrize("host", ["db1.corp", "10.0.0.1", "::1", "rdp-01", "a.b.c.example"])
def test_real_hosts_pass(host: str) -> None:
    assert RDPConfig(host=host).host == host


@pytest.mark.parametrize("resolution", ["1920x1080\n", "1920x1080 ", "1920X1080", "x1080"])
def test_resolutions_are_checked_whole(resolution: str) -> None:
    with pytest.raises(InvalidValue):
        RecordingConfig(resolution=resolution)
