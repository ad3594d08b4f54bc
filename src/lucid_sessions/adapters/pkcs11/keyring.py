"""`Pkcs11KeyRing`: master keys that never leave a PKCS#11 token (SoftHSM2 in the tests).

Master keys are AES-256 secret key objects in the token, created sensitive and non-extractable
(`CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, `CKA_TOKEN`, `CKA_PRIVATE`, encrypt/decrypt only),
labelled `lucid-master-<key id>` with `CKA_ID` = the key id (ASCII). Key ids are `k1`, `k2`...;
the current key is the highest-numbered one in the token, read from the token on every use, so
a rotation made by another process (`lucid-sessions keys rotate`) reaches a running server.

Data keys are made in the host (`os.urandom(32)`: the port hands the plaintext to the caller)
and sealed inside the token with CKM_AES_GCM under the master key: a fresh 96-bit IV, a 128-bit
tag, and associated data binding the format version and the key id. `WrappedKey.wrapped` is
`version (1) || IV (12) || ciphertext (32) || tag (16)`, 61 bytes. A wrapped key presented under
another key id, or with any bit changed, fails to unwrap (`IntegrityError`).

Sessions and threads: PKCS#11 logs in per token and per process (every session of the process
shares the login, and logging out one logs out all), and python-pkcs11 sessions are not
thread-safe. So each (module, token label) has one process-wide connection: one long-lived
read/write session, logged in once, used under one lock by every ring on that token (calls are
short: a find and one AES-GCM operation). It is never logged out. After a token failure the
session is dropped and the next call opens a new one (logging in again with the PIN).

Errors: problems found while constructing (module not loadable, no such token, PIN refused, no
master key and `create` is false, a master key that is extractable or not AES-256) raise
`KeyConfigError`, one line naming the setting and the token; token failures at run time raise
`StorageUnavailable` (retry later). No message or `repr` carries the PIN or key material.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin

from lucid_sessions.adapters.crypto.keyring import DATA_KEY_SIZE, KeyConfigError
from lucid_sessions.domain.errors import IntegrityError, StorageUnavailable
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library

__all__ = [
    "MASTER_KEY_LABEL_PREFIX",
    "MODULE_SETTING",
    "PIN_SETTING",
    "TOKEN_LABEL_SETTING",
    "WRAPPED_KEY_SIZE",
    "Pkcs11KeyRing",
]

MODULE_SETTING: Final = "LUCID_PKCS11_MODULE"
TOKEN_LABEL_SETTING: Final = "LUCID_PKCS11_TOKEN_LABEL"  # noqa: S105 (a setting name)
PIN_SETTING: Final = "LUCID_PKCS11_PIN_FILE"
MASTER_KEY_LABEL_PREFIX: Final = "lucid-master-"
MASTER_KEY_BITS: Final = 256
_VERSION: Final = b"\x01"
_IV_SIZE: Final = 12
_TAG_BITS: Final = 128
WRAPPED_KEY_SIZE: Final = len(_VERSION) + _IV_SIZE + DATA_KEY_SIZE + _TAG_BITS // 8
_KEY_ID: Final = re.compile(r"k([1-9][0-9]{0,8})")
_LABEL: Final = re.compile(re.escape(MASTER_KEY_LABEL_PREFIX) + r"(k[1-9][0-9]{0,8})")
_FIRST_KEY_ID: Final = "k1"
_RETRY_AFTER_SECONDS: Final = 5

# What a failed AES-GCM decryption looks like from a module: SoftHSM2 2.6.1 answers a wrong
# tag with CKR_GENERAL_ERROR; the specification's answers are the others.
_DECRYPTION_FAILED: Final = (
    p11.GeneralError,
    p11.FunctionFailed,
    p11.EncryptedDataInvalid,
    p11.EncryptedDataLenRange,
    p11.DataInvalid,
    p11.DataLenRange,
)
_PIN_REFUSED: Final = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked)

_T = TypeVar("_T")


def _master_label(key_id: str) -> str:
    return MASTER_KEY_LABEL_PREFIX + key_id


def _key_number(key_id: str) -> int:
    match = _KEY_ID.fullmatch(key_id)
    return int(match[1]) if match else 0


def _aad(key_id: str) -> bytes:
    return _VERSION + b"lucid-data-key:" + key_id.encode("ascii")


def _failure(error: BaseException) -> str:
    """A PKCS#11 error, named by its class (python-pkcs11's messages carry nothing more)."""
    return type(error).__name__


def _gcm(key: pkcs11.SecretKey, data: bytes, params: GCMParams, *, decrypt: bool) -> bytes:
    """AES-GCM inside the token: `data` sealed (ciphertext || tag), or opened."""
    if not (isinstance(key, EncryptMixin) and isinstance(key, DecryptMixin)):
        raise p11.KeyTypeInconsistent()
    if decrypt:
        out = key.decrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    else:
        out = key.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    if not isinstance(out, bytes):
        raise p11.FunctionFailed()
    return out


