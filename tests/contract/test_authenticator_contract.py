"""Contract of the `Authenticator` port on configured tokens (inline and from a file) and on
the platform's JWTs (HS256, RS256, EdDSA), plus what only each of them has."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from lucid_sessions.adapters.auth.platform_jwt import JwtAuthenticator, load_public_key
from lucid_sessions.adapters.auth.tokens import (
    FileTokenAuthenticator,
    StaticTokenAuthenticator,
    TokenConfigError,
    parse_inline_tokens,
    read_token_file,
)
from lucid_sessions.app.usecases.authenticate import OPEN_PRINCIPAL, Authenticate
from lucid_sessions.domain.errors import Unauthenticated
from lucid_sessions.domain.ports.authenticator import Authenticator
from lucid_sessions.domain.principal import Principal, Role

SECRET = "platform-shared-secret-" + "x" * 20
ADMIN = Principal("ops", Role.ADMIN)
USER = Principal("ann", Role.USER)


@dataclass
class Issuer:
    """An authenticator, and a way to make credentials it accepts."""

    authenticator: Authenticator
    issue: Callable[[Principal], str]


def _claims(principal: Principal, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    role = "admin" if principal.is_admin else "user"
    return {"sub": principal.id, "role": role, "iat": now, "exp": now + 600, **extra}


def _pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _token_file(path: Path, entries: dict[str, Principal]) -> None:
    document = [
        {
            "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
            "principal": principal.id,
            "role": principal.role.value,
        }
        for token, principal in entries.items()
    ]
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)


def make_issuer(kind: str, tmp_path: Path) -> Issuer:
    if kind == "inline":
        tokens = {os.urandom(16).hex(): ADMIN, os.urandom(16).hex(): USER}
        text = ",".join(f"{t}={p.id}:{p.role.value}" for t, p in tokens.items())
        by_principal = {p: t for t, p in tokens.items()}
        return Issuer(StaticTokenAuthenticator(parse_inline_tokens(text)), by_principal.__getitem__)
    if kind == "file":
        tokens = {os.urandom(16).hex(): ADMIN, os.urandom(16).hex(): USER}
        path = tmp_path / "tokens.yaml"
        _token_file(path, tokens)
        by_principal = {p: t for t, p in tokens.items()}
        authenticator = FileTokenAuthenticator(path, production=True)
        return Issuer(authenticator, by_principal.__getitem__)
    if kind == "hs256":
        return Issuer(
            JwtAuthenticator(SECRET, "HS256"),
            lambda p: jwt.encode(_claims(p), SECRET, algorithm="HS256"),
        )
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rs256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    algorithm = "RS256" if kind == "rs256" else "EdDSA"
    path = tmp_path / "public.pem"
    path.write_bytes(_pem_public(private))
    authenticator = JwtAuthenticator(load_public_key(path, algorithm), algorithm)
    return Issuer(authenticator, lambda p: jwt.encode(_claims(p), private, algorithm=algorithm))


@pytest.fixture(params=["inline", "file", "hs256", "rs256", "eddsa"])
def issuer(request: pytest.FixtureRequest, tmp_path: Path) -> Issuer:
    return make_issuer(request.param, tmp_path)


def test_a_valid_credential_names_its_principal(issuer: Issuer) -> None:
    assert issuer.authenticator.authenticate(issuer.issue(ADMIN)) == ADMIN
    assert issuer.authenticator.authenticate(issuer.issue(USER)) == USER


@pytest.mark.parametrize(
    "garbage",
    ["", "x", "a.b.c", "..", "Bearer x", "\x00" * 64, "é" * 300, "a" * 20_000, "eyJ.eyJ.sig"],
)
def test_anything_else_is_nobody_and_never_raises(issuer: Issuer, garbage: str) -> None:
    assert issuer.authenticator.authenticate(garbage) is None


def test_a_credential_changed_by_one_character_is_nobody(issuer: Issuer) -> None:
    credential = issuer.issue(ADMIN)
    for index in (0, len(credential) // 3, len(credential) // 2, len(credential) - 3):
        flipped = "A" if credential[index] != "A" else "B"
        changed = credential[:index] + flipped + credential[index + 1 :]
        assert issuer.authenticator.authenticate(changed) is None, index
    assert issuer.authenticator.authenticate(credential[:-4]) is None


# -- JWT specifics -------------------------------------------------------------------------------


def hs256(**claims: Any) -> str:
    return jwt.encode({**_claims(USER), **claims}, SECRET, algorithm="HS256")


def test_jwt_expired_wrong_secret_and_alg_none_are_refused() -> None:
    verify = JwtAuthenticator(SECRET, "HS256")
    now = int(time.time())
    assert verify.authenticate(hs256(exp=now - 60)) is None  # past the 30 s leeway
    assert verify.authenticate(hs256(exp=now - 10)) == USER  # within it
    wrong = jwt.encode(_claims(USER), "another-secret-" + "y" * 30, algorithm="HS256")
    assert verify.authenticate(wrong) is None
    unsigned = jwt.encode(_claims(ADMIN), key=None, algorithm="none")
    assert verify.authenticate(unsigned) is None
    other_hmac = jwt.encode(_claims(ADMIN), SECRET * 2, algorithm="HS512")
    assert verify.authenticate(other_hmac) is None


def test_jwt_claims_exp_and_sub_are_required() -> None:
    verify = JwtAuthenticator(SECRET, "HS256")
    no_exp = {k: v for k, v in _claims(USER).items() if k != "exp"}
    assert verify.authenticate(jwt.encode(no_exp, SECRET, algorithm="HS256")) is None
    no_sub = {k: v for k, v in _claims(USER).items() if k != "sub"}
    assert verify.authenticate(jwt.encode(no_sub, SECRET, algorithm="HS256")) is None
    assert verify.authenticate(hs256(sub="")) is None
    assert verify.authenticate(hs256(sub=42)) is None


def test_jwt_issuer_is_checked_when_configured() -> None:
    verify = JwtAuthenticator(SECRET, "HS256", issuer="lucid-auth")
    assert verify.authenticate(hs256(iss="lucid-auth")) == USER
    assert verify.authenticate(hs256(iss="someone-else")) is None
    assert verify.authenticate(hs256()) is None


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"role": "admin"}, Role.ADMIN),
        ({"role": "SUPER_ADMIN"}, Role.ADMIN),
        ({"role": "user"}, Role.USER),
        ({"role": "node_operator"}, Role.USER),
        ({"role": None, "roles": ["viewer", "Admin"]}, Role.ADMIN),
        ({"role": None, "roles": "admin"}, Role.USER),  # a list or nothing
        ({"role": ["admin"]}, Role.USER),
    ],
)
def test_jwt_roles_map_to_admin_or_user(claims: dict[str, Any], role: Role) -> None:
    principal = JwtAuthenticator(SECRET, "HS256").authenticate(hs256(**claims))
    assert principal == Principal("ann", role)


def _hmac_token(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 token made by hand (PyJWT itself refuses a PEM as an HMAC key)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{part(signature)}"


def test_jwt_algorithm_confusion_is_refused(tmp_path: Path) -> None:
    """A token signed with HS256 using the RSA public key as the secret must not pass."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "public.pem"
    path.write_bytes(_pem_public(private))
    verify = JwtAuthenticator(load_public_key(path, "RS256"), "RS256")
    forged = _hmac_token(_claims(ADMIN), _pem_public(private))
    assert verify.authenticate(forged) is None
    with pytest.raises(TokenConfigError, match="cannot verify EdDSA"):
        load_public_key(path, "EdDSA")


