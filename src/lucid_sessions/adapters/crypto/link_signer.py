"""`LinkSigner` on HMAC-SHA256, its key file, loading and rotation.

The link key signs playback-link tokens (`lucid_sessions.domain.playback_link`). It is a key
of its own: never an API token, the master keys or the Ed25519 signing key.

Key file: one line, the standard base64 (RFC 4648 section 4, with padding) of 32 to 64 random
bytes, mode 0600; ``openssl rand -base64 32`` makes one. Text rather than raw bytes because
secret stores and editors carry a line of text unchanged; 32 bytes at least because that is
HMAC-SHA256's strength, 64 at most because longer keys are first hashed by HMAC and gain
nothing (and the cap refuses a file that is something else). Whitespace around the line is
ignored.

Sources, mirroring the signing key: the setting `LUCID_LINK_KEY_FILE`, else (development
only) ``<data dir>/keys/link-key.b64``, generated once (mode 0600, the folder 0700; two
processes starting at once keep one key). Production without the setting stops with
`KeyConfigError`, and reads the file only when no other user can.

`key_id` is the first 16 hex characters of HMAC-SHA256(key, "lucid-sessions playback link key
id"): stable for a key, different for another, and it reveals nothing of the key. It is
derived with the key's own MAC, not a hash of the raw bytes, so an HSM-held key (which only
ever MACs) can name itself the same way.

Rotation (`rotate_link_key`) writes a new random key over the file atomically (a temporary
file in the same folder, fsynced, renamed, the folder fsynced): every MAC of the old key then
fails, which ends every outstanding link. `ReloadingLinkSigner` follows the file, so a rotation
reaches a running server without a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final, NoReturn

from lucid_sessions.adapters.crypto.keyring import KeyConfigError, MissingKey, read_key_file
from lucid_sessions.adapters.crypto.secret_files import (
    write_secret_file,
)
from lucid_sessions.domain.ports.link_signer import LinkSigner

__all__ = [
    "LINK_KEY_FILE_ENV",
    "LINK_KEY_MAX_BYTES",
    "LINK_KEY_MIN_BYTES",
    "HmacLinkSigner",
    "ReloadingLinkSigner",
    "link_key_file_path",
    "load_link_signer",
    "rotate_link_key",
]

LINK_KEY_FILE_ENV: Final = "LUCID_LINK_KEY_FILE"
LINK_KEY_MIN_BYTES: Final = 32
LINK_KEY_MAX_BYTES: Final = 64
_NEW_KEY_BYTES: Final = 32
_KEY_ID_LABEL: Final = b"lucid-sessions playback link key id"


class HmacLinkSigner(LinkSigner):
    """MACs with HMAC-SHA256 (32 bytes) under one key held in memory."""

    def __init__(self, key: bytes) -> None:
        if not LINK_KEY_MIN_BYTES <= len(key) <= LINK_KEY_MAX_BYTES:
            raise KeyConfigError(
                f"a link key must be {LINK_KEY_MIN_BYTES} to {LINK_KEY_MAX_BYTES} bytes, "
                f"got {len(key)}"
            )
        self._key = bytes(key)
        self._key_id = hmac.new(self._key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    @classmethod
    def generate(cls) -> HmacLinkSigner:
        return cls(os.urandom(_NEW_KEY_BYTES))

    def __repr__(self) -> str:
        return f"HmacLinkSigner(key_id={self._key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a link signer holds a secret key: it is neither copied nor pickled")

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, "sha256")

    def verify(self, payload: bytes, mac: bytes, key_id: str) -> bool:
        expected = hmac.digest(self._key, payload, "sha256")
        claimed = key_id.encode("utf-8", errors="replace")
        same_key = hmac.compare_digest(claimed, self._key_id.encode("ascii"))
        return hmac.compare_digest(expected, mac) and same_key


def link_key_file_path(configured: str, data_dir: Path) -> Path:
    """The link key file in use: `LUCID_LINK_KEY_FILE` (`configured`), else the development
    file under `data_dir`."""
    configured = configured.strip()
    return Path(configured) if configured else data_dir / "keys" / "link-key.b64"


def load_link_signer(
    configured: str, data_dir: Path, production: bool, *, generate: bool = True
) -> HmacLinkSigner:
    """The signer of the key file `configured` (the setting `LUCID_LINK_KEY_FILE`; empty: not
    set), or of the development key file, made once unless `generate` is false (an operator's
    command never makes keys). Raises `KeyConfigError` naming the file at fault."""
    path = link_key_file_path(configured, data_dir)
    if configured.strip():
        return _read_signer(path, f"{LINK_KEY_FILE_ENV} ({path})", production=production)
    if production:
        raise KeyConfigError(
            f"no link key configured: set {LINK_KEY_FILE_ENV} to a file holding the base64 of "
            f"{LINK_KEY_MIN_BYTES} to {LINK_KEY_MAX_BYTES} random bytes (openssl rand -base64 "
            "32); production never generates keys"
        )
    if not path.exists():
        if not generate:
            raise MissingKey(f"{path}: no link key file, and none is made here")
        write_secret_file(path, _render(os.urandom(_NEW_KEY_BYTES)), replace=False)
    return _read_signer(path, str(path))


def rotate_link_key(path: Path) -> str:
    """Write a new random key over the link key file `path` (atomically, mode 0600) and
    return its id. Every link signed by the old key stops working."""
    if not path.is_file():
        raise KeyConfigError(f"{path}: the link key file does not exist")
    key = os.urandom(_NEW_KEY_BYTES)
    try:
        write_secret_file(path, _render(key), replace=True)
    except OSError as exc:
        raise KeyConfigError(f"{path}: cannot write the link key file: {exc}") from None
    return HmacLinkSigner(key).key_id


class ReloadingLinkSigner(LinkSigner):
    """Delegates to the `HmacLinkSigner` of the key file, loaded again when the file changes
    (a rotation replaces it by a rename: a new inode), so a rotation ends the old key's links
    on a running server too."""

    def __init__(
        self, configured: str, data_dir: Path, production: bool, *, generate: bool = True
    ) -> None:
        self._path = link_key_file_path(configured, data_dir)
        self._load: Callable[[], HmacLinkSigner] = lambda: load_link_signer(
            configured, data_dir, production, generate=generate
        )
        self._lock = threading.Lock()
        self._seen = _stamp(self._path)  # before the load: a change during it is seen next
        self._signer = self._load()

    def __repr__(self) -> str:
        return f"ReloadingLinkSigner(path={str(self._path)!r}, key_id={self._signer.key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a link signer holds a secret key: it is neither copied nor pickled")

    def _current(self) -> HmacLinkSigner:
        if _stamp(self._path) != self._seen:
            with self._lock:
                stamp = _stamp(self._path)
                if stamp != self._seen:
                    self._signer = self._load()
                    self._seen = stamp
        return self._signer

    @property
    def key_id(self) -> str:
        return self._current().key_id

    def sign(self, payload: bytes) -> bytes:
        return self._current().sign(payload)

    def verify(self, payload: bytes, mac: bytes, key_id: str) -> bool:
        return self._current().verify(payload, mac, key_id)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def _render(key: bytes) -> bytes:
    return base64.b64encode(key) + b"\n"


def _read_signer(path: Path, where: str, *, production: bool = False) -> HmacLinkSigner:
    content = read_key_file(path, where, "link key", production=production)
    return HmacLinkSigner(_parse_key(content, where))


def _parse_key(content: bytes, where: str) -> bytes:
    """The key of a key file's content; the errors never quote the content."""
    try:
        key = base64.b64decode(content.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(
            f"{where}: not a link key (expected one line of base64, e.g. from "
            "openssl rand -base64 32)"
        ) from None
    if not LINK_KEY_MIN_BYTES <= len(key) <= LINK_KEY_MAX_BYTES:
        raise KeyConfigError(
            f"{where}: the link key must be the base64 of {LINK_KEY_MIN_BYTES} to "
            f"{LINK_KEY_MAX_BYTES} bytes, got {len(key)}"
        )
    return key
