"""The playback-link token of ``lucid_sessions.domain.playback_link``: its form, its checks,
and that a malformed token only ever raises `InvalidLink`."""

from __future__ import annotations

import base64
import hmac
import math
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucid_sessions.domain.errors import InvalidValue, Unauthenticated
from lucid_sessions.domain.playback_link import (
    DEFAULT_LINK_SECONDS,
    MAX_LINK_SECONDS,
    MAX_TOKEN_CHARS,
    InvalidLink,
    PlaybackGrant,
    check_grant,
    decode_link,
    encode_link,
    new_grant,
    open_link,
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = bytes(range(32))
KEY_ID = "k1"
GRANT = PlaybackGrant("sess-0001", 1_800_000_000, KEY_ID)
TOKEN_CHARACTERS = string.ascii_letters + string.digits + "-_.=:+/ "


def mac(data: bytes) -> bytes:
    return hmac.digest(KEY, data, "sha256")


def verify(data: bytes, code: bytes, key_id: str) -> bool:
    return key_id == KEY_ID and hmac.compare_digest(mac(data), code)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_round_trips() -> None:
    token = encode_link(GRANT, mac)
    version, payload, code = token.split(".")
    assert version == "v1"
    assert base64.urlsafe_b64decode(payload + "==") == b"sess-0001:1800000000:k1"
    grant, signed, decoded_mac = decode_link(token)
    assert grant == GRANT
    assert signed == f"v1.{payload}".encode()
    assert decoded_mac == mac(signed) == base64.urlsafe_b64decode(code + "=")
    assert open_link(token, "sess-0001", 1_700_000_000, verify) == GRANT


def test_the_longest_grant_fits_the_length_bound() -> None:
    grant = PlaybackGrant("s" * 64, 10**11 - 1, "k" * 64)
    token = encode_link(grant, lambda data: bytes(64))
    assert len(token) <= MAX_TOKEN_CHARS
    assert decode_link(token)[0] == grant


def test_every_single_character_change_is_refused() -> None:
    token = encode_link(GRANT, mac)
    changed = 0
    for at in range(len(token)):
        variants = [token[:at] + token[at + 1 :]]  # deleted
        variants += [token[:at] + c + token[at + 1 :] for c in TOKEN_CHARACTERS if c != token[at]]
        variants += [token[:at] + c + token[at:] for c in "A_.="]  # inserted
        for variant in variants:
            with pytest.raises(InvalidLink):
                open_link(variant, "sess-0001", 1_700_000_000, verify)
            changed += 1
    assert changed > 10 * len(token) * len(TOKEN_CHARACTERS) // 11


def test_a_non_canonical_last_character_is_refused() -> None:
    """A 32-byte MAC is 43 characters with 2 spare bits: the same bytes have 4 spellings, and
    only the one with zero spare bits is a token (the others would pass the MAC check)."""
    token = encode_link(GRANT, mac)
    head, code = token.rsplit(".", 1)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(code[-1])
    assert last % 4 == 0
    for spare in (1, 2, 3):
        variant = f"{head}.{code[:-1]}{alphabet[last + spare]}"
        assert base64.urlsafe_b64decode(variant.rsplit(".", 1)[1] + "=") == mac(head.encode())
        with pytest.raises(InvalidLink, match="canonical"):
            decode_link(variant)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1..",
        "v1.." + b64(bytes(32)),
        "v2." + b64(b"sess-0001:1800000000:k1") + "." + b64(bytes(32)),
        "V1." + b64(b"sess-0001:1800000000:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:1800000000:k1") + "." + b64(bytes(32)) + ".x",
        "v1." + b64(b"sess-0001:1800000000:k1") + "=." + b64(bytes(32)),  # padding
        "v1." + b64(b"sess-0001:1800000000:k1") + "." + b64(bytes(15)),  # MAC too short
        "v1." + b64(b"sess-0001:1800000000:k1") + "." + b64(bytes(65)),  # MAC too long
        "v1." + b64(b"sess-0001:1800000000") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:1800000000:k1:x") + "." + b64(bytes(32)),
        "v1." + b64(b"sess 0001:1800000000:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:01800000000:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:+1800000000:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:1_800_000_000:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:0:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:100000000000:k1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:1800000000:k.1") + "." + b64(bytes(32)),
        "v1." + b64(b"sess-0001:1800000000:") + "." + b64(bytes(32)),
        "v1." + b64("séss:1800000000:k1".encode()) + "." + b64(bytes(32)),
        "v1." + b64(b"\xff\xfe:1800000000:k1") + "." + b64(bytes(32)),
        "v1.c2Vzcy0x!.AAAA",
        "v1.c2Vzcy0x.AAAAA",  # 5 characters: no whole byte
        "v1.c2Vzcy0x.AA AA",
        "v1.\u0663.AAAA",  # a non-ASCII digit
        "v1." + "A" * (MAX_TOKEN_CHARS - 5) + ".AA",  # one past the bound
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidLink, match="malformed"):
        decode_link(token)


def test_a_too_long_token_is_refused_before_it_is_read() -> None:
    token = encode_link(GRANT, mac)
    for long in (token + "A" * (MAX_TOKEN_CHARS + 1 - len(token)), "v1." * 100_000):
        with pytest.raises(InvalidLink, match=r"^malformed playback link$"):
            decode_link(long)


