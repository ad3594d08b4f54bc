"""Configured bearer tokens: `LUCID_API_TOKENS` and `LUCID_API_TOKENS_FILE`.

Only the SHA-256 digest of each token is kept in memory, and a presented token is compared
with every digest in constant time, so neither the tokens nor how close a guess came can be
read from the process or from timing.

- `LUCID_API_TOKENS`: comma-separated `token=principal:role`.
- `LUCID_API_TOKENS_FILE`: a YAML list of `{token_sha256, principal, role}` (mode 0600); the
  file is re-read when it changes, so a token is revoked by removing its line, without a
  restart. A file that has become unreadable or invalid accepts no token until it is fixed.

Roles: `admin` (every session) and `user` (the sessions it owns).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.adapters.crypto.secret_files import LooseSecretFile, read_secret_file
from lucid_sessions.domain.ports.authenticator import Authenticator
from lucid_sessions.domain.principal import Principal, Role

__all__ = [
    "TOKENS_ENV",
    "TOKENS_FILE_ENV",
    "FileTokenAuthenticator",
    "StaticTokenAuthenticator",
    "TokenConfigError",
    "TokenEntry",
    "parse_inline_tokens",
    "read_token_file",
    "token_digest",
]

TOKENS_ENV = "LUCID_API_TOKENS"
TOKENS_FILE_ENV = "LUCID_API_TOKENS_FILE"
_PRINCIPAL = re.compile(r"[A-Za-z0-9._@+-]{1,255}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MIN_TOKEN = 16
_log = logging.getLogger("lucid_sessions.auth")


class TokenConfigError(ConfigurationError):
    """The configured tokens are malformed; the message names the setting, never a token."""


@dataclass(frozen=True, slots=True)
class TokenEntry:
    digest: bytes
    principal: Principal


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _principal(principal_id: object, role: object, where: str) -> Principal:
    if not isinstance(principal_id, str) or not _PRINCIPAL.fullmatch(principal_id):
        raise TokenConfigError(f"{where}: the principal must be 1-255 of A-Z a-z 0-9 . _ @ + -")
    if role not in (Role.ADMIN.value, Role.USER.value):
        raise TokenConfigError(f"{where}: the role must be admin or user")
    return Principal(principal_id, Role(role))


def parse_inline_tokens(text: str) -> list[TokenEntry]:
    """`token=principal:role,...` as entries (the tokens themselves are not kept)."""
    entries = []
    for number, item in enumerate((part.strip() for part in text.split(",")), start=1):
        if not item:
            continue
        where = f"{TOKENS_ENV} entry {number}"
        token, equals, rest = item.rpartition("=")
        principal_id, colon, role = rest.partition(":")
        if not equals or not colon or not token:
            raise TokenConfigError(f"{where}: expected token=principal:role")
        if len(token) < _MIN_TOKEN:
            raise TokenConfigError(f"{where}: a token must be at least {_MIN_TOKEN} characters")
        entries.append(TokenEntry(token_digest(token), _principal(principal_id, role, where)))
    return entries


def read_token_file(path: Path, *, production: bool) -> list[TokenEntry]:
    try:
        text = read_secret_file(path, TOKENS_FILE_ENV, production=production).decode("utf-8")
        document: Any = yaml.safe_load(text)
    except FileNotFoundError:
        raise TokenConfigError(f"{TOKENS_FILE_ENV}: the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenConfigError(f"{TOKENS_FILE_ENV}: cannot read the file: {exc}") from None
    except LooseSecretFile as exc:
        raise TokenConfigError(str(exc)) from None
    except yaml.YAMLError:
        raise TokenConfigError(f"{TOKENS_FILE_ENV}: the file is not valid YAML") from None
    if document is None:
        return []
    if not isinstance(document, list):
        raise TokenConfigError(f"{TOKENS_FILE_ENV}: expected a list of {{token_sha256, ...}}")
    entries = []
    for number, item in enumerate(document, start=1):
        where = f"{TOKENS_FILE_ENV} entry {number}"
        if not isinstance(item, dict):
            raise TokenConfigError(f"{where}: expected {{token_sha256, principal, role}}")
        digest = str(item.get("token_sha256", "")).strip().lower()
        if not _DIGEST.fullmatch(digest):
            raise TokenConfigError(f"{where}: token_sha256 must be 64 hex digits")
        principal = _principal(item.get("principal"), item.get("role"), where)
        entries.append(TokenEntry(bytes.fromhex(digest), principal))
    return entries


def _match(entries: tuple[TokenEntry, ...], credential: str) -> Principal | None:
    """Compare with every entry, in constant time, whatever matched."""
    presented = token_digest(credential)
    found: Principal | None = None
    for entry in entries:
        if hmac.compare_digest(presented, entry.digest):
            found = entry.principal
    return found


class StaticTokenAuthenticator(Authenticator):
    """Tokens fixed at start-up (`LUCID_API_TOKENS`)."""

    def __init__(self, entries: list[TokenEntry]) -> None:
        self._entries = tuple(entries)

    def authenticate(self, credential: str) -> Principal | None:
        return _match(self._entries, credential)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class FileTokenAuthenticator(Authenticator):
    """Tokens from `LUCID_API_TOKENS_FILE`, re-read whenever the file changes.

    The first read happens here, so a bad file stops start-up. Later, a file that cannot be
    read or parsed accepts no token at all (fail closed) and is logged once per change.
    """

    def __init__(self, path: Path, *, production: bool) -> None:
        self._path, self._production = path, production
        self._lock = threading.Lock()
        self._seen = _stamp(path)
        self._entries = tuple(read_token_file(path, production=production))

    def _current(self) -> tuple[TokenEntry, ...]:
        stamp = _stamp(self._path)
        if stamp != self._seen:
            with self._lock:
                if stamp != self._seen:
                    self._seen = stamp
                    try:
                        self._entries = tuple(
                            read_token_file(self._path, production=self._production)
                        )
                        _log.info("tokens_reloaded", extra={"tokens": len(self._entries)})
                    except TokenConfigError as exc:
                        self._entries = ()
                        _log.error("tokens_unusable", extra={"error": str(exc)})
        return self._entries

    def authenticate(self, credential: str) -> Principal | None:
        return _match(self._current(), credential)
