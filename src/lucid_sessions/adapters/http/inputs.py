"""Strict parsers for what a client sends: one parser per kind of input, used everywhere that
kind is read, so that every value is bounded before it costs anything and every refusal is a
400 naming the field.

- `decimal`: a whole number written as 1 to `max_digits` ASCII digits, nothing else (no sign,
  no white space, no `_`, no exponent, no fraction, no other script's digits such as `²`).
  Python's `int()` accepts all of those, and fails on more than 4,300 digits.
- `bounded_int`: a `decimal` between two bounds (query parameters such as `limit`).
- `decimal_fraction`: a non-negative number written as ASCII digits with an optional
  fraction (`12`, `0.5`), nothing else (`float()` accepts `1_0`, `1e3`, `nan`, `inf`).
- `header`: a header's value with the optional white space around it removed (RFC 9110 5.5).
- `media_type`: the media type of a `Content-Type`, lower-cased, without parameters.

Path segments (session ids, chunk numbers) go through `decimal` or the domain's
`validate_id`, which match the whole segment: a trailing newline is not allowed.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from lucid_sessions.domain.errors import InvalidValue

__all__ = [
    "MAX_DIGITS",
    "bounded_int",
    "decimal",
    "decimal_fraction",
    "header",
    "media_type",
    "optional_int",
    "scope_header",
]

MAX_DIGITS = 18
"""The longest decimal a client may send where no narrower bound is known (fits in 63 bits)."""

_FRACTION = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_OWS = " \t"


def decimal(raw: str, field: str, *, max_digits: int = MAX_DIGITS) -> int:
    """`raw` as a whole number: 1 to `max_digits` ASCII digits and nothing else."""
    if not (0 < len(raw) <= max_digits and raw.isascii() and raw.isdigit()):
        raise InvalidValue(field, f"must be a whole number written as 1 to {max_digits} digits")
    return int(raw)


def bounded_int(raw: str | None, field: str, low: int, high: int, default: int) -> int:
    """A query parameter's whole number between `low` and `high` (`default` when absent)."""
    if raw is None:
        return default
    value = decimal(raw, field, max_digits=len(str(high)))
    if not low <= value <= high:
        raise InvalidValue(field, f"must be between {low} and {high}")
    return value


def optional_int(raw: str | None, field: str, low: int, high: int) -> int | None:
    """A query parameter's whole number between `low` and `high`, or None when absent."""
    return None if raw is None else bounded_int(raw, field, low, high, low)


def decimal_fraction(raw: str, field: str) -> float:
    """`raw` as a non-negative number: ASCII digits with an optional fraction, nothing else."""
    if _FRACTION.fullmatch(raw) is None:
        raise InvalidValue(field, "must be a number written as digits, e.g. 12 or 0.5")
    return float(raw)


def header(request: Request[Any, Any, Any], name: str) -> str | None:
    """The value of header `name` without its surrounding white space, or None."""
    raw = request.headers.get(name)
    return None if raw is None else raw.strip(_OWS)


def scope_header(scope: Any, name: bytes) -> str | None:
    """The first value of header `name` (lower-case) in an ASGI scope, or None: for the ASGI
    layers, which run before Litestar builds a request."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def media_type(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip(_OWS).lower()