@PROPERTY
@given(token=st.text(max_size=600))
def test_any_string_is_a_grant_or_invalid_link(token: str) -> None:
    try:
        grant, _, _ = decode_link(token)
    except InvalidLink:
        return
    assert isinstance(grant, PlaybackGrant)


@PROPERTY
@given(payload=st.binary(max_size=200), code=st.binary(max_size=80), padded=st.booleans())
def test_any_payload_and_mac_are_a_grant_or_invalid_link(
    payload: bytes, code: bytes, padded: bool
) -> None:
    token = f"v1.{b64(payload)}.{b64(code)}"
    if padded:
        token = f"v1.{base64.urlsafe_b64encode(payload).decode()}.{b64(code)}"
    try:
        grant, signed, decoded = decode_link(token)
    except InvalidLink:
        return
    assert decoded == code
    assert signed == token.rsplit(".", 1)[0].encode()
    assert f"{grant.session_id}:{grant.expires_at}:{grant.key_id}".encode() == payload


@PROPERTY
@given(token=st.text(alphabet=TOKEN_CHARACTERS, max_size=300))
def test_token_like_strings_never_open(token: str) -> None:
    with pytest.raises(InvalidLink):
        open_link(token, "sess-0001", 1_700_000_000, verify)


def test_a_link_is_expired_at_its_expiry_exactly() -> None:
    check_grant(GRANT, "sess-0001", GRANT.expires_at - 0.001)
    for now in (GRANT.expires_at, GRANT.expires_at + 0.001, GRANT.expires_at + 86_400, math.nan):
        with pytest.raises(InvalidLink, match="expired"):
            check_grant(GRANT, "sess-0001", now)
    token = encode_link(GRANT, mac)
    assert open_link(token, "sess-0001", GRANT.expires_at - 1, verify) == GRANT
    with pytest.raises(InvalidLink, match="expired"):
        open_link(token, "sess-0001", GRANT.expires_at, verify)


def test_a_link_for_another_session_is_refused() -> None:
    with pytest.raises(InvalidLink, match="another session"):
        check_grant(GRANT, "sess-0002", 0)
    token = encode_link(GRANT, mac)
    for other in ("sess-0002", "sess-00010", "SESS-0001", "sess-000"):
        with pytest.raises(InvalidLink, match="another session"):
            open_link(token, other, 1_700_000_000, verify)


def test_a_link_signed_by_another_key_is_refused() -> None:
    foreign = encode_link(GRANT, lambda data: hmac.digest(bytes(32), data, "sha256"))
    renamed = encode_link(PlaybackGrant("sess-0001", GRANT.expires_at, "k2"), mac)
    for token in (foreign, renamed):
        with pytest.raises(InvalidLink, match="signature"):
            open_link(token, "sess-0001", 1_700_000_000, verify)


def test_the_signature_is_checked_before_the_grant() -> None:
    """A forged token learns nothing about the grant it claims: expired or not, for this
    session or not, it is refused for its signature."""
    forged = encode_link(PlaybackGrant("sess-0002", 1, KEY_ID), lambda data: bytes(32))
    with pytest.raises(InvalidLink, match="signature"):
        open_link(forged, "sess-0001", 1_700_000_000, verify)


def test_an_invalid_link_is_unauthenticated() -> None:
    assert issubclass(InvalidLink, Unauthenticated)


def test_new_grants_end_when_asked_rounded_down() -> None:
    assert new_grant("sess-0001", KEY_ID, 1_700_000_000.9) == PlaybackGrant(
        "sess-0001", 1_700_000_000 + DEFAULT_LINK_SECONDS, KEY_ID
    )
    assert new_grant("s", "k", 10.0, 1).expires_at == 11
    assert new_grant("s", "k", 10.5, MAX_LINK_SECONDS).expires_at == 10 + 86_400


@pytest.mark.parametrize("seconds", [0, -1, MAX_LINK_SECONDS + 1, True, 1.5])
def test_new_grants_last_one_second_to_a_day(seconds: int) -> None:
    with pytest.raises(InvalidValue, match="expires_in_seconds"):
        new_grant("sess-0001", KEY_ID, 1_700_000_000, seconds)


@pytest.mark.parametrize("now", [math.nan, math.inf, -1.0])
def test_new_grants_need_a_real_time(now: float) -> None:
    with pytest.raises(InvalidValue, match="now_epoch"):
        new_grant("sess-0001", KEY_ID, now)


@pytest.mark.parametrize(
    ("session_id", "expires_at", "key_id", "field"),
    [
        ("", 1, "k1", "session_id"),
        ("a/b", 1, "k1", "session_id"),
        ("s" * 65, 1, "k1", "session_id"),
        ("s", 0, "k1", "expires_at"),
        ("s", 10**11, "k1", "expires_at"),
        ("s", True, "k1", "expires_at"),
        ("s", 1.0, "k1", "expires_at"),
        ("s", 1, "", "key_id"),
        ("s", 1, "k:1", "key_id"),
        ("s", 1, "k" * 65, "key_id"),
    ],
)
def test_grants_hold_only_what_a_token_can_carry(
    session_id: str, expires_at: int, key_id: str, field: str
) -> None:
    with pytest.raises(InvalidValue, match=field):
        PlaybackGrant(session_id, expires_at, key_id)


@pytest.mark.parametrize("length", [0, 15, 65])
def test_a_mac_of_the_wrong_length_is_refused_when_encoding(length: int) -> None:
    with pytest.raises(InvalidValue, match="mac"):
        encode_link(GRANT, lambda data: bytes(length))
