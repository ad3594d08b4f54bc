"""`Pkcs11LinkSigner`: the playback link key, held and used inside a PKCS#11 token.

Link keys are 256-bit generic secret keys (CKK_GENERIC_SECRET, made with
CKM_GENERIC_SECRET_KEY_GEN: SoftHSM2 2.6.1 makes no CKK_SHA256_HMAC key), `CKA_TOKEN`,
`CKA_PRIVATE`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, sign only. MACs are HMAC-SHA256
(CKM_SHA256_HMAC, 32 bytes) made inside the token; a MAC is verified by making it again in the
token and comparing in constant time on the host. So a link signed here is exactly the link the
file adapter (`lucid_sessions.adapters.crypto.link_signer`) would sign with the same key.

Names: a key is labelled `lucid-link-<key id>`, where the key id is the first 16 hex digits of
HMAC-SHA256(key, "lucid-sessions playback link key id"), made in the token: the file adapter's
id, so a key file moved into the token keeps its id and its outstanding links. `CKA_ID` is
`<key id>:<N>` (ASCII), N = 1 for the first key and one more than the highest in the token for
each rotation; a key provisioned by hand with `CKA_ID` = the key id alone counts as N = 0. The
current key is the one with the highest N (ties, from two processes rotating at once, go to the
greatest key id); a key whose label does not name its own id is ignored. Rotation
(`rotate_link_key`, the `keys rotate-link` command) creates the next key: from then on only it
signs and verifies, so every outstanding link ends. Older keys stay in the token unused.

Reading the current key costs a search of the token and an attribute read per key (some
hundreds of microseconds on SoftHSM2), so a signer reads it again only when its view is older
than `refresh_seconds` (one second by default) or after its own rotation: a rotation made by
another process reaches a running signer within that time. A player fetches many segments
with one link, so positive verifications are remembered: a bounded LRU map of (payload, MAC,
key id), `cache_size` entries (4096 by default), emptied when the current key changes. A
remembered link is verified without asking the token; a failure is never remembered.

Sessions, threads and errors: as for the key ring and the signer, each (module, token label)
has one process-wide connection (`lucid_sessions.adapters.pkcs11.token`) used under one lock.
Problems found while constructing (module, token, PIN, no link key and `create` is false, a
key that is extractable, not sensitive, shorter than 256 bits or unable to sign) raise
`KeyConfigError`, one line naming the setting and the token, never the PIN; token failures at
run time raise `StorageUnavailable`. A token without CKM_GENERIC_SECRET_KEY_GEN or
CKM_SHA256_HMAC is refused when the signer is made. Nothing secret is written anywhere or put
in a message or `repr`.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple, NoReturn

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import SignMixin

from lucid_sessions.adapters.crypto.keyring import KeyConfigError, MissingKey
from lucid_sessions.adapters.pkcs11.token import (
    RETRY_AFTER_SECONDS,
    TOKEN_LABEL_SETTING,
    TokenConnection,
    connect,
    find_object,
    require_mechanisms,
)
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.ports.link_signer import LinkSigner

__all__ = [
    "CACHE_SIZE",
    "LINK_KEY_BITS",
    "LINK_KEY_LABEL_PREFIX",
    "REFRESH_SECONDS",
    "CacheInfo",
    "Pkcs11LinkSigner",
    "rotate_link_key",
]

LINK_KEY_LABEL_PREFIX: Final = "lucid-link-"
LINK_KEY_BITS: Final = 256
REFRESH_SECONDS: Final = 1.0
CACHE_SIZE: Final = 4096
_MAC_SIZE: Final = 32
# The file adapter's key id label: the same key has the same id in a file and in the token.
_KEY_ID_LABEL: Final = b"lucid-sessions playback link key id"
_LABEL: Final = re.compile(re.escape(LINK_KEY_LABEL_PREFIX) + r"([0-9a-f]{16})")
_CKA_ID: Final = re.compile(rb"([0-9a-f]{16})(?::([1-9][0-9]{0,17}))?")
# The label of a key between its generation and its naming (its id is known only then).
_PENDING_LABEL: Final = LINK_KEY_LABEL_PREFIX + "pending"
_LINK_KEY_TYPES: Final = (KeyType.GENERIC_SECRET, KeyType.SHA256_HMAC)
_MECHANISMS: Final = {
    Mechanism.GENERIC_SECRET_KEY_GEN: "CKM_GENERIC_SECRET_KEY_GEN",
    Mechanism.SHA256_HMAC: "CKM_SHA256_HMAC",
}
# What a key the token will not HMAC with answers (no CKA_SIGN, too short, a wrong type).
_CANNOT_MAC: Final = (p11.KeyTypeInconsistent, p11.KeySizeRange, p11.MechanismInvalid)


def _link_label(key_id: str) -> str:
    return LINK_KEY_LABEL_PREFIX + key_id


@dataclass(frozen=True)
class _LinkKey:
    """A link key found in the token (never its value)."""

    key_id: str
    serial: int
    cka_id: bytes


class CacheInfo(NamedTuple):
    """The remembered verifications: hits and misses since construction, entries now held."""

    hits: int
    misses: int
    size: int
    max_size: int


def _mac(key: pkcs11.SecretKey, data: bytes) -> bytes:
    """HMAC-SHA256 of `data` under `key`, inside the token."""
    if not isinstance(key, SignMixin):
        raise p11.KeyTypeInconsistent()
    mac = key.sign(data, mechanism=Mechanism.SHA256_HMAC)
    if not isinstance(mac, bytes) or len(mac) != _MAC_SIZE:
        raise p11.FunctionFailed()
    return mac


def _id_of(key: pkcs11.SecretKey) -> str:
    return _mac(key, _KEY_ID_LABEL).hex()[:16]


def _link_keys(session: pkcs11.Session) -> list[tuple[_LinkKey, pkcs11.SecretKey]]:
    """Every link key in the token, as its label and `CKA_ID` name it (not yet checked)."""
    found = []
    for key_type in _LINK_KEY_TYPES:
        template = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: key_type}
        for key in session.get_objects(template):
            if not isinstance(key, pkcs11.SecretKey):
                continue
            named = key.get_attributes([Attribute.LABEL, Attribute.ID])
            label, raw_id = named.get(Attribute.LABEL), named.get(Attribute.ID)
            cka_id = bytes(raw_id) if isinstance(raw_id, bytes | bytearray) else b""
            match = _LABEL.fullmatch(label) if isinstance(label, str) else None
            id_match = _CKA_ID.fullmatch(cka_id)
            if match is None or id_match is None or id_match[1].decode("ascii") != match[1]:
                continue
            serial = int(id_match[2]) if id_match[2] else 0
            found.append((_LinkKey(match[1], serial, cka_id), key))
    return found


def _current(session: pkcs11.Session) -> tuple[_LinkKey, pkcs11.SecretKey] | None:
    """The current link key: the highest (N, key id) whose label names its own id."""
    ranked = sorted(_link_keys(session), key=lambda found: (found[0].serial, found[0].key_id))
    for link_key, key in reversed(ranked):
        try:
            key_id = _id_of(key)
        except _CANNOT_MAC:
            continue  # not a key this service can use (its check would refuse it too)
        if hmac.compare_digest(key_id, link_key.key_id):
            return link_key, key
    return None


def _generate(session: pkcs11.Session, serial: int) -> _LinkKey:
    key = session.generate_key(
        KeyType.GENERIC_SECRET,
        LINK_KEY_BITS,
        label=_PENDING_LABEL,
        store=True,
        capabilities=MechanismFlag.SIGN,
        template={
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.VERIFY: False,
            Attribute.ENCRYPT: False,
            Attribute.DECRYPT: False,
            Attribute.WRAP: False,
            Attribute.UNWRAP: False,
            Attribute.DERIVE: False,
        },
    )
    key_id = _id_of(key)
    cka_id = f"{key_id}:{serial}".encode("ascii")
    key[Attribute.ID] = cka_id
    key[Attribute.LABEL] = _link_label(key_id)
    return _LinkKey(key_id, serial, cka_id)


def _next(session: pkcs11.Session) -> _LinkKey:
    """Create the next link key (it becomes current)."""
    serial = max((link_key.serial for link_key, _ in _link_keys(session)), default=0) + 1
    return _generate(session, serial)


def _require_mechanisms(connection: TokenConnection) -> None:
    require_mechanisms(connection, _MECHANISMS, "playback link keys")  # takes the token's lock


def rotate_link_key(module: str, token_label: str, pin: str) -> str:
    """Create the next link key in the token (the first one in an empty token) and return its
    id. Every link signed by an earlier key stops working; running signers follow within their
    `refresh_seconds`. Raises `KeyConfigError` (one line, never the PIN) when it cannot."""
    connection = connect(module, token_label, pin)
    _require_mechanisms(connection)
    try:
        return connection.use(_next).key_id
    except StorageUnavailable as exc:
        raise KeyConfigError(exc.detail) from None


class Pkcs11LinkSigner(LinkSigner):
    """MACs playback links with an HMAC key that never leaves a PKCS#11 token.

    `create`: make the first link key when the token holds none (development); without it an
    empty token stops construction with `KeyConfigError`. `clock` gives seconds for the
    refresh (a monotonic clock).
    """

    def __init__(
        self,
        module: str,
        token_label: str,
        pin: str,
        *,
        create: bool,
        refresh_seconds: float = REFRESH_SECONDS,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_seconds < 0 or cache_size < 0:
            raise ValueError("refresh_seconds and cache_size cannot be negative")
        self._connection: TokenConnection = connect(module, token_label, pin)
        self._where = self._connection.where
        _require_mechanisms(self._connection)
        self._refresh_seconds, self._cache_size, self._clock = refresh_seconds, cache_size, clock
        self._lock = threading.Lock()  # the view and the cache (never held over a token call)
        self._cache: OrderedDict[tuple[bytes, bytes, str], None] = OrderedDict()
        self._hits = self._misses = 0
        # The key object last found, and the session it belongs to (under the token's lock).
        self._key: tuple[pkcs11.Session, _LinkKey, pkcs11.SecretKey] | None = None
        read_at = clock()
        try:
            current = self._connection.use(self._read)
            if current is None and create:
                self._connection.use(_next)
                current = self._connection.use(self._read)  # another process may be first
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if current is None:
            raise MissingKey(
                f"{TOKEN_LABEL_SETTING}: the {self._where} holds no playback link key "
                f"(missing: a 256-bit generic secret key labelled {_link_label('<key id>')!r}); "
                f"production never creates keys: make one with `lucid-sessions keys rotate-link`"
            )
        self._check_key(current)
        self._current, self._read_at = current, read_at

    def __repr__(self) -> str:
        return (
            f"Pkcs11LinkSigner(module={self._connection.module!r}, "
            f"token_label={self._connection.token_label!r}, key_id={self._current.key_id!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("a link signer holds a secret key: it is neither copied nor pickled")

    # -- the port ----------------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        return self._current_key().key_id

    def sign(self, payload: bytes) -> bytes:
        current = self._current_key()
        mac = self._token_mac(current, payload)
        self._remember((bytes(payload), mac, current.key_id))  # its first check is free
        return mac

    def verify(self, payload: bytes, mac: bytes, key_id: str) -> bool:
        current = self._current_key()
        claimed = key_id.encode("utf-8", errors="replace")
        if not hmac.compare_digest(claimed, current.key_id.encode("ascii")):
            return False
        if len(mac) != _MAC_SIZE:
            return False
        entry = (bytes(payload), bytes(mac), current.key_id)
        with self._lock:
            if entry in self._cache:
                self._cache.move_to_end(entry)
                self._hits += 1
                return True
            self._misses += 1
        if not hmac.compare_digest(self._token_mac(current, payload), mac):
            return False
        self._remember(entry)
        return True

    # -- rotation and the cache ----------------------------------------------------------------

    def rotate(self) -> str:
        """Create the next link key in the token and take it at once; its id. Other signers
        take it within their `refresh_seconds`."""
        new = self._connection.use(_next)
        self._refresh()
        return new.key_id

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._cache_size)

    def _remember(self, entry: tuple[bytes, bytes, str]) -> None:
        if self._cache_size == 0:
            return
        with self._lock:
            if entry[2] != self._current.key_id:
                return  # the key changed meanwhile: the entry would never be read
            self._cache[entry] = None
            self._cache.move_to_end(entry)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- the current key -----------------------------------------------------------------------

    def _current_key(self) -> _LinkKey:
        with self._lock:
            if self._clock() - self._read_at < self._refresh_seconds:
                return self._current
        return self._refresh()

    def _refresh(self) -> _LinkKey:
        """Read the current key from the token (another process may have rotated it)."""
        read_at = self._clock()  # before the read: a rotation during it is seen next time
        current = self._connection.use(self._read)
        if current is None:
            raise StorageUnavailable(
                f"the {self._where} no longer holds any playback link key",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        if current != self._current:
            # A key made elsewhere since: used only if the service would have made it so.
            found = self._connection.use(lambda session: self._problems(session, current))
            if found:
                raise StorageUnavailable(
                    f"the {self._where}'s newest playback link key "
                    f"{_link_label(current.key_id)!r} {' and '.join(found)}: refused",
                    retry_after_seconds=RETRY_AFTER_SECONDS,
                )
        with self._lock:
            if current != self._current:
                self._current = current
                self._cache.clear()
            self._read_at = max(self._read_at, read_at)
            return self._current

    # -- inside the token (called under the connection's lock) ----------------------------------

    def _read(self, session: pkcs11.Session) -> _LinkKey | None:
        found = _current(session)
        if found is None:
            return None
        self._key = (session, found[0], found[1])
        return found[0]

    def _token_mac(self, link_key: _LinkKey, payload: bytes) -> bytes:
        def mac(session: pkcs11.Session) -> bytes:
            return _mac(self._object(session, link_key), payload)

        try:
            return self._connection.use(mac)
        except StorageUnavailable:
            with self._lock:
                self._read_at = float("-inf")  # read the current key again on the next call
            raise

    def _object(self, session: pkcs11.Session, link_key: _LinkKey) -> pkcs11.SecretKey:
        """The key object of `link_key` in this session (found again after a new session)."""
        if self._key is not None and self._key[0] is session and self._key[1] == link_key:
            return self._key[2]
        template = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.LABEL: _link_label(link_key.key_id),
            Attribute.ID: link_key.cka_id,
        }
        missing = (
            f"the {self._where} no longer holds the playback link key "
            f"{_link_label(link_key.key_id)!r}"
        )
        key = find_object(session, template, pkcs11.SecretKey, missing)
        self._key = (session, link_key, key)
        return key

    def _problems(self, session: pkcs11.Session, link_key: _LinkKey) -> list[str]:
        """What makes `link_key` one the service would not have made (empty: none)."""
        key = self._object(session, link_key)
        found = []
        if key[Attribute.VALUE_LEN] * 8 < LINK_KEY_BITS:
            found.append(f"is shorter than {LINK_KEY_BITS} bits")
        if not key[Attribute.SENSITIVE]:
            found.append("is not sensitive")
        if key[Attribute.EXTRACTABLE]:
            found.append("is extractable")
        if not key[Attribute.SIGN]:
            found.append("cannot sign")
        return found

    def _check_key(self, link_key: _LinkKey) -> None:
        """A link key the service would not create is refused: at least 256 bits, sensitive,
        never extractable, able to sign (at start-up here; in `_refresh` for a key made later)."""
        try:
            found = self._connection.use(lambda session: self._problems(session, link_key))
        except StorageUnavailable as exc:
            raise KeyConfigError(exc.detail) from None
        if found:
            raise KeyConfigError(
                f"{TOKEN_LABEL_SETTING}: in the {self._where}, the playback link key "
                f"{_link_label(link_key.key_id)!r} {' and '.join(found)}; the service uses only "
                f"sensitive, non-extractable keys of {LINK_KEY_BITS} bits or more"
            )
