"""Master keys: the `StaticKeyRing` adapter, loading from environment or file, and rotation.

Wrapping: a data key is sealed with AES-256-GCM under the master key, a random 96-bit nonce and
the master key id (ASCII) as associated data; `WrappedKey.wrapped` is
`nonce (12) || ciphertext (32) || tag (16)`, 60 bytes. A wrapped key presented under another
key id, or with any bit changed, fails to unwrap.

Master key file (YAML, mode 0600)::

    current: k2
    keys:
      k1: <base64 of 32 bytes>
      k2: <base64 of 32 bytes>

Sources (`KeySources`, filled from the settings), first match wins: `LUCID_MASTER_KEY` (base64
of 32 bytes, key id `k1`), then `LUCID_MASTER_KEY_FILE`, then (development only)
`<data dir>/keys/master-keys.yaml`, generated once. Production without either setting stops
with `KeyConfigError`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.adapters.crypto.secret_files import (
    LooseSecretFile,
    exclusive_lock,
    read_secret_file,
    write_secret_file,
)
from lucid_sessions.domain.errors import IntegrityError
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey

__all__ = [
    "DATA_KEY_SIZE",
    "ENV_KEY_ID",
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE_ENV",
    "MASTER_KEY_SIZE",
    "WRAPPED_KEY_SIZE",
    "KeyConfigError",
    "KeySources",
    "MissingKey",
    "StaticKeyRing",
    "load_master_keys",
    "master_key_file_path",
    "rotate_master_key",
]

MASTER_KEY_ENV: Final = "LUCID_MASTER_KEY"
MASTER_KEY_FILE_ENV: Final = "LUCID_MASTER_KEY_FILE"
ENV_KEY_ID: Final = "k1"
MASTER_KEY_SIZE: Final = 32
DATA_KEY_SIZE: Final = 32
_NONCE_SIZE: Final = 12
WRAPPED_KEY_SIZE: Final = _NONCE_SIZE + DATA_KEY_SIZE + 16
_KEY_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NUMBERED_ID: Final = re.compile(r"k(\d+)")
_FILE_COMMENT: Final = (
    "# lucid-sessions master keys. Secret: keep mode 0600 and back it up.\n"
    "# Keep every old key until all data keys are re-wrapped (lucid-sessions keys rotate).\n"
)


class KeyConfigError(ConfigurationError):
    """Master or signing keys are missing or malformed; start-up stops with this message."""


class MissingKey(KeyConfigError):
    """A key that does not exist yet (development makes it at the first `serve`; production
    needs an operator to make it)."""


def read_key_file(path: Path, where: str, what: str, *, production: bool) -> bytes:
    """The content of the private key file `path` (`what`: "master key", "signing key"...),
    or one `KeyConfigError` line naming `where` (the setting) and never the content."""
    try:
        return read_secret_file(path, where, production=production)
    except FileNotFoundError:
        raise KeyConfigError(f"{where}: the {what} file does not exist") from None
    except OSError as exc:
        raise KeyConfigError(f"{where}: cannot read the {what} file: {exc}") from None
    except LooseSecretFile as exc:
        raise KeyConfigError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class KeySources:
    """Where the keys come from: the settings `LUCID_MASTER_KEY`, `LUCID_MASTER_KEY_FILE` and
    `LUCID_SIGNING_KEY_FILE` (empty: not set)."""

    master_key: str = ""
    master_key_file: str = ""
    signing_key_file: str = ""


class StaticKeyRing(KeyRing):
    """Master keys held in memory, by id; new data keys are wrapped under `current_key_id`."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        _check_keys(keys, current_key_id)
        self._keys = dict(keys)
        self._current = current_key_id

    @property
    def current_key_id(self) -> str:
        return self._current

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        key = os.urandom(DATA_KEY_SIZE)
        return key, self._wrap(key)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        master = self._keys.get(wrapped.key_id)
        if master is None:
            raise IntegrityError(f"unknown master key id {wrapped.key_id!r}")
        if len(wrapped.wrapped) != WRAPPED_KEY_SIZE:
            raise IntegrityError(f"wrapped data key must be {WRAPPED_KEY_SIZE} bytes")
        nonce, sealed = wrapped.wrapped[:_NONCE_SIZE], wrapped.wrapped[_NONCE_SIZE:]
        try:
            return AESGCM(master).decrypt(nonce, sealed, wrapped.key_id.encode("ascii"))
        except InvalidTag as exc:
            raise IntegrityError(f"data key under {wrapped.key_id!r} fails authentication") from exc

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        key = self.unwrap(wrapped)
        return wrapped if wrapped.key_id == self._current else self._wrap(key)

    def _wrap(self, key: bytes) -> WrappedKey:
        nonce = os.urandom(_NONCE_SIZE)
        aad = self._current.encode("ascii")
        sealed = AESGCM(self._keys[self._current]).encrypt(nonce, key, aad)
        return WrappedKey(key_id=self._current, wrapped=nonce + sealed)


def _check_keys(keys: Mapping[str, bytes], current_key_id: str) -> None:
    for key_id, key in keys.items():
        if not _KEY_ID.fullmatch(key_id):
            raise KeyConfigError(f"master key id {key_id!r} must match {_KEY_ID.pattern}")
        if len(key) != MASTER_KEY_SIZE:
            raise KeyConfigError(f"master key {key_id!r} must be {MASTER_KEY_SIZE} bytes")
    if current_key_id not in keys:
        known = ", ".join(sorted(keys)) or "none"
        raise KeyConfigError(f"current master key id {current_key_id!r} unknown ({known})")


