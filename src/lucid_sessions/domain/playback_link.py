"""Signed playback links: the capability token that lets a player fetch one session's
recording without an API token.

A link grants ``GET`` of one session's playback resources (the player page, the playlist and
the recording it lists) until `PlaybackGrant.expires_at`, and nothing else; the HTTP adapter
accepts the token on those routes only. The token is stateless: it carries the grant and a
MAC by the service's link key (the `LinkSigner` port), so it works on every replica and
after a restart, and rotating the link key ends every outstanding link.

Token format (ASCII, at most `MAX_TOKEN_CHARS` characters)::

    v1.<payload>.<mac>

``payload`` and ``mac`` are base64url without padding (RFC 4648 section 5), in canonical form
(the unused low bits of the last character are zero, so one token has one spelling). The
payload is the ASCII text ``<session id>:<expires at>:<key id>``: the session id
(``[A-Za-z0-9_-]{1,64}``), the expiry in whole seconds since the epoch (decimal, no leading
zero) and the id of the key that signed it (``[A-Za-z0-9_-]{1,64}``). The MAC is computed over
the token's text before the last dot, ``v1.<payload>`` (so the version is signed too), and is
16 to 64 bytes long.

This module is pure: the caller brings the time (`now_epoch`) and the MAC functions. It checks
the form, names the key and checks the grant; the signer compares MACs in constant time. A
link that fails any step raises `InvalidLink`, an `Unauthenticated` (HTTP 401).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from lucid_sessions.domain.errors import InvalidLink, InvalidValue
from lucid_sessions.domain.session import validate_id

__all__ = [
    "DEFAULT_LINK_SECONDS",
    "LINK_VERSION",
    "MAX_LINK_SECONDS",
    "MAX_MAC_BYTES",
    "MAX_TOKEN_CHARS",
    "MIN_MAC_BYTES",
    "InvalidLink",
    "PlaybackGrant",
    "check_grant",
    "decode_link",
    "encode_link",
    "new_grant",
    "open_link",
]

LINK_VERSION: Final = "v1"
MAX_TOKEN_CHARS: Final = 512
MIN_MAC_BYTES: Final = 16
MAX_MAC_BYTES: Final = 64
DEFAULT_LINK_SECONDS: Final = 900
MAX_LINK_SECONDS: Final = 86_400
_MAX_EXPIRES_AT: Final = 10**11  # year 5138: eleven decimal digits at most
_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EXPIRES_AT: Final = re.compile(r"[1-9][0-9]{0,10}")
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class PlaybackGrant:
    """What a link grants: ``GET`` of session `session_id`'s playback until `expires_at`
    (seconds since the epoch, excluded), signed by the link key `key_id`."""

    session_id: str
    expires_at: int
    key_id: str

    def __post_init__(self) -> None:
        validate_id(self.session_id)
        if (
            isinstance(self.expires_at, bool)
            or not isinstance(self.expires_at, int)
            or not 0 < self.expires_at < _MAX_EXPIRES_AT
        ):
            raise InvalidValue("expires_at", f"must be whole seconds in 1..{_MAX_EXPIRES_AT - 1}")
        if not _KEY_ID.fullmatch(self.key_id):
            raise InvalidValue("key_id", "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")


def new_grant(
    session_id: str,
    key_id: str,
    now_epoch: float,
    expires_in_seconds: int = DEFAULT_LINK_SECONDS,
) -> PlaybackGrant:
    """A grant for `session_id` that ends `expires_in_seconds` (1 to `MAX_LINK_SECONDS`) after
    `now_epoch`, rounded down to the whole second (a link never outlives what was asked)."""
    if (
        isinstance(expires_in_seconds, bool)
        or not isinstance(expires_in_seconds, int)
        or not 1 <= expires_in_seconds <= MAX_LINK_SECONDS
    ):
        raise InvalidValue("expires_in_seconds", f"must be a whole number in 1..{MAX_LINK_SECONDS}")
    if not math.isfinite(now_epoch) or now_epoch < 0:
        raise InvalidValue("now_epoch", "must be a finite time after the epoch")
    return PlaybackGrant(session_id, math.floor(now_epoch) + expires_in_seconds, key_id)


def encode_link(grant: PlaybackGrant, mac: Callable[[bytes], bytes]) -> str:
    """The token of `grant`, its MAC made by `mac` (the signer of key `grant.key_id`)."""
    payload = f"{grant.session_id}:{grant.expires_at}:{grant.key_id}".encode("ascii")
    signed = f"{LINK_VERSION}.{_encode(payload)}"
    code = mac(signed.encode("ascii"))
    if not MIN_MAC_BYTES <= len(code) <= MAX_MAC_BYTES:
        raise InvalidValue("mac", f"must be {MIN_MAC_BYTES} to {MAX_MAC_BYTES} bytes")
    return f"{signed}.{_encode(code)}"


def decode_link(token: str) -> tuple[PlaybackGrant, bytes, bytes]:
    """The grant a token claims, the bytes its MAC covers and the MAC, still to be verified
    (by the signer of `grant.key_id`) and checked (`check_grant`).

    Raises `InvalidLink`, and nothing else, for anything but a well-formed token.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise InvalidLink("malformed playback link")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != LINK_VERSION:
        raise InvalidLink("malformed playback link (expected v1.<payload>.<mac>)")
    payload, mac = _decode(parts[1]), _decode(parts[2])
    if not MIN_MAC_BYTES <= len(mac) <= MAX_MAC_BYTES:
        raise InvalidLink("malformed playback link (bad MAC length)")
    fields = payload.decode("ascii", errors="replace").split(":")
    if len(fields) != 3:
        raise InvalidLink("malformed playback link (bad payload)")
    session_id, expires_at, key_id = fields
    if not _EXPIRES_AT.fullmatch(expires_at):  # int() would take "+1", "01" or "1_0"
        raise InvalidLink("malformed playback link (bad payload)")
    try:
        grant = PlaybackGrant(session_id, int(expires_at), key_id)
    except InvalidValue:
        raise InvalidLink("malformed playback link (bad payload)") from None
    return grant, f"{parts[0]}.{parts[1]}".encode("ascii"), mac


def check_grant(grant: PlaybackGrant, session_id: str, now_epoch: float) -> None:
    """Refuse (`InvalidLink`) a grant for another session than `session_id`, or one expired
    at `now_epoch`: at `expires_at` exactly it is expired (no leeway)."""
    if grant.session_id != session_id:
        raise InvalidLink("the playback link is for another session")
    if not now_epoch < grant.expires_at:  # a NaN time is expired too
        raise InvalidLink("the playback link has expired")


def open_link(
    token: str,
    session_id: str,
    now_epoch: float,
    verify: Callable[[bytes, bytes, str], bool],
) -> PlaybackGrant:
    """The grant of `token` for `session_id` at `now_epoch`, once decoded, its MAC verified
    by `verify(signed, mac, key_id)` (`LinkSigner.verify`) and its grant checked; `InvalidLink`
    at the first step that fails. The MAC is verified before the grant is read, so an
    unauthenticated token learns nothing from the answer."""
    grant, signed, mac = decode_link(token)
    if not verify(signed, mac, grant.key_id):
        raise InvalidLink("the playback link's signature does not verify")
    check_grant(grant, session_id, now_epoch)
    return grant


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    """Canonical unpadded base64url, else `InvalidLink`."""
    if not _BASE64URL.fullmatch(text):
        raise InvalidLink("malformed playback link (not base64url)")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidLink("malformed playback link (not base64url)") from None
    if _encode(data) != text:
        raise InvalidLink("malformed playback link (not canonical base64url)")
    return data
