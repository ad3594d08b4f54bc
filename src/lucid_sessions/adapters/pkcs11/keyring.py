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

Sessions and threads: each (module, token label) has one process-wide connection
(`lucid_sessions.adapters.pkcs11.token`): one long-lived read/write session, logged in once,
used under one lock by every ring and signer on that token (calls are short: a find and one
AES-GCM operation). After a token failure the next call opens a new session.

Errors: problems found while constructing (module not loadable, no such token, PIN refused, no
master key and `create` is false, a master key that is extractable or not AES-256) raise
`KeyConfigError`, one line naming the setting and the token; token failures at run time raise
`StorageUnavailable` (retry later). No message or `repr` carries the PIN or key material.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Final, TypeVar

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin

from lucid_sessions.adapters.crypto.keyring import DATA_KEY_SIZE, KeyConfigError, MissingKey
from lucid_sessions.adapters.pkcs11.token import (
    MODULE_SETTING,
    PIN_SETTING,
    RETRY_AFTER_SECONDS,
    TOKEN_LABEL_SETTING,
    connect,
    require_mechanisms,
)
from lucid_sessions.domain.errors import IntegrityError, StorageUnavailable
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey

__all__ = [
    "MASTER_KEY_LABEL_PREFIX",
    "MODULE_SETTING",
    "PIN_SETTING",
    "TOKEN_LABEL_SETTING",
    "WRAPPED_KEY_SIZE",
    "Pkcs11KeyRing",
]

MASTER_KEY_LABEL_PREFIX: Final = "lucid-master-"
MASTER_KEY_BITS: Final = 256
_VERSION: Final = b"\x01"
_IV_SIZE: Final = 12
_TAG_BITS: Final = 128
WRAPPED_KEY_SIZE: Final = len(_VERSION) + _IV_SIZE + DATA_KEY_SIZE + _TAG_BITS // 8
_KEY_ID: Final = re.compile(r"k([1-9][0-9]{0,8})")
_LABEL: Final = re.compile(re.escape(MASTER_KEY_LABEL_PREFIX) + r"(k[1-9][0-9]{0,8})")
_FIRST_KEY_ID: Final = "k1"

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

_T = TypeVar("_T")


def _master_label(key_id: str) -> str:
    return MASTER_KEY_LABEL_PREFIX + key_id


def _key_number(key_id: str) -> int:
    match = _KEY_ID.fullmatch(key_id)
    return int(match[1]) if match else 0


def _aad(key_id: str) -> bytes:
    return _VERSION + b"lucid-data-key:" + key_id.encode("ascii")


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


class Pkcs11KeyRing(KeyRing):
    """Master keys in a PKCS#11 token; data keys sealed and opened inside the token.

    `create`: make the first master key (`k1`) when the token holds none (development);
    without it an empty token stops construction with `KeyConfigError`.
    """

    def __init__(self, module: str, token_label: str, pin: str, *, create: bool) -> None:
        self._connection = connect(module, token_label, pin)
        self._where = f"PKCS#11 token {token_label!r}"
        require_mechanisms(
            self._connection,
            {Mechanism.AES_KEY_GEN: "CKM_AES_KEY_GEN", Mechanism.AES_GCM: "CKM_AES_GCM"},
            "master keys",
        )
        self.created = False  # whether this ring made the token's first master key
        try:
            keys = self._use(self._master_keys)
            if not keys and create:
                self._use(lambda session: self._generate(session, _FIRST_KEY_ID))
                keys = self._use(self._master_keys)
                self.created = True
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if not keys:
            raise MissingKey(
                f"{TOKEN_LABEL_SETTING}: the {self._where} holds no master key (missing: an "
                f"AES-256 key labelled {_master_label(_FIRST_KEY_ID)!r}, id {_FIRST_KEY_ID!r}); "
                f"production never creates keys at start-up: make it with "
                f"`lucid-sessions keys rotate`"
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
        """Run `work` on the token's session, under its lock (`TokenConnection.use`)."""
        return self._connection.use(work)

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
                retry_after_seconds=RETRY_AFTER_SECONDS,
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
            self._current(session)  # a token that lost every key is out (503), not tampered with
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
