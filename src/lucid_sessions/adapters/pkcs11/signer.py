"""`Pkcs11Signer`: the service's Ed25519 signing key, held and used inside a PKCS#11 token.

Signing keys are Ed25519 key pairs made in the token with CKM_EC_EDWARDS_KEY_PAIR_GEN
(`CKA_EC_PARAMS` = the DER of the curve OID 1.3.101.112, which SoftHSM2 2.6.1 accepts, as it
does the printable "edwards25519" form; both are recognized on keys found in the token). The
private key is `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, sign only;
the public key verify only. Both are labelled `lucid-signing-<key id>`, where the key id is the
first 16 hex digits of BLAKE3 of the raw 32-byte public key (as for the file signer), read from
`CKA_EC_POINT` (a DER OCTET STRING around the 32 bytes). Signing is CKM_EDDSA (pure Ed25519),
so signatures verify with `lucid_sessions.adapters.crypto.signer.verify_signature`.

The key set: `CKA_ID` of both objects is `<key id>:<N>:<created>` (ASCII), N = 1 for the first
pair and one more than the highest in the token for each rotation, `<created>` the Unix time of
its making in whole seconds, rounded up (so a key is never retired before it last signed). The
current key is the pair with the highest N (ties, from two processes rotating at once, go to the
greatest key id); every other pair is retired at the making time of the next pair in that order
(when that one is unknown, of the nearest later pair whose time is known; when none is, at the
Unix epoch: a key of unknown retirement vouches for nothing dated). Pairs provisioned by hand or
by earlier versions are accepted with `CKA_ID` = `<key id>:<N>` or the key id alone (N = 0), of
unknown making time. `rotate` makes the next pair, then destroys the private half of every pair
but the current one: a retired key never signs again, and its public half stays for the key
set. The token is read at every call (one search), so every signer on the token agrees on the
current key, and a rotation made elsewhere is seen at once; `sign` checks, in the same turn on
the token, that the key asked for is still the current one, and finds its private half again
(so a dropped session heals itself).

Errors, as for the key ring: problems found while constructing (module, token, PIN, no signing
key and `create` is false, a key that is extractable or not Ed25519) raise `KeyConfigError`,
one line naming the setting and the token, never the PIN; token failures at run time raise
`StorageUnavailable`. Nothing secret is written anywhere or put in a message or `repr`.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import SignMixin

from lucid_sessions.adapters.crypto.keyring import KeyConfigError, MissingKey
from lucid_sessions.adapters.pkcs11.token import (
    TOKEN_LABEL_SETTING,
    connect,
    find_object,
    require_mechanisms,
)
from lucid_sessions.domain.errors import SigningKeyRetired, StorageUnavailable
from lucid_sessions.domain.key_set import key_id_of
from lucid_sessions.domain.ports.signer import Signer, SigningKey

__all__ = ["ED25519_EC_PARAMS", "SIGNING_KEY_LABEL_PREFIX", "Pkcs11Signer"]

SIGNING_KEY_LABEL_PREFIX: Final = "lucid-signing-"
# DER of the OBJECT IDENTIFIER 1.3.101.112 (id-Ed25519, RFC 8410).
ED25519_EC_PARAMS: Final = bytes.fromhex("06032b6570")
# DER of the PrintableString "edwards25519" (PKCS#11 3.0's other accepted form).
_ED25519_EC_PARAMS_PRINTABLE: Final = b"\x13\x0cedwards25519"
_ED25519_PARAMS: Final = (ED25519_EC_PARAMS, _ED25519_EC_PARAMS_PRINTABLE)
_PUBLIC_KEY_SIZE: Final = 32
_SIGNATURE_SIZE: Final = 64
_LABEL: Final = re.compile(re.escape(SIGNING_KEY_LABEL_PREFIX) + r"([0-9a-f]{16})")
_CKA_ID: Final = re.compile(rb"([0-9a-f]{16})(?::([1-9][0-9]{0,17})(?::(0|[1-9][0-9]{0,11}))?)?")
# The label of a pair between its generation and its naming (its key id is known only then).
_PENDING_LABEL: Final = SIGNING_KEY_LABEL_PREFIX + "pending"
# The retirement of a key retired at an unknown time.
_UNKNOWN_RETIREMENT: Final = datetime.fromtimestamp(0, UTC)


def _signing_label(key_id: str) -> str:
    return SIGNING_KEY_LABEL_PREFIX + key_id


def _raw_point(ec_point: bytes) -> bytes:
    """The 32 bytes of an Ed25519 `CKA_EC_POINT`: a DER OCTET STRING, or (some modules) bare."""
    if len(ec_point) == _PUBLIC_KEY_SIZE + 2 and ec_point[:2] == b"\x04\x20":
        return ec_point[2:]
    if len(ec_point) == _PUBLIC_KEY_SIZE:
        return ec_point
    raise ValueError("not an Ed25519 public point")


def _whole_seconds(moment: datetime) -> int:
    """`moment` as Unix seconds, rounded up."""
    return math.ceil(moment.timestamp())


@dataclass(frozen=True)
class _Pair:
    """A signing key pair found in the token (its public half read out)."""

    key_id: str
    serial: int
    created: int | None
    public_key: bytes
    cka_id: bytes

    @property
    def order(self) -> tuple[int, str]:
        return self.serial, self.key_id

    @property
    def created_at(self) -> datetime | None:
        return None if self.created is None else datetime.fromtimestamp(self.created, UTC)


def _current(pairs: list[_Pair]) -> _Pair:
    return max(pairs, key=lambda pair: pair.order)


def _key_set(pairs: list[_Pair]) -> list[SigningKey]:
    """The pairs as a key set, oldest first (module docstring)."""
    ordered = sorted(pairs, key=lambda pair: pair.order)
    keys: list[SigningKey] = []
    retired_at: datetime | None = None  # of the pair being looked at, from those after it
    for index in range(len(ordered) - 1, -1, -1):
        pair = ordered[index]
        if index == len(ordered) - 1:
            retirement = None
        else:
            retirement = retired_at if retired_at is not None else _UNKNOWN_RETIREMENT
        keys.append(SigningKey(pair.key_id, pair.public_key, pair.created_at, retirement))
        if pair.created_at is not None:
            retired_at = pair.created_at
    keys.reverse()
    return keys


class Pkcs11Signer(Signer):
    """Signs with Ed25519 private keys that never leave a PKCS#11 token.

    `create`: make the first key pair when the token holds none (development); without it an
    empty token stops construction with `KeyConfigError`.
    """

    def __init__(self, module: str, token_label: str, pin: str, *, create: bool) -> None:
        self._connection = connect(module, token_label, pin)
        self._where = self._connection.where
        require_mechanisms(
            self._connection,
            {
                Mechanism.EC_EDWARDS_KEY_PAIR_GEN: "CKM_EC_EDWARDS_KEY_PAIR_GEN",
                Mechanism.EDDSA: "CKM_EDDSA",
            },
            "signing keys",
        )
        self.created = False  # whether this signer made the token's first key pair
        try:
            pairs = self._connection.use(self._pairs)
            if not pairs and create:
                created = math.ceil(time.time())
                self._connection.use(lambda session: self._generate(session, 1, created))
                pairs = self._connection.use(self._pairs)
                self.created = True
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if not pairs:
            raise MissingKey(
                f"{TOKEN_LABEL_SETTING}: the {self._where} holds no signing key (missing: an "
                f"Ed25519 key pair labelled {_signing_label('<key id>')!r}); production never "
                f"creates keys at start-up: make it with `lucid-sessions keys rotate-signing`"
            )
        self._check_private_key(_current(pairs))

    def __repr__(self) -> str:
        return (
            f"Pkcs11Signer(module={self._connection.module!r}, "
            f"token_label={self._connection.token_label!r})"
        )

    # -- the port ----------------------------------------------------------------------------

    def current(self) -> SigningKey:
        return _key_set(self._connection.use(self._pairs))[-1]

    def key_set(self) -> list[SigningKey]:
        return _key_set(self._connection.use(self._pairs))

    def sign(self, key_id: str, message: bytes) -> bytes:
        def sign(session: pkcs11.Session) -> bytes:
            pairs = self._pairs(session)
            if not pairs or _current(pairs).key_id != key_id:
                raise SigningKeyRetired(key_id)
            try:
                key = self._private_key(session, _current(pairs))
            except StorageUnavailable:
                now = self._pairs(session)
                if not now or _current(now).key_id != key_id:  # rotated meanwhile
                    raise SigningKeyRetired(key_id) from None
                raise
            if not isinstance(key, SignMixin):
                raise p11.KeyTypeInconsistent()
            signature = key.sign(message, mechanism=Mechanism.EDDSA)
            if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_SIZE:
                raise p11.FunctionFailed()
            return signature

        return self._connection.use(sign)

    def rotate(self, now: datetime) -> SigningKey:
        """Make the next key pair (made at `now`), then destroy the private half of every pair
        but the current one; the current key."""
        created = _whole_seconds(now)

        def rotate(session: pkcs11.Session) -> list[_Pair]:
            serial = max((pair.serial for pair in self._pairs(session)), default=0) + 1
            self._generate(session, serial, created)
            pairs = self._pairs(session)
            current = _current(pairs)
            for pair in pairs:
                if pair.key_id != current.key_id:
                    self._destroy_private_keys(session, pair)
            return pairs

        return _key_set(self._connection.use(rotate))[-1]

    # -- inside the token (called under the connection's lock) ----------------------------------

    def _pairs(self, session: pkcs11.Session) -> list[_Pair]:
        """Every well-formed signing key pair's public half in the token."""
        found = []
        template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.EC_EDWARDS}
        for key in session.get_objects(template):
            match = _LABEL.fullmatch(key[Attribute.LABEL])
            if match is None:
                continue
            cka_id = bytes(key[Attribute.ID])
            id_match = _CKA_ID.fullmatch(cka_id)
            try:
                public_key = _raw_point(bytes(key[Attribute.EC_POINT]))
            except ValueError:
                continue
            if (
                id_match is None
                or bytes(key[Attribute.EC_PARAMS]) not in _ED25519_PARAMS
                or key_id_of(public_key) != match[1]
                or id_match[1].decode("ascii") != match[1]
            ):
                continue
            serial = int(id_match[2]) if id_match[2] else 0
            created = int(id_match[3]) if id_match[3] else None
            found.append(_Pair(match[1], serial, created, public_key, cka_id))
        return found

    def _private_key(self, session: pkcs11.Session, pair: _Pair) -> pkcs11.PrivateKey:
        template = {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.LABEL: _signing_label(pair.key_id),
            Attribute.ID: pair.cka_id,
        }
        missing = (
            f"the {self._where} no longer holds the private signing key "
            f"{_signing_label(pair.key_id)!r}"
        )
        return find_object(session, template, pkcs11.PrivateKey, missing)

    def _destroy_private_keys(self, session: pkcs11.Session, pair: _Pair) -> None:
        """Destroy every private object labelled for `pair` (it is retired)."""
        template = {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.LABEL: _signing_label(pair.key_id),
        }
        for key in list(session.get_objects(template)):
            key.destroy()

    def _generate(self, session: pkcs11.Session, serial: int, created: int) -> _Pair:
        public, private = session.generate_keypair(
            KeyType.EC_EDWARDS,
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            store=True,
            public_template={
                Attribute.EC_PARAMS: ED25519_EC_PARAMS,
                Attribute.LABEL: _PENDING_LABEL,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
                Attribute.ENCRYPT: False,
                Attribute.WRAP: False,
                Attribute.DERIVE: False,
            },
            private_template={
                Attribute.LABEL: _PENDING_LABEL,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.DECRYPT: False,
                Attribute.UNWRAP: False,
                Attribute.DERIVE: False,
            },
        )
        public_key = _raw_point(bytes(public[Attribute.EC_POINT]))
        key_id = key_id_of(public_key)
        cka_id = f"{key_id}:{serial}:{created}".encode("ascii")
        # Name the private half first: a pair is found by its public half, so a crash in
        # between leaves at worst an unused pending object, never a public key without its
        # private one.
        for key in (private, public):
            key[Attribute.ID] = cka_id
            key[Attribute.LABEL] = _signing_label(key_id)
        return _Pair(key_id, serial, created, public_key, cka_id)

    def _check_private_key(self, pair: _Pair) -> None:
        """A signing key the service would not create is refused: sensitive, never
        extractable, able to sign."""

        def problems(session: pkcs11.Session) -> list[str]:
            key = self._private_key(session, pair)
            found = []
            if key.key_type != KeyType.EC_EDWARDS:
                found.append("is not an Ed25519 key")
            if not key[Attribute.SENSITIVE]:
                found.append("is not sensitive")
            if key[Attribute.EXTRACTABLE]:
                found.append("is extractable")
            if not key[Attribute.SIGN]:
                found.append("cannot sign")
            return found

        try:
            found = self._connection.use(problems)
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if found:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: in the {self._where}, the signing key "
                f"{_signing_label(pair.key_id)!r} {' and '.join(found)}; the service uses only "
                f"sensitive, non-extractable Ed25519 keys"
            )
