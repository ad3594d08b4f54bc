"""Contract of the `KeyRing` port (in memory, from a YAML key file, in a PKCS#11 token, and
the token behind the data key cache), plus key loading."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lucid_sessions.adapters.crypto.cached_keyring import CachedKeyRing
from lucid_sessions.adapters.crypto.keyring import (
    KeyConfigError,
    KeySources,
    StaticKeyRing,
    load_master_keys,
    master_key_file_path,
    rotate_master_key,
)
from lucid_sessions.adapters.crypto.reloading_keyring import ReloadingKeyRing
from lucid_sessions.adapters.pkcs11 import Pkcs11KeyRing
from lucid_sessions.domain.errors import IntegrityError
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey
from tests.softhsm import SoftHsmToken


@dataclass
class MemoryRingSource:
    keys: dict[str, bytes] = field(default_factory=lambda: {"k1": os.urandom(32)})
    current: str = "k1"

    def load(self) -> KeyRing:
        return StaticKeyRing(self.keys, self.current)

    def rotate(self) -> str:
        self.current = f"k{len(self.keys) + 1}"
        self.keys[self.current] = os.urandom(32)
        return self.current


@dataclass
class FileRingSource:
    path: Path

    def __post_init__(self) -> None:
        key = base64.b64encode(os.urandom(32)).decode()
        self.path.write_text(yaml.safe_dump({"current": "k1", "keys": {"k1": key}}))
        self.path.chmod(0o600)

    def load(self) -> KeyRing:
        env = KeySources(master_key_file=str(self.path))
        return load_master_keys(env, self.path.parent / "unused", production=True)

    def rotate(self) -> str:
        return rotate_master_key(self.path)


@dataclass
class ReloadingRingSource(FileRingSource):
    """What production uses: one ring for the life of the process, following its key file."""

    ring: KeyRing | None = None

    def load(self) -> KeyRing:
        if self.ring is None:
            env = KeySources(master_key_file=str(self.path))
            self.ring = ReloadingKeyRing(env, self.path.parent / "unused", production=True)
        return self.ring


@dataclass
class Pkcs11RingSource:
    """Master keys in a SoftHSM2 token of the test's own; each load is a new ring on it."""

    token: SoftHsmToken

    def load(self) -> KeyRing:
        return self.ring(create=True)

    def ring(self, *, create: bool) -> Pkcs11KeyRing:
        token = self.token
        return Pkcs11KeyRing(token.module, token.token_label, token.pin, create=create)

    def rotate(self) -> str:
        return self.ring(create=False).rotate()


@dataclass
class CachedRingSource(Pkcs11RingSource):
    """What a server on a token uses: the token's ring behind the data key cache, one per
    process (a reload is a new process: a new ring and an empty cache)."""

    def load(self) -> KeyRing:
        return CachedKeyRing(self.ring(create=True), max_entries=4, ttl_seconds=300.0)


RingSource = (
    MemoryRingSource | FileRingSource | ReloadingRingSource | Pkcs11RingSource | CachedRingSource
)


