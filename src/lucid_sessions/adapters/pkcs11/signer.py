"""`Pkcs11Signer`: the service's Ed25519 signing key, held and used inside a PKCS#11 token.

Signing keys are Ed25519 key pairs made in the token with CKM_EC_EDWARDS_KEY_PAIR_GEN
(`CKA_EC_PARAMS` = the DER of the curve OID 1.3.101.112, which SoftHSM2 2.6.1 accepts, as it
does the printable "edwards25519" form; both are recognized on keys found in the token). The
private key is `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, sign only;
the public key verify only. Both are labelled `lucid-signing-<key id>`, where the key id is the
first 16 hex digits of BLAKE3 of the raw 32-byte public key (as for the file signer), read from
`CKA_EC_POINT` (a DER OCTET STRING around the 32 bytes). Signing is CKM_EDDSA (pure Ed25519),
so signatures verify with `lucid_sessions.adapters.crypto.signer.verify_signature`.

The current key: `CKA_ID` of both objects is `<key id>:<N>` (ASCII), N = 1 for the first pair
and one more than the highest in the token for each rotation (`rotate`). The current key is the
pair with the highest N (ties, from two processes rotating at once, go to the greatest key id);
a pair provisioned by hand with `CKA_ID` = the key id alone counts as N = 0. A signer picks its
current key when constructed and after its own `rotate`, and keeps it: `key_id`, `public_key()`
and `sign` always agree, and a rotation made by another process is seen on the next start.
(Retiring keys and publishing a key set come later.) The private key is found again in the
token at each `sign` (a find and one signature, under the token's lock), so a dropped session
heals itself.

Errors, as for the key ring: problems found while constructing (module, token, PIN, no signing
key and `create` is false, a key that is extractable or not Ed25519) raise `KeyConfigError`,
one line naming the setting and the token, never the PIN; token failures at run time raise
`StorageUnavailable`. Nothing secret is written anywhere or put in a message or `repr`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import pkcs11
from blake3 import blake3
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import SignMixin

from lucid_sessions.adapters.crypto.keyring import KeyConfigError
from lucid_sessions.adapters.pkcs11.token import RETRY_AFTER_SECONDS, TOKEN_LABEL_SETTING, connect
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.ports.signer import Signer

__all__ = ["ED25519_EC_PARAMS", "SIGNING_KEY_LABEL_PREFIX", "Pkcs11Signer"]

SIGNING_KEY_LABEL_PREFIX: Final = "lucid-signing-"
# DER of the OBJECT IDENTIFIER 1.3.101.112 (id-Ed25519, RFC 8410).
ED25519_EC_PARAMS: Final = bytes.fromhex("06032b6570")
# DER of the PrintableString "edwards25519" (PKCS#11 3.0's other accepted form).
_ED25519_EC_PARAMS_PRINTABLE: Final = b"\x13\x0cedwards25519"
_ED25519_PARAMS: Final = (ED25519_EC_PARAMS, _ED25519_EC_PARAMS_PRINTABLE)
_PUBLIC_KEY_SIZE: Final = 32
_SIGNATURE_SIZE: Final = 64
_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_LABEL: Final = re.compile(re.escape(SIGNING_KEY_LABEL_PREFIX) + r"([0-9a-f]{16})")
_CKA_ID: Final = re.compile(rb"([0-9a-f]{16})(?::([1-9][0-9]{0,17}))?")
# The label of a pair between its generation and its naming (its key id is known only then).
_PENDING_LABEL: Final = SIGNING_KEY_LABEL_PREFIX + "pending"


def _signing_label(key_id: str) -> str:
    return SIGNING_KEY_LABEL_PREFIX + key_id


def _key_id_of(public_key: bytes) -> str:
    return blake3(public_key).hexdigest()[:16]


def _raw_point(ec_point: bytes) -> bytes:
    """The 32 bytes of an Ed25519 `CKA_EC_POINT`: a DER OCTET STRING, or (some modules) bare."""
    if len(ec_point) == _PUBLIC_KEY_SIZE + 2 and ec_point[:2] == b"\x04\x20":
        return ec_point[2:]
    if len(ec_point) == _PUBLIC_KEY_SIZE:
        return ec_point
    raise ValueError("not an Ed25519 public point")


@dataclass(frozen=True)
class _Pair:
    """A signing key pair found in the token (its public half read out)."""

    key_id: str
    serial: int
    public_key: bytes
    cka_id: bytes


class Pkcs11Signer(Signer):
    """Signs with an Ed25519 private key that never leaves a PKCS#11 token.

    `create`: make the first key pair when the token holds none (development); without it an
    empty token stops construction with `KeyConfigError`.
    """

    def __init__(self, module: str, token_label: str, pin: str, *, create: bool) -> None:
        self._connection = connect(module, token_label, pin)
        self._where = self._connection.where
        try:
            pairs = self._connection.use(self._pairs)
            if not pairs and create:
                self._connection.use(lambda session: self._generate(session, 1))
                pairs = self._connection.use(self._pairs)
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if not pairs:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: the {self._where} holds no signing key (missing: an "
                f"Ed25519 key pair labelled {_signing_label('<key id>')!r}); production never "
                f"creates keys: provision one, sensitive and non-extractable"
            )
        self._current = max(pairs, key=lambda pair: (pair.serial, pair.key_id))
        self._check_private_key(self._current)

    def __repr__(self) -> str:
        return (
            f"Pkcs11Signer(module={self._connection.module!r}, "
            f"token_label={self._connection.token_label!r}, key_id={self._current.key_id!r})"
        )

    # -- the port ----------------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        return self._current.key_id

    def public_key(self) -> bytes:
        return self._current.public_key

    def sign(self, message: bytes) -> bytes:
        pair = self._current

        def sign(session: pkcs11.Session) -> bytes:
            key = self._private_key(session, pair)
            if not isinstance(key, SignMixin):
                raise p11.KeyTypeInconsistent()
            signature = key.sign(message, mechanism=Mechanism.EDDSA)
            if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_SIZE:
                raise p11.FunctionFailed()
            return signature

        return self._connection.use(sign)

    # -- rotation ------------------------------------------------------------------------------

    def rotate(self) -> str:
        """Create a new key pair in the token, make it this signer's current key; its key id.

        Old pairs stay in the token (signatures made with them still verify under their public
        keys). Other signers on the token take the new key when next constructed.
        """

        def rotate(session: pkcs11.Session) -> _Pair:
            serial = max((pair.serial for pair in self._pairs(session)), default=0) + 1
            return self._generate(session, serial)

        pair = self._connection.use(rotate)
        self._current = pair
        return pair.key_id

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
                or _key_id_of(public_key) != match[1]
                or id_match[1].decode("ascii") != match[1]
            ):
                continue
            serial = int(id_match[2]) if id_match[2] else 0
            found.append(_Pair(match[1], serial, public_key, cka_id))
        return found

    def _private_key(self, session: pkcs11.Session, pair: _Pair) -> pkcs11.PrivateKey:
        template = {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.LABEL: _signing_label(pair.key_id),
            Attribute.ID: pair.cka_id,
        }
        for key in session.get_objects(template):
            if isinstance(key, pkcs11.PrivateKey):
                return key
        raise StorageUnavailable(
            f"the {self._where} no longer holds the private signing key "
            f"{_signing_label(pair.key_id)!r}",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )

    def _generate(self, session: pkcs11.Session, serial: int) -> _Pair:
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
        key_id = _key_id_of(public_key)
        cka_id = f"{key_id}:{serial}".encode("ascii")
        # Name the private half first: a pair is found by its public half, so a crash in
        # between leaves at worst an unused pending object, never a public key without its
        # private one.
        for key in (private, public):
            key[Attribute.ID] = cka_id
            key[Attribute.LABEL] = _signing_label(key_id)
        return _Pair(key_id, serial, public_key, cka_id)

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