@dataclass(eq=False)
class _TokenConnection:
    """The process's one logged-in session on one token, and the lock that serializes it."""

    module: str
    token_label: str
    library: Pkcs11Library
    pin: str = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    session: pkcs11.Session | None = None

    def open(self) -> pkcs11.Session:
        """The session, opened (and logged in) if there is none. Call with `lock` held."""
        if self.session is None:
            token = self.library.get_token(token_label=self.token_label)
            try:
                self.session = token.open(rw=True, user_pin=self.pin)
            except p11.UserAlreadyLoggedIn:
                # Something else in this process logged in to the token: sessions share it.
                self.session = token.open(rw=True)
        return self.session

    def drop(self) -> None:
        """Forget the session after a failure; the next call opens a new one."""
        self.session = None


_CONNECTIONS: dict[tuple[str, str], _TokenConnection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def _connect(module: str, token_label: str, pin: str) -> _TokenConnection:
    """The connection to the token, opened on first use; `KeyConfigError` when it cannot be."""
    where = f"PKCS#11 token {token_label!r}"
    with _CONNECTIONS_LOCK:
        known = _CONNECTIONS.get((module, token_label))
        if known is not None:
            # Logged in already (the login is shared): a different PIN is a wrong one.
            if not hmac.compare_digest(known.pin.encode(), pin.encode()):
                raise KeyConfigError(f"{PIN_SETTING}: the {where} refuses the PIN (PinIncorrect)")
            return known
        try:
            library = pkcs11.lib(module)
        except p11.PKCS11Error as exc:
            raise KeyConfigError(
                f"{MODULE_SETTING}: cannot load the PKCS#11 module {module!r}: {exc}"
            ) from None
        connection = _TokenConnection(module, token_label, library, pin)
        try:
            connection.open()
        except p11.NoSuchToken:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: no PKCS#11 token labelled {token_label!r} "
                f"in the module {module!r}"
            ) from None
        except p11.MultipleTokensReturned:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: more than one PKCS#11 token is labelled "
                f"{token_label!r}; give each token its own label"
            ) from None
        except _PIN_REFUSED as exc:
            raise KeyConfigError(
                f"{PIN_SETTING}: the {where} refuses the PIN ({_failure(exc)})"
            ) from None
        except p11.PKCS11Error as exc:
            raise KeyConfigError(f"the {where} cannot be opened: {_failure(exc)}") from None
        _CONNECTIONS[(module, token_label)] = connection
        return connection