@pytest.fixture(params=["memory", "file", "reloading", "pkcs11", "cached-pkcs11"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> RingSource:
    if request.param == "memory":
        return MemoryRingSource()
    if request.param == "pkcs11":
        return Pkcs11RingSource(request.getfixturevalue("softhsm_token"))
    if request.param == "cached-pkcs11":
        return CachedRingSource(request.getfixturevalue("softhsm_token"))
    if request.param == "reloading":
        return ReloadingRingSource(tmp_path / "master-keys.yaml")
    return FileRingSource(tmp_path / "master-keys.yaml")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_data_key_round_trips(source: RingSource) -> None:
    ring = source.load()
    key, wrapped = ring.new_data_key()
    assert len(key) == 32
    assert wrapped.key_id == ring.current_key_id == "k1"
    assert key not in wrapped.wrapped
    assert ring.unwrap(wrapped) == key
    assert source.load().unwrap(wrapped) == key  # survives a reload


def test_every_data_key_is_fresh(source: RingSource) -> None:
    ring = source.load()
    keys = [ring.new_data_key() for _ in range(16)]
    assert len({key for key, _ in keys}) == 16
    assert len({wrapped.wrapped for _, wrapped in keys}) == 16


def test_rotation_rewraps_under_the_new_key(source: RingSource) -> None:
    key, old = source.load().new_data_key()
    new_id = source.rotate()
    assert new_id == "k2"
    ring = source.load()
    assert ring.current_key_id == "k2"
    rewrapped = ring.rewrap(old)
    assert rewrapped.key_id == "k2"
    assert rewrapped.wrapped != old.wrapped
    assert ring.unwrap(rewrapped) == key
    assert ring.unwrap(old) == key  # the old key stays until every data key is re-wrapped
    assert ring.rewrap(rewrapped) == rewrapped
    assert ring.new_data_key()[1].key_id == "k2"


def test_a_reloading_ring_follows_rotations_in_quick_succession(tmp_path: Path) -> None:
    source = ReloadingRingSource(tmp_path / "master-keys.yaml")
    ring = source.load()
    key, wrapped = ring.new_data_key()
    for expected in ("k2", "k3", "k4"):  # faster than the file system's time stamps tick
        assert source.rotate() == expected
        assert ring.current_key_id == expected
        assert ring.new_data_key()[1].key_id == expected
    assert ring.unwrap(ring.rewrap(wrapped)) == key


def test_unknown_key_id_fails(source: RingSource) -> None:
    ring = source.load()
    _, wrapped = ring.new_data_key()
    with pytest.raises(IntegrityError, match="unknown master key id"):
        ring.unwrap(WrappedKey(key_id="k9", wrapped=wrapped.wrapped))
    with pytest.raises(IntegrityError):
        ring.rewrap(WrappedKey(key_id="k9", wrapped=wrapped.wrapped))


@pytest.mark.parametrize("index", [0, 11, 12, 43, 59])
def test_tampered_wrapped_key_fails(source: RingSource, index: int) -> None:
    ring = source.load()
    _, wrapped = ring.new_data_key()
    data = bytearray(wrapped.wrapped)
    data[index] ^= 0x80
    with pytest.raises(IntegrityError):
        ring.unwrap(WrappedKey(key_id="k1", wrapped=bytes(data)))
    with pytest.raises(IntegrityError):
        ring.unwrap(WrappedKey(key_id="k1", wrapped=wrapped.wrapped[:-1]))


def test_wrapped_key_is_bound_to_its_key_id() -> None:
    master = os.urandom(32)
    ring = StaticKeyRing({"k1": master, "k2": master}, "k1")
    _, wrapped = ring.new_data_key()
    with pytest.raises(IntegrityError):
        ring.unwrap(WrappedKey(key_id="k2", wrapped=wrapped.wrapped))


def test_inline_master_key_is_k1() -> None:
    key = os.urandom(32)
    ring = load_master_keys(KeySources(master_key=base64.b64encode(key).decode()), Path("/x"), True)
    assert ring.current_key_id == "k1"
    _, wrapped = ring.new_data_key()
    assert StaticKeyRing({"k1": key}, "k1").unwrap(wrapped) == ring.unwrap(wrapped)


@pytest.mark.parametrize("value", ["not base64!!", base64.b64encode(bytes(16)).decode(), "AAA="])
def test_bad_inline_master_key_names_the_variable(value: str, tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="LUCID_MASTER_KEY"):
        load_master_keys(KeySources(master_key=value), tmp_path, production=False)
    assert not (tmp_path / "keys").exists()


def test_development_generates_the_key_file_once(tmp_path: Path) -> None:
    first = load_master_keys(KeySources(), tmp_path, production=False)
    path = tmp_path / "keys" / "master-keys.yaml"
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    content = path.read_bytes()
    key, wrapped = first.new_data_key()
    second = load_master_keys(KeySources(), tmp_path, production=False)
    assert path.read_bytes() == content
    assert second.unwrap(wrapped) == key
    assert [p.name for p in path.parent.iterdir()] == ["master-keys.yaml"]  # no temp files left
    assert master_key_file_path(KeySources(), tmp_path) == path


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        rings = list(pool.map(lambda _: load_master_keys(KeySources(), tmp_path, False), range(16)))
    key, wrapped = rings[0].new_data_key()
    assert all(ring.unwrap(wrapped) == key for ring in rings)


def test_production_without_keys_stops(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="LUCID_MASTER_KEY_FILE") as caught:
        load_master_keys(KeySources(), tmp_path, production=True)
    assert "LUCID_MASTER_KEY " in str(caught.value)
    assert not (tmp_path / "keys").exists()


def _write(path: Path, document: object) -> KeySources:
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return KeySources(master_key_file=str(path))


GOOD = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"current": "k2", "keys": {"k1": GOOD}}, "'k2' unknown (k1)"),
        ({"keys": {"k1": GOOD}}, "'current'"),
        ({"current": "k1", "keys": {}}, "'keys'"),
        ({"current": "k1", "keys": {"k1": "%%%"}}, "keys.k1: not valid base64"),
        ({"current": "k1", "keys": {"k1": GOOD[:-4]}}, "exactly 32 bytes"),
        ({"current": "k 1", "keys": {"k 1": GOOD}}, "must match"),
        (["k1", GOOD], "expected a mapping"),
    ],
)
def test_bad_key_file_names_the_setting(tmp_path: Path, document: object, reason: str) -> None:
    env = _write(tmp_path / "keys.yaml", document)
    with pytest.raises(KeyConfigError, match="LUCID_MASTER_KEY_FILE") as caught:
        load_master_keys(env, tmp_path, production=True)
    assert reason in str(caught.value)


