"""Contract of the `LinkSigner` port (the in-memory fake, the HMAC key file read once, the
signer that follows its key file, and the key in a PKCS#11 token), plus the link key file:
creation, loading and rotation."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import os
import pickle
import re
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.adapters.crypto.keyring import KeyConfigError
from lucid_sessions.adapters.crypto.link_signer import (
    LINK_KEY_FILE_ENV,
    HmacLinkSigner,
    ReloadingLinkSigner,
    link_key_file_path,
    load_link_signer,
    rotate_link_key,
)
from lucid_sessions.adapters.memory.link_signer import InMemoryLinkSigner
from lucid_sessions.adapters.pkcs11.link_signer import Pkcs11LinkSigner
from lucid_sessions.adapters.pkcs11.link_signer import rotate_link_key as rotate_in_token
from lucid_sessions.domain.playback_link import (
    MAX_MAC_BYTES,
    MIN_MAC_BYTES,
    InvalidLink,
    PlaybackGrant,
    encode_link,
    open_link,
)
from lucid_sessions.domain.ports.link_signer import LinkSigner
from tests.softhsm import SoftHsmToken

PAYLOAD = b"v1.c2Vzcy0wMDAxOjE4MDAwMDAwMDA6azE"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# -- the implementations -------------------------------------------------------------------------


@dataclass
class MemorySource:
    signer: InMemoryLinkSigner

    def load(self) -> LinkSigner:
        return self.signer

    def rotate(self) -> None:
        self.signer.rotate()

    def secret(self) -> bytes:
        return self.signer._key


@dataclass
class FileSource:
    """The key file of production, read at each load (a restart)."""

    path: Path

    def __post_init__(self) -> None:
        self.path.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
        self.path.chmod(0o600)

    def load(self) -> LinkSigner:
        return load_link_signer(str(self.path), self.path.parent / "unused", production=True)

    def rotate(self) -> None:
        rotate_link_key(self.path)

    def secret(self) -> bytes:
        return base64.b64decode(self.path.read_bytes())


@dataclass
class ReloadingSource(FileSource):
    """What a server uses: one signer for the life of the process, following its key file."""

    signer: LinkSigner | None = None

    def load(self) -> LinkSigner:
        if self.signer is None:
            self.signer = ReloadingLinkSigner(
                str(self.path), self.path.parent / "unused", production=True
            )
        return self.signer


@dataclass
class Pkcs11Source:
    """The key in a SoftHSM2 token of the test's own: each load is a new signer on it (a
    restart), each rotation the `keys rotate-link` command's."""

    token: SoftHsmToken

    def load(self) -> LinkSigner:
        token = self.token
        return Pkcs11LinkSigner(token.module, token.token_label, token.pin, create=True)

    def rotate(self) -> None:
        rotate_in_token(self.token.module, self.token.token_label, self.token.pin)

    def secret(self) -> bytes:
        return self.token.pin.encode()  # the key never leaves the token: the PIN is the secret


Source = MemorySource | FileSource | ReloadingSource | Pkcs11Source


