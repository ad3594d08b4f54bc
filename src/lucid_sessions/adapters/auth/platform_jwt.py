"""The platform's JWTs (issued by the Lucid gateway and auth service), verified with PyJWT.

The algorithm comes from settings (`JWT_ALGORITHM`), never from the token: `alg: none`, and a
token signed with another algorithm than the configured one, are refused. HS256/HS384/HS512
verify with the shared `JWT_SECRET_KEY`; RS256 and EdDSA with the public key in
`LUCID_JWT_PUBLIC_KEY_FILE`. `exp` and `sub` are required (30 s of leeway for clock skew),
`iss` is checked when an issuer is configured. `sub` is the principal; a `role` claim, or any
of a `roles` list, among the admin roles (case-insensitive) makes it an admin, anything else
a user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from lucid_sessions.adapters.auth.tokens import TokenConfigError
from lucid_sessions.domain.ports.authenticator import Authenticator
from lucid_sessions.domain.principal import Principal, Role

__all__ = ["LEEWAY_SECONDS", "JwtAuthenticator", "load_public_key"]

LEEWAY_SECONDS = 30
_PRINCIPAL = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
_KEY_TYPES: dict[str, type[Any]] = {"RS256": RSAPublicKey, "EdDSA": Ed25519PublicKey}


def load_public_key(path: Path, algorithm: str) -> Any:
    """The PEM public key in `path`, checked to be of the kind `algorithm` verifies with."""
    where = f"LUCID_JWT_PUBLIC_KEY_FILE ({path})"
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise TokenConfigError(f"{where}: cannot read the file: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise TokenConfigError(f"{where}: not a PEM public key") from None
    wanted = _KEY_TYPES.get(algorithm)
    if wanted is None or not isinstance(key, wanted):
        raise TokenConfigError(f"{where}: a {type(key).__name__} cannot verify {algorithm}")
    return key


class JwtAuthenticator(Authenticator):
    def __init__(
        self,
        key: Any,
        algorithm: str,
        *,
        issuer: str = "",
        admin_roles: Iterable[str] = ("admin", "super_admin"),
    ) -> None:
        self._key, self._algorithm, self._issuer = key, algorithm, issuer or None
        self._admin_roles = frozenset(role.strip().lower() for role in admin_roles)
        required = ["exp", "sub", *(["iss"] if issuer else [])]
        self._options: Any = {"require": required, "verify_aud": False}

    def authenticate(self, credential: str) -> Principal | None:
        if credential.count(".") != 2:
            return None  # not a JWT (a configured token, or garbage)
        try:
            claims = jwt.decode(
                credential,
                self._key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options=self._options,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _PRINCIPAL.fullmatch(subject):
            return None
        roles: list[Any] = [claims.get("role")]
        listed = claims.get("roles")
        if isinstance(listed, list):
            roles.extend(listed)
        admin = any(isinstance(r, str) and r.strip().lower() in self._admin_roles for r in roles)
        return Principal(subject, Role.ADMIN if admin else Role.USER)