def test_missing_or_unparsable_key_file(tmp_path: Path) -> None:
    missing = KeySources(master_key_file=str(tmp_path / "nope.yaml"))
    with pytest.raises(KeyConfigError, match="does not exist"):
        load_master_keys(missing, tmp_path, production=False)
    broken = tmp_path / "broken.yaml"
    broken.write_text("current: [k1\n")
    with pytest.raises(KeyConfigError, match="not valid YAML"):
        load_master_keys(KeySources(master_key_file=str(broken)), tmp_path, production=False)


def test_rotation_writes_the_file_atomically_with_mode_0600(tmp_path: Path) -> None:
    load_master_keys(KeySources(), tmp_path, production=False)
    path = tmp_path / "keys" / "master-keys.yaml"
    assert [rotate_master_key(path) for _ in range(3)] == ["k2", "k3", "k4"]
    assert mode_of(path) == 0o600
    document = yaml.safe_load(path.read_text())
    assert document["current"] == "k4"
    assert sorted(document["keys"]) == ["k1", "k2", "k3", "k4"]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_rotation_refuses_an_inline_key(tmp_path: Path) -> None:
    env = KeySources(master_key=GOOD, master_key_file=str(tmp_path / "ignored.yaml"))
    path = master_key_file_path(env, tmp_path)
    assert path is None
    with pytest.raises(KeyConfigError, match="LUCID_MASTER_KEY"):
        rotate_master_key(path)
    with pytest.raises(KeyConfigError, match="does not exist"):
        rotate_master_key(tmp_path / "absent" / "master-keys.yaml")


def test_master_key_file_path_prefers_the_configured_file(tmp_path: Path) -> None:
    env = KeySources(master_key_file=str(tmp_path / "mine.yaml"))
    assert master_key_file_path(env, tmp_path) == tmp_path / "mine.yaml"


@pytest.mark.parametrize(
    ("keys", "current"),
    [({"k1": bytes(31)}, "k1"), ({"k1": bytes(32)}, "k2"), ({}, "k1"), ({"": bytes(32)}, "")],
)
def test_static_key_ring_validates_its_keys(keys: dict[str, bytes], current: str) -> None:
    with pytest.raises(KeyConfigError):
        StaticKeyRing(keys, current)


def test_key_errors_never_show_key_material(tmp_path: Path) -> None:
    secret = base64.b64encode(os.urandom(31)).decode()
    checks: list[Callable[[], object]] = [
        lambda: load_master_keys(KeySources(master_key=secret), tmp_path, production=True),
        lambda: load_master_keys(
            _write(tmp_path / "k.yaml", {"current": "k1", "keys": {"k1": secret}}), tmp_path, True
        ),
    ]
    for check in checks:
        with pytest.raises(KeyConfigError) as caught:
            check()
        assert secret not in str(caught.value)


def test_production_reads_key_files_only_when_private(tmp_path: Path) -> None:
    env = _write(tmp_path / "keys.yaml", {"current": "k1", "keys": {"k1": GOOD}})
    (tmp_path / "keys.yaml").chmod(0o640)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        load_master_keys(env, tmp_path, production=True)
    assert load_master_keys(env, tmp_path, production=False).current_key_id == "k1"
