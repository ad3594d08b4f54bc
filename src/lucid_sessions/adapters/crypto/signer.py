"""The file store of the service's signing keys (`FileSigner`), the single-key Ed25519 helper
beneath it, and signature verification for auditors.

The current private key is an unencrypted PKCS8 PEM file: the setting `LUCID_SIGNING_KEY_FILE`,
else (development only) `<data dir>/keys/signing-key.pem`, generated once with mode 0600.
Production without the setting stops with `KeyConfigError`. A key id is the first 16 hex
digits of BLAKE3 of the raw 32-byte public key.

Next to the PEM, `signing-keys.json` publishes the key set (the document of
`lucid_sessions.domain.key_set`: public keys only, written atomically). How the two are read:

- no key set file: the PEM's key is the only one, current, made at the PEM's modification time;
- the PEM's key absent from the key set (an operator put a new key in place by hand): every
  listed key is retired (a listed current one at the PEM's modification time) and the PEM's
  key is current, made then;
- the PEM's key listed as retired: it never signs again. Construction stops with
  `KeyConfigError` and, at run time, `sign` raises `StorageUnavailable`, unless a rotation was
  cut short (below) and can be completed.

Rotation (`rotate`), under a lock file next to the PEM: the new key is written to
`<pem>.next` (mode 0600), then the key set (the old key retired, the new one current), then
`<pem>.next` is renamed over the PEM. At every instant one current key can sign: a reader that
finds the key set naming as current the key in `<pem>.next` signs with it and completes the
rename. Afterwards the retired private key is nowhere in the folder. Rotation needs a writable
key folder; a read-only one (a container's secret mount) stops it with `KeyConfigError`.

The files are read again whenever one of them changes (inode, modification time or size), so a
rotation made by another process (the operator's command, another replica) reaches a running
server; otherwise what was read is kept, and signing parses nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, NoReturn

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lucid_sessions.adapters.crypto.keyring import (
    KeyConfigError,
    KeySources,
    MissingKey,
    read_key_file,
)
from lucid_sessions.adapters.crypto.secret_files import (
    fsync_directory,
    write_public_file,
    write_secret_file,
)
from lucid_sessions.domain.errors import InvalidValue, SigningKeyRetired, StorageUnavailable
from lucid_sessions.domain.key_set import key_id_of, key_set_document, parse_key_set
from lucid_sessions.domain.ports.signer import Signer, SigningKey

__all__ = [
    "KEY_SET_FILE_NAME",
    "SIGNING_KEY_FILE_ENV",
    "Ed25519Signer",
    "FileSigner",
    "load_signer",
    "raw_public_key_from_pem",
    "signing_key_file_path",
    "verify_signature",
]

SIGNING_KEY_FILE_ENV: Final = "LUCID_SIGNING_KEY_FILE"
KEY_SET_FILE_NAME: Final = "signing-keys.json"
_RAW: Final = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
_RELOAD_ATTEMPTS: Final = 5


class Ed25519Signer:
    """One Ed25519 private key held in memory; signatures are 64 bytes."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(*_RAW)
        self._key_id = key_id_of(self._public_key)

    def __repr__(self) -> str:
        return f"Ed25519Signer(key_id={self._key_id!r})"

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, where: str) -> Ed25519Signer:
        """Load an unencrypted PKCS8 PEM key; `KeyConfigError` naming `where` otherwise."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyConfigError(f"{where}: not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyConfigError(f"{where}: expected an Ed25519 key, got {type(key).__name__}")
        return cls(key)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS8 PEM (secret)."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def key_id(self) -> str:
        return self._key_id

    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


@dataclass(frozen=True, slots=True)
class _Files:
    """The key folder's files, and how messages name the private key file."""

    pem: Path
    where: str

    @property
    def folder(self) -> Path:
        return self.pem.parent

    @property
    def key_set(self) -> Path:
        return self.folder / KEY_SET_FILE_NAME

    @property
    def next(self) -> Path:
        return self.pem.with_name(self.pem.name + ".next")

    @property
    def lock(self) -> Path:
        return self.pem.with_name(self.pem.name + ".lock")


@dataclass(frozen=True, slots=True)
class _State:
    """What the files say: the key set, the current key's private half (None: nothing may
    sign, `problem` says why) and whether it is still in `<pem>.next`."""

    keys: tuple[SigningKey, ...]
    private: Ed25519Signer | None
    problem: str = ""
    pending: bool = False

    @property
    def current(self) -> SigningKey | None:
        for key in reversed(self.keys):
            if key.retired_at is None:
                return key
        return None