# -- configured tokens ---------------------------------------------------------------------------


def test_token_file_changes_apply_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    kept, revoked, added = (os.urandom(16).hex() for _ in range(3))
    _token_file(path, {kept: ADMIN, revoked: USER})
    tokens = FileTokenAuthenticator(path, production=True)
    assert tokens.authenticate(revoked) == USER
    _token_file(path, {kept: ADMIN, added: Principal("bea", Role.USER)})
    assert tokens.authenticate(revoked) is None
    assert tokens.authenticate(added) == Principal("bea", Role.USER)
    assert tokens.authenticate(kept) == ADMIN
    path.write_text("- [broken\n")  # an unusable file accepts nobody until it is fixed
    assert tokens.authenticate(kept) is None
    _token_file(path, {kept: ADMIN})
    assert tokens.authenticate(kept) == ADMIN


def test_only_digests_are_kept(tmp_path: Path) -> None:
    token = "visible-" + os.urandom(16).hex()
    entries = parse_inline_tokens(f"{token}=ops:admin")
    assert token.encode() not in repr(entries).encode()
    assert entries[0].digest == hashlib.sha256(token.encode()).digest()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("short=ops:admin", "at least 16"),
        ("0123456789abcdef0=ops", "token=principal:role"),
        ("0123456789abcdef0=ops:root", "admin or user"),
        ("0123456789abcdef0=o p:user", "principal"),
    ],
)
def test_bad_inline_tokens_name_the_setting_not_the_token(text: str, reason: str) -> None:
    with pytest.raises(TokenConfigError, match="LUCID_API_TOKENS entry 1") as refused:
        parse_inline_tokens(text)
    assert reason in str(refused.value)
    assert "0123456789abcdef0" not in str(refused.value)


def test_a_token_file_others_can_read_is_refused_in_production(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    _token_file(path, {os.urandom(16).hex(): ADMIN})
    path.chmod(0o644)
    with pytest.raises(TokenConfigError, match="chmod 600"):
        read_token_file(path, production=True)
    assert len(read_token_file(path, production=False)) == 1  # development: a warning


@pytest.mark.parametrize(
    "document",
    [{"token_sha256": "ab"}, [{"token_sha256": "zz" * 32, "principal": "a", "role": "user"}]],
)
def test_bad_token_files_are_refused(tmp_path: Path, document: object) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    with pytest.raises(TokenConfigError, match="LUCID_API_TOKENS_FILE"):
        read_token_file(path, production=True)


# -- the use case --------------------------------------------------------------------------------


def test_authenticate_tries_each_way_and_refuses_the_rest(tmp_path: Path) -> None:
    inline, signed = make_issuer("inline", tmp_path), make_issuer("hs256", tmp_path)
    authenticate = Authenticate([inline.authenticator, signed.authenticator])
    assert not authenticate.open
    assert authenticate(inline.issue(ADMIN)) == ADMIN
    assert authenticate(signed.issue(USER)) == USER
    for credential in (None, "", "nope", "x" * 100_000):
        with pytest.raises(Unauthenticated):
            authenticate(credential)


def test_with_no_authenticator_the_service_is_open() -> None:
    authenticate = Authenticate([])
    assert authenticate.open
    assert authenticate(None) == OPEN_PRINCIPAL
    assert OPEN_PRINCIPAL.is_admin