@pytest.fixture(params=["memory", "file", "reloading", "pkcs11"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    if request.param == "memory":
        return MemorySource(InMemoryLinkSigner())
    if request.param == "pkcs11":
        return Pkcs11Source(request.getfixturevalue("softhsm_token"))
    if request.param == "reloading":
        return ReloadingSource(tmp_path / "link-key.b64")
    return FileSource(tmp_path / "link-key.b64")


def other_signer(source: Source) -> LinkSigner:
    """An independent signer of the same kind, with its own key."""
    return InMemoryLinkSigner() if isinstance(source, MemorySource) else HmacLinkSigner.generate()


def flipped(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# -- the port's contract -------------------------------------------------------------------------


def test_a_mac_verifies_under_its_key_id(source: Source) -> None:
    signer = source.load()
    mac = signer.sign(PAYLOAD)
    assert MIN_MAC_BYTES <= len(mac) <= MAX_MAC_BYTES  # what a token can carry
    assert KEY_ID.fullmatch(signer.key_id)
    assert signer.verify(PAYLOAD, mac, signer.key_id)
    assert signer.verify(b"", signer.sign(b""), signer.key_id)
    assert source.load().verify(PAYLOAD, mac, signer.key_id)  # after a restart
    assert source.load().key_id == signer.key_id


def test_a_flipped_bit_fails(source: Source) -> None:
    signer = source.load()
    mac = signer.sign(PAYLOAD)
    for bit in range(len(mac) * 8):
        assert not signer.verify(PAYLOAD, flipped(mac, bit), signer.key_id)
    for bit in range(len(PAYLOAD) * 8):
        assert not signer.verify(flipped(PAYLOAD, bit), mac, signer.key_id)
    for wrong in (b"", mac[:-1], mac + b"\0", bytes(len(mac))):
        assert not signer.verify(PAYLOAD, wrong, signer.key_id)
    assert not signer.verify(PAYLOAD + b"x", mac, signer.key_id)


def test_an_unknown_key_id_fails(source: Source) -> None:
    signer = source.load()
    mac = signer.sign(PAYLOAD)
    for key_id in ("", "k9", signer.key_id + "0", signer.key_id[:-1], signer.key_id.upper() + "X"):
        assert not signer.verify(PAYLOAD, mac, key_id)
    for odd in ("ключ", "\udcff", "\0"):  # never an exception, whatever the string
        assert not signer.verify(PAYLOAD, mac, odd)


def test_another_keys_mac_fails(source: Source) -> None:
    signer, other = source.load(), other_signer(source)
    theirs = other.sign(PAYLOAD)
    assert not signer.verify(PAYLOAD, theirs, signer.key_id)
    assert not signer.verify(PAYLOAD, theirs, other.key_id)
    assert not other.verify(PAYLOAD, signer.sign(PAYLOAD), other.key_id)


def test_rotation_ends_the_old_keys_macs(source: Source) -> None:
    before = source.load()
    old_id, old_mac = before.key_id, before.sign(PAYLOAD)
    source.rotate()
    after = source.load()
    assert after.key_id != old_id
    assert not after.verify(PAYLOAD, old_mac, old_id)
    assert not after.verify(PAYLOAD, old_mac, after.key_id)
    assert after.verify(PAYLOAD, after.sign(PAYLOAD), after.key_id)


def test_the_signer_opens_the_links_it_signs(source: Source) -> None:
    signer = source.load()
    grant = PlaybackGrant("sess-0001", 1_800_000_000, signer.key_id)
    token = encode_link(grant, signer.sign)
    assert open_link(token, "sess-0001", 1_700_000_000, signer.verify) == grant
    source.rotate()
    with pytest.raises(InvalidLink, match="signature"):
        open_link(token, "sess-0001", 1_700_000_000, source.load().verify)


def test_no_key_material_in_the_repr(source: Source) -> None:
    signer = source.load()
    secret = source.secret()
    shown = repr(signer) + str(signer)
    for spelling in (
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
        repr(secret),
    ):
        assert spelling not in shown
    assert signer.key_id in shown
    for copy_of in (pickle.dumps, copy.copy):
        with pytest.raises(TypeError, match="secret"):
            copy_of(signer)


# -- the HMAC adapter and its key file -----------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_key(path: Path, content: bytes, mode: int = 0o600) -> str:
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


def test_hmac_macs_are_hmac_sha256_and_the_id_is_derived_from_the_key() -> None:
    key = bytes(range(32))
    signer = HmacLinkSigner(key)
    assert signer.sign(PAYLOAD) == hmac.new(key, PAYLOAD, hashlib.sha256).digest()
    label = b"lucid-sessions playback link key id"
    assert signer.key_id == hmac.new(key, label, hashlib.sha256).hexdigest()[:16]
    assert HmacLinkSigner(key).key_id == signer.key_id
    assert HmacLinkSigner(bytes(32)).key_id != signer.key_id


def test_development_makes_the_key_file_once_and_reuses_it(tmp_path: Path) -> None:
    first = load_link_signer("", tmp_path, production=False)
    path = tmp_path / "keys" / "link-key.b64"
    assert link_key_file_path("", tmp_path) == path
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    content = path.read_bytes()
    assert len(base64.b64decode(content, validate=False)) == 32
    assert content.endswith(b"\n")
    mac = first.sign(PAYLOAD)
    second = load_link_signer("", tmp_path, production=False)
    assert path.read_bytes() == content
    assert second.key_id == first.key_id
    assert second.verify(PAYLOAD, mac, first.key_id)
    assert [p.name for p in path.parent.iterdir()] == ["link-key.b64"]  # no temporary files


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        signers = list(pool.map(lambda _: load_link_signer("", tmp_path, False), range(16)))
    assert len({signer.key_id for signer in signers}) == 1


def test_an_operators_command_makes_no_key(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="none is made here"):
        load_link_signer("", tmp_path, production=False, generate=False)
    assert not (tmp_path / "keys").exists()


def test_production_without_a_link_key_stops(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match=LINK_KEY_FILE_ENV) as caught:
        load_link_signer("", tmp_path, production=True)
    assert isinstance(caught.value, ConfigurationError)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "keys").exists()


def test_a_configured_key_file_is_used_and_never_made(tmp_path: Path) -> None:
    key = os.urandom(48)
    configured = write_key(tmp_path / "link.key", base64.b64encode(key) + b"\n")
    signer = load_link_signer(f" {configured} ", tmp_path, production=True)
    assert signer.key_id == HmacLinkSigner(key).key_id
    assert not (tmp_path / "keys").exists()
    missing = str(tmp_path / "absent.key")
    for production in (True, False):
        with pytest.raises(KeyConfigError, match=rf"{LINK_KEY_FILE_ENV}.*does not exist"):
            load_link_signer(missing, tmp_path, production=production)
    assert not (tmp_path / "absent.key").exists()


GOOD = base64.b64encode(bytes(range(32)))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the base64 of 32 to 64 bytes, got 0"),
        (b"\n", "the base64 of 32 to 64 bytes, got 0"),
        (base64.b64encode(bytes(31)), "got 31"),
        (base64.b64encode(bytes(65)), "got 65"),
        (GOOD.rstrip(b"="), "not a link key"),  # padding is part of standard base64
        (base64.urlsafe_b64encode(b"\xff" * 32), "not a link key"),  # the URL alphabet
        (GOOD[:20] + b" " + GOOD[20:], "not a link key"),
        (GOOD + b"\n" + GOOD, "not a link key"),
        (b"\xff\xfe" * 30, "not a link key"),
        (b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n", "not a link key"),
    ],
)
def test_a_malformed_key_file_stops_with_one_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    configured = write_key(tmp_path / "link.key", content)
    with pytest.raises(KeyConfigError) as caught:
        load_link_signer(configured, tmp_path, production=True)
    message = str(caught.value)
    assert message.startswith(f"{LINK_KEY_FILE_ENV} ({configured}): ")
    assert reason in message
    assert "\n" not in message


def test_whitespace_around_the_key_line_is_ignored(tmp_path: Path) -> None:
    configured = write_key(tmp_path / "link.key", b"  " + GOOD + b"\r\n\n")
    assert (
        load_link_signer(configured, tmp_path, True).key_id
        == HmacLinkSigner(bytes(range(32))).key_id
    )


def test_key_errors_never_show_key_material(tmp_path: Path) -> None:
    short = os.urandom(31)
    checks: list[tuple[bytes, Callable[[], object]]] = [
        (short, lambda: HmacLinkSigner(short)),
        (
            short,
            lambda: load_link_signer(
                write_key(tmp_path / "short.key", base64.b64encode(short)), tmp_path, True
            ),
        ),
    ]
    garbage = os.urandom(40)
    checks.append(
        (garbage, lambda: load_link_signer(write_key(tmp_path / "g.key", garbage), tmp_path, True))
    )
    for secret, check in checks:
        with pytest.raises(KeyConfigError) as caught:
            check()
        message = str(caught.value)
        for spelling in (secret.hex(), base64.b64encode(secret).decode(), repr(secret)):
            assert spelling not in message


def test_production_reads_the_key_file_only_when_private(tmp_path: Path) -> None:
    configured = write_key(tmp_path / "link.key", GOOD, mode=0o640)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        load_link_signer(configured, tmp_path, production=True)
    assert load_link_signer(configured, tmp_path, production=False).key_id


def test_rotation_writes_a_new_key_atomically_with_mode_0600(tmp_path: Path) -> None:
    first = load_link_signer("", tmp_path, production=False)
    path = link_key_file_path("", tmp_path)
    ids = []
    for _ in range(3):
        inode = path.stat().st_ino
        ids.append(rotate_link_key(path))
        # Replaced by a rename, never rewritten in place: a new file while the old one lives
        # (once freed, its inode number may come back for a later key).
        assert path.stat().st_ino != inode
    assert len({first.key_id, *ids}) == 4
    assert mode_of(path) == 0o600
    assert load_link_signer("", tmp_path, production=False).key_id == ids[-1]
    assert [p.name for p in path.parent.iterdir()] == ["link-key.b64"]


def test_rotation_needs_an_existing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="does not exist"):
        rotate_link_key(tmp_path / "absent" / "link-key.b64")
    assert not (tmp_path / "absent").exists()


def test_a_running_signer_follows_rotations_in_quick_succession(tmp_path: Path) -> None:
    configured = write_key(tmp_path / "link.key", GOOD)
    signer = ReloadingLinkSigner(configured, tmp_path, production=True)
    mac, key_id = signer.sign(PAYLOAD), signer.key_id
    for _ in range(3):  # faster than the file system's time stamps tick
        new_id = rotate_link_key(Path(configured))
        assert signer.key_id == new_id
        assert not signer.verify(PAYLOAD, mac, key_id)
        mac, key_id = signer.sign(PAYLOAD), signer.key_id
        assert signer.verify(PAYLOAD, mac, key_id)


def test_a_running_development_signer_keeps_the_key_it_made(tmp_path: Path) -> None:
    signer = ReloadingLinkSigner("", tmp_path, production=False)
    key_id = signer.key_id
    assert signer.verify(PAYLOAD, signer.sign(PAYLOAD), key_id)
    assert load_link_signer("", tmp_path, production=False).key_id == key_id
    assert str(tmp_path / "keys" / "link-key.b64") in repr(signer)