class Pkcs11KeyRing(KeyRing):
    """Master keys in a PKCS#11 token; data keys sealed and opened inside the token.

    `create`: make the first master key (`k1`) when the token holds none (development);
    without it an empty token stops construction with `KeyConfigError`.
    """

    def __init__(self, module: str, token_label: str, pin: str, *, create: bool) -> None:
        self._connection = _connect(module, token_label, pin)
        self._where = f"PKCS#11 token {token_label!r}"
        try:
            keys = self._use(self._master_keys)
            if not keys and create:
                self._use(lambda session: self._generate(session, _FIRST_KEY_ID))
                keys = self._use(self._master_keys)
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if not keys:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: the {self._where} holds no master key (missing: an "
                f"AES-256 key labelled {_master_label(_FIRST_KEY_ID)!r}, id {_FIRST_KEY_ID!r}); "
                f"production never creates keys: provision it, sensitive and non-extractable"
            )
        for key_id, objects in sorted(keys.items()):
            for key in objects:
                self._check_master_key(key_id, key)

    def __repr__(self) -> str:
        return (
            f"Pkcs11KeyRing(module={self._connection.module!r}, "
            f"token_label={self._connection.token_label!r})"
        )

    # -- the port ----------------------------------------------------------------------------

    @property
    def current_key_id(self) -> str:
        return self._use(lambda session: self._current(session)[0])

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        key = os.urandom(DATA_KEY_SIZE)
        return key, self._use(lambda session: self._seal(session, key))

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        return self._use(lambda session: self._open(session, wrapped))

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        def rewrap(session: pkcs11.Session) -> WrappedKey:
            key = self._open(session, wrapped)
            if wrapped.key_id == self._current(session)[0]:
                return wrapped
            return self._seal(session, key)

        return self._use(rewrap)

    # -- rotation ------------------------------------------------------------------------------

    def rotate(self) -> str:
        """Create the next master key `k<N+1>` in the token (it becomes current); its id.

        Old keys stay, so existing wrapped data keys still unwrap; re-wrap them with `rewrap`.
        Rotations from two processes at once are not serialized: both may create the same id,
        and `unwrap` then tries each key of that id (GCM tells the right one).
        """

        def rotate(session: pkcs11.Session) -> str:
            numbers = [_key_number(key_id) for key_id in self._master_keys(session)]
            key_id = f"k{max(numbers, default=0) + 1}"
            self._generate(session, key_id)
            return key_id

        return self._use(rotate)

    # -- inside the token (called under the connection's lock) ----------------------------------

    def _use(self, work: Callable[[pkcs11.Session], _T]) -> _T:
        """Run `work` on the token's session, under its lock; token failures become
        `StorageUnavailable` (and the session is opened anew on the next call)."""
        connection = self._connection
        with connection.lock:
            try:
                return work(connection.open())
            except p11.PKCS11Error as exc:
                connection.drop()
                raise StorageUnavailable(
                    f"the {self._where} is unavailable: {_failure(exc)}",
                    retry_after_seconds=_RETRY_AFTER_SECONDS,
                ) from None

    def _master_keys(self, session: pkcs11.Session) -> dict[str, list[pkcs11.SecretKey]]:
        """Every master key in the token, by key id (an id may have several objects)."""
        found: dict[str, list[pkcs11.SecretKey]] = {}
        objects = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))
        for key in objects:
            match = _LABEL.fullmatch(key[Attribute.LABEL])
            if match and isinstance(key, pkcs11.SecretKey):
                found.setdefault(match[1], []).append(key)
        return found

    def _keys_of(self, session: pkcs11.Session, key_id: str) -> list[pkcs11.SecretKey]:
        if not _KEY_ID.fullmatch(key_id):
            return []
        template = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: _master_label(key_id)}
        return [key for key in session.get_objects(template) if isinstance(key, pkcs11.SecretKey)]

    def _current(self, session: pkcs11.Session) -> tuple[str, pkcs11.SecretKey]:
        keys = self._master_keys(session)
        if not keys:
            raise StorageUnavailable(
                f"the {self._where} no longer holds any master key",
                retry_after_seconds=_RETRY_AFTER_SECONDS,
            )
        key_id = max(keys, key=_key_number)
        return key_id, keys[key_id][0]

    def _generate(self, session: pkcs11.Session, key_id: str) -> None:
        session.generate_key(
            KeyType.AES,
            MASTER_KEY_BITS,
            id=key_id.encode("ascii"),
            label=_master_label(key_id),
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.WRAP: False,
                Attribute.UNWRAP: False,
                Attribute.SIGN: False,
                Attribute.VERIFY: False,
                Attribute.DERIVE: False,
            },
        )

    def _seal(self, session: pkcs11.Session, key: bytes) -> WrappedKey:
        key_id, master = self._current(session)
        iv = os.urandom(_IV_SIZE)
        params = GCMParams(iv, _aad(key_id), _TAG_BITS)
        sealed = _gcm(master, key, params, decrypt=False)
        return WrappedKey(key_id=key_id, wrapped=_VERSION + iv + sealed)

    def _open(self, session: pkcs11.Session, wrapped: WrappedKey) -> bytes:
        candidates = self._keys_of(session, wrapped.key_id)
        if not candidates:
            raise IntegrityError(f"unknown master key id {wrapped.key_id!r}")
        data = wrapped.wrapped
        if len(data) != WRAPPED_KEY_SIZE:
            raise IntegrityError(f"wrapped data key must be {WRAPPED_KEY_SIZE} bytes")
        if data[:1] != _VERSION:
            raise IntegrityError("wrapped data key has an unknown format version")
        iv, sealed = data[1 : 1 + _IV_SIZE], data[1 + _IV_SIZE :]
        params = GCMParams(iv, _aad(wrapped.key_id), _TAG_BITS)
        for master in candidates:
            try:
                key = _gcm(master, sealed, params, decrypt=True)
            except _DECRYPTION_FAILED:
                continue
            if len(key) == DATA_KEY_SIZE:
                return key
        # A module may report a failing device as it reports a wrong tag: ask the token
        # something else, so that a token failure is `StorageUnavailable`, not tampering.
        self._keys_of(session, wrapped.key_id)
        raise IntegrityError(f"data key under {wrapped.key_id!r} fails authentication")

    def _check_master_key(self, key_id: str, key: pkcs11.SecretKey) -> None:
        """A master key the service would not create is refused: AES-256, sensitive, never
        extractable, usable to encrypt and decrypt."""

        def problems(session: pkcs11.Session) -> list[str]:
            found = []
            if key.key_type != KeyType.AES or key[Attribute.VALUE_LEN] * 8 != MASTER_KEY_BITS:
                found.append("is not an AES-256 key")
            if not key[Attribute.SENSITIVE]:
                found.append("is not sensitive")
            if key[Attribute.EXTRACTABLE]:
                found.append("is extractable")
            if not (key[Attribute.ENCRYPT] and key[Attribute.DECRYPT]):
                found.append("cannot encrypt and decrypt")
            return found

        try:
            found = self._use(problems)
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if found:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: in the {self._where}, the master key "
                f"{_master_label(key_id)!r} {' and '.join(found)}; the service uses only "
                f"sensitive, non-extractable AES-256 keys"
            )