def master_key_file_path(sources: KeySources, data_dir: Path) -> Path | None:
    """The master key file in use, or None when the key comes from `LUCID_MASTER_KEY`."""
    if sources.master_key.strip():
        return None
    return _configured_file(sources) or _development_file(data_dir)


def load_master_keys(
    sources: KeySources, data_dir: Path, production: bool, *, generate: bool = True
) -> StaticKeyRing:
    """The key ring from `LUCID_MASTER_KEY`, `LUCID_MASTER_KEY_FILE` or the development file.

    Raises `KeyConfigError` naming the setting at fault.
    """
    inline = sources.master_key.strip()
    if inline:
        return StaticKeyRing({ENV_KEY_ID: _decode_key(inline, MASTER_KEY_ENV)}, ENV_KEY_ID)
    configured = _configured_file(sources)
    if configured is not None:
        where = f"{MASTER_KEY_FILE_ENV} ({configured})"
        return StaticKeyRing(*_read_key_file(configured, where, production=production))
    if production:
        raise KeyConfigError(
            f"no master key configured: set {MASTER_KEY_ENV} (base64 of 32 bytes) or "
            f"{MASTER_KEY_FILE_ENV} (YAML key file); production never generates keys"
        )
    path = _development_file(data_dir)
    if not path.exists():
        if not generate:
            raise MissingKey(f"{path}: no master key file, and none is made here")
        write_secret_file(path, _render({ENV_KEY_ID: _new_key()}, ENV_KEY_ID), replace=False)
    return StaticKeyRing(*_read_key_file(path, str(path)))


def rotate_master_key(path: Path | None) -> str:
    """Add a random key `k<N+1>` to the key file, make it current and return its id.

    Old keys stay, so existing wrapped data keys still unwrap; re-wrap them afterwards with
    `KeyRing.rewrap`. `path=None` (the key comes from `LUCID_MASTER_KEY`) is refused.
    """
    if path is None:
        raise KeyConfigError(
            f"the master key comes from {MASTER_KEY_ENV}; rotation needs a key file: "
            f"move the key into a {MASTER_KEY_FILE_ENV} file (id k1) first"
        )
    if not path.is_file():
        raise KeyConfigError(f"{path}: the master key file does not exist")
    with exclusive_lock(path):
        keys, _ = _read_key_file(path, str(path))
        new_id = _next_key_id(keys)
        keys[new_id] = _new_key()
        write_secret_file(path, _render(keys, new_id), replace=True)
    return new_id


def _configured_file(sources: KeySources) -> Path | None:
    configured = sources.master_key_file.strip()
    return Path(configured) if configured else None


def _development_file(data_dir: Path) -> Path:
    return data_dir / "keys" / "master-keys.yaml"


def _read_key_file(
    path: Path, where: str, *, production: bool = False
) -> tuple[dict[str, bytes], str]:
    content = read_key_file(path, where, "master key", production=production)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyConfigError(f"{where}: cannot read the master key file: {exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise KeyConfigError(f"{where}: the master key file is not valid YAML") from None
    keys, current = _parse_key_document(document, where)
    try:
        _check_keys(keys, current)
    except KeyConfigError as exc:
        raise KeyConfigError(f"{where}: {exc}") from None
    return keys, current


def _parse_key_document(document: Any, where: str) -> tuple[dict[str, bytes], str]:
    if not isinstance(document, dict):
        raise KeyConfigError(f"{where}: expected a mapping with 'current' and 'keys'")
    entries, current = document.get("keys"), document.get("current")
    if not isinstance(entries, dict) or not entries:
        raise KeyConfigError(f"{where}: 'keys' must map key ids to base64 keys")
    if not isinstance(current, str) or not current:
        raise KeyConfigError(f"{where}: 'current' must name the current key id")
    keys = {
        str(key_id): _decode_key(value, f"{where} keys.{key_id}")
        for key_id, value in entries.items()
    }
    return keys, current


def _decode_key(text: object, setting: str) -> bytes:
    if not isinstance(text, str):
        raise KeyConfigError(f"{setting}: expected a base64 string")
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{setting}: not valid base64") from None
    if len(key) != MASTER_KEY_SIZE:
        raise KeyConfigError(
            f"{setting}: must be base64 of exactly {MASTER_KEY_SIZE} bytes, got {len(key)}"
        )
    return key


def _render(keys: Mapping[str, bytes], current: str) -> bytes:
    encoded = {key_id: base64.b64encode(key).decode("ascii") for key_id, key in keys.items()}
    document = yaml.safe_dump({"current": current, "keys": encoded}, sort_keys=False)
    return (_FILE_COMMENT + document).encode("utf-8")


def _next_key_id(keys: Mapping[str, bytes]) -> str:
    numbers = [int(m[1]) for key_id in keys if (m := _NUMBERED_ID.fullmatch(key_id))]
    number = max(numbers, default=0) + 1
    while f"k{number}" in keys:
        number += 1
    return f"k{number}"


def _new_key() -> bytes:
    return os.urandom(MASTER_KEY_SIZE)