_Stamp = tuple[tuple[int, int, int] | None, ...]


def _stamp_of(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is rewritten (by a rename: a new inode, so even within one
    tick of the file system's clock)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def _modified_at(path: Path) -> datetime:
    seconds, nanoseconds = divmod(path.stat().st_mtime_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)


def _read_private(path: Path, where: str, production: bool) -> Ed25519Signer:
    pem = read_key_file(path, where, "signing key", production=production)
    return Ed25519Signer.from_pem(pem, where)


def _read_key_set(path: Path) -> list[SigningKey] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyConfigError(f"{path}: cannot read the signing key set: {exc.strerror}") from None
    try:
        return parse_key_set(json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        raise KeyConfigError(f"{path}: the signing key set is not valid JSON") from None
    except InvalidValue as exc:
        raise KeyConfigError(f"{path}: not a signing key set: {exc}") from None


def _read_state(files: _Files, production: bool) -> _State:
    """The key set and the current private key as the files say (module docstring);
    `KeyConfigError` when a file cannot be read or makes no sense."""
    private = _read_private(files.pem, files.where, production)
    made_at = _modified_at(files.pem)
    mine = SigningKey(private.key_id, private.public_key(), made_at)
    listed = _read_key_set(files.key_set)
    if listed is None:
        return _State((mine,), private)
    found = next((key for key in listed if key.key_id == mine.key_id), None)
    if found is None:
        retired = tuple(
            key if key.retired_at is not None else replace(key, retired_at=_after(key, made_at))
            for key in listed
        )
        return _State((*retired, mine), private)
    keys = tuple(listed)
    if found.retired_at is None:
        return _State(keys, private)
    current = next((key for key in listed if key.retired_at is None), None)
    if current is not None and files.next.exists():
        pending = _read_private(files.next, f"{files.next}", production)
        if pending.key_id == current.key_id:
            return _State(keys, pending, pending=True)
    return _State(
        keys,
        None,
        problem=(
            f"{files.where}: the file holds the signing key {mine.key_id!r}, which "
            f"{files.key_set} lists as retired, and a retired key never signs again; put the "
            f"current key's file back, or a new key in its place"
        ),
    )


def _after(key: SigningKey, moment: datetime) -> datetime:
    """`moment`, but never before the key was made."""
    if key.created_at is not None and key.created_at > moment:
        return key.created_at
    return moment


def _complete_rename(files: _Files) -> None:
    """Rename `<pem>.next` over the PEM, after the key set made its key current."""
    files.next.replace(files.pem)
    fsync_directory(files.folder)


def _try_completing(files: _Files, production: bool) -> None:
    """Complete a rotation cut short, if the folder can be written and no rotation is under
    way (that one completes it); otherwise leave it (the key in `<pem>.next` signs meanwhile)."""
    try:
        fd = os.open(files.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _read_state(files, production).pending:
            _complete_rename(files)
    except (OSError, KeyConfigError):
        return
    finally:
        os.close(fd)


class FileSigner(Signer):
    """The signing keys of a key folder: the current private key's PEM and the key set file
    beside it (module docstring). Safe to share between threads and between processes."""

    def __init__(self, path: Path, where: str, *, production: bool) -> None:
        """Read the keys at `path` (named `where` in messages); `KeyConfigError` when the key
        cannot be read or may not sign (it is listed as retired)."""
        self._files = _Files(path, where)
        self._production = production
        self._lock = threading.Lock()
        self._seen, self._state = self._read()
        if self._state.private is None:
            raise KeyConfigError(self._state.problem)

    def __repr__(self) -> str:
        return f"FileSigner(path={str(self._files.pem)!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a signer holds a private key: it is neither copied nor pickled")

    @property
    def path(self) -> Path:
        return self._files.pem

    # -- the port ----------------------------------------------------------------------------

    def current(self) -> SigningKey:
        state = self._fresh()
        current = state.current
        if current is None:
            raise StorageUnavailable(state.problem)
        return current

    def sign(self, key_id: str, message: bytes) -> bytes:
        state = self._fresh()
        current = state.current
        if current is None or current.key_id != key_id:
            raise SigningKeyRetired(key_id)
        if state.private is None:
            raise StorageUnavailable(state.problem)
        return state.private.sign(message)

    def key_set(self) -> list[SigningKey]:
        return list(self._fresh().keys)

    def rotate(self, now: datetime) -> SigningKey:
        """Make the next key and retire the current one at `now` (module docstring)."""
        files = self._files
        with self._rotation_lock():
            state = _read_state(files, self._production)
            try:
                if state.pending:
                    _complete_rename(files)
                    state = _read_state(files, self._production)
                if state.private is None:
                    raise KeyConfigError(state.problem)
                new = Ed25519Signer.generate()
                write_secret_file(files.next, new.to_pem(), replace=True)
                keys = [
                    key if key.retired_at is not None else replace(key, retired_at=now)
                    for key in state.keys
                ]
                keys.append(SigningKey(new.key_id, new.public_key(), now))
                document = json.dumps(key_set_document(keys), indent=2) + "\n"
                write_public_file(files.key_set, document.encode("utf-8"))
                _complete_rename(files)
            except OSError as exc:
                raise self._not_writable(exc) from None
        with self._lock:
            self._seen, self._state = self._read()
        current = self._state.current
        if current is None:  # pragma: no cover - the key set was just written with one
            raise StorageUnavailable(self._state.problem)
        return current

    # -- reading the folder ------------------------------------------------------------------

    def _stamp(self) -> _Stamp:
        return _stamp_of(self._files.pem), _stamp_of(self._files.key_set)

    def _read(self) -> tuple[_Stamp, _State]:
        """The files' stamp and what they say, read until no file changed meanwhile (a
        rotation by another process in the middle of a reading)."""
        for attempt in range(_RELOAD_ATTEMPTS):
            before = self._stamp()
            try:
                state = _read_state(self._files, self._production)
            except KeyConfigError:
                # A file that vanished under the reading (`<pem>.next` renamed over the PEM by
                # a rotation completing meanwhile) is read again; an error that stays is real.
                if self._stamp() == before or attempt == _RELOAD_ATTEMPTS - 1:
                    raise
                continue
            if self._stamp() == before:
                break
        if state.pending:
            _try_completing(self._files, self._production)
        return before, state

    def _fresh(self) -> _State:
        """The state, read again if a file changed since it was last read."""
        if self._stamp() != self._seen:
            with self._lock:
                if self._stamp() != self._seen:
                    try:
                        self._seen, self._state = self._read()
                    except KeyConfigError as exc:
                        raise StorageUnavailable(str(exc)) from None
        return self._state

    @contextlib.contextmanager
    def _rotation_lock(self) -> Iterator[None]:
        """Hold the folder's lock file: one rotation at a time, across processes."""
        try:
            fd = os.open(self._files.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._not_writable(exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _not_writable(self, error: OSError) -> KeyConfigError:
        reason = error.strerror or type(error).__name__
        return KeyConfigError(
            f"{self._files.where}: rotating the signing key needs a writable key folder, and "
            f"{self._files.folder} cannot be written ({reason}); rotate where the folder is "
            f"writable (not on a read-only secret mount), then give the servers the new files"
        )


def signing_key_file_path(sources: KeySources, data_dir: Path) -> Path:
    """The current signing key's file: `LUCID_SIGNING_KEY_FILE`, else the development one."""
    configured = sources.signing_key_file.strip()
    return Path(configured) if configured else data_dir / "keys" / "signing-key.pem"


def load_signer(
    sources: KeySources, data_dir: Path, production: bool, *, generate: bool = True
) -> FileSigner:
    """The signer of `LUCID_SIGNING_KEY_FILE`'s folder, or of the development key file (made
    once, unless `generate` is false)."""
    configured = sources.signing_key_file.strip()
    if configured:
        where = f"{SIGNING_KEY_FILE_ENV} ({configured})"
        return FileSigner(Path(configured), where, production=production)
    if production:
        raise KeyConfigError(
            f"no signing key configured: set {SIGNING_KEY_FILE_ENV} to an Ed25519 private key "
            "(PKCS8 PEM, unencrypted); production never generates keys"
        )
    path = signing_key_file_path(sources, data_dir)
    if not path.exists():
        if not generate:
            raise MissingKey(f"{path}: no signing key file, and none is made here")
        write_secret_file(path, Ed25519Signer.generate().to_pem(), replace=False)
    return FileSigner(path, str(path), production=False)


def raw_public_key_from_pem(pem: bytes) -> bytes:
    """The raw 32 bytes of an Ed25519 public key in PEM; ValueError for anything else."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key.public_bytes(*_RAW)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is a valid Ed25519 signature of `message` by raw `public_key`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
