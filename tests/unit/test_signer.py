"""The file signer (its key loading, key set file and rotation), the single-key Ed25519 helper,
and offline verification."""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from blake3 import blake3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lucid_sessions.adapters.crypto.keyring import KeyConfigError, KeySources
from lucid_sessions.adapters.crypto.secret_files import write_secret_file
from lucid_sessions.adapters.crypto.signer import (
    Ed25519Signer,
    FileSigner,
    load_signer,
    verify_signature,
)
from lucid_sessions.domain.errors import SigningKeyRetired, StorageUnavailable
from lucid_sessions.domain.key_set import key_set_document, parse_key_set
from lucid_sessions.domain.ports.signer import SigningKey
from tests.components import unavailable

MESSAGE = b'{"session_id":"s1","merkle_root":"ab12"}'
NOW = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def test_sign_and_verify() -> None:
    signer = Ed25519Signer.generate()
    signature = signer.sign(MESSAGE)
    assert len(signature) == 64
    assert len(signer.public_key()) == 32
    assert verify_signature(signer.public_key(), MESSAGE, signature)


def test_key_id_is_a_blake3_prefix_of_the_public_key() -> None:
    signer = Ed25519Signer.generate()
    assert signer.key_id == blake3(signer.public_key()).hexdigest()[:16]
    assert signer.key_id != Ed25519Signer.generate().key_id


def test_tampered_message_or_signature_fails() -> None:
    signer = Ed25519Signer.generate()
    signature = signer.sign(MESSAGE)
    assert not verify_signature(signer.public_key(), MESSAGE + b" ", signature)
    assert not verify_signature(signer.public_key(), MESSAGE, bytes(64))
    assert not verify_signature(signer.public_key(), MESSAGE, signature[:-1])
    assert not verify_signature(Ed25519Signer.generate().public_key(), MESSAGE, signature)
    assert not verify_signature(b"short", MESSAGE, signature)


def test_development_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_signer(KeySources(), tmp_path, production=False)
    path = tmp_path / "keys" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = load_signer(KeySources(), tmp_path, production=False)
    key = first.current()
    assert second.current() == key
    assert verify_signature(key.public_key, MESSAGE, second.sign(key.key_id, MESSAGE))
    with pytest.raises(KeyConfigError, match="none is made here"):
        load_signer(KeySources(), tmp_path / "other", production=False, generate=False)


def test_configured_key_file_is_used(tmp_path: Path) -> None:
    signer = Ed25519Signer.generate()
    path = tmp_path / "service.pem"
    path.write_bytes(signer.to_pem())
    path.chmod(0o600)
    env = KeySources(signing_key_file=str(path))
    assert load_signer(env, tmp_path, production=True).current().key_id == signer.key_id
    assert not (tmp_path / "keys").exists()


def test_production_without_a_key_stops(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="LUCID_SIGNING_KEY_FILE"):
        load_signer(KeySources(), tmp_path, production=True)
    assert not (tmp_path / "keys").exists()


def test_missing_or_wrong_key_files_name_the_setting(tmp_path: Path) -> None:
    env = KeySources(signing_key_file=str(tmp_path / "missing.pem"))
    with pytest.raises(KeyConfigError, match=r"LUCID_SIGNING_KEY_FILE.*does not exist"):
        load_signer(env, tmp_path, production=False)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(KeyConfigError, match="LUCID_SIGNING_KEY_FILE"):
        load_signer(KeySources(signing_key_file=str(garbage)), tmp_path, production=False)


def test_non_ed25519_or_encrypted_keys_are_refused(tmp_path: Path) -> None:
    ec_key = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyConfigError, match="expected an Ed25519 key"):
        Ed25519Signer.from_pem(ec_key, "test")
    locked = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(KeyConfigError, match="unencrypted"):
        Ed25519Signer.from_pem(locked, "test")


# -- the file signer's key folder --------------------------------------------------------------


def open_signer(data_dir: Path) -> FileSigner:
    return load_signer(KeySources(), data_dir, production=False)


def keys_folder(data_dir: Path) -> Path:
    return data_dir / "keys"


def modified_at(path: Path) -> datetime:
    seconds, nanoseconds = divmod(path.stat().st_mtime_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text
    assert "\n" not in text
    return text


def everything_in(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


def raw_private_key(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_without_a_key_set_file_the_key_is_current_since_the_file_was_made(
    tmp_path: Path,
) -> None:
    signer = open_signer(tmp_path)
    pem = keys_folder(tmp_path) / "signing-key.pem"
    (key,) = signer.key_set()
    assert key.status == "current"
    assert key.created_at == modified_at(pem)
    assert key.key_id == Ed25519Signer.from_pem(pem.read_bytes(), "test").key_id
    assert not (keys_folder(tmp_path) / "signing-keys.json").exists()  # reading writes nothing


def test_rotation_writes_the_key_set_and_leaves_the_retired_key_nowhere(tmp_path: Path) -> None:
    signer = open_signer(tmp_path)
    folder = keys_folder(tmp_path)
    old_pem = (folder / "signing-key.pem").read_bytes()
    old = signer.current()
    new = signer.rotate(NOW)
    published = json.loads((folder / "signing-keys.json").read_bytes())
    assert published == key_set_document(signer.key_set())
    assert parse_key_set(published) == [
        SigningKey(old.key_id, old.public_key, old.created_at, NOW),
        SigningKey(new.key_id, new.public_key, NOW),
    ]
    assert stat.S_IMODE((folder / "signing-key.pem").stat().st_mode) == 0o600
    stored = everything_in(folder)
    assert old_pem not in stored
    assert raw_private_key(old_pem) not in stored
    assert b"PRIVATE KEY" not in (folder / "signing-keys.json").read_bytes()
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["signing-key.pem", "signing-key.pem.lock", "signing-keys.json"]


def test_a_key_put_in_place_by_hand_becomes_current_and_retires_the_others(
    tmp_path: Path,
) -> None:
    signer = open_signer(tmp_path)
    first = signer.current()
    earlier = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)  # before the replacement
    second = signer.rotate(earlier)
    pem = keys_folder(tmp_path) / "signing-key.pem"
    replacement = Ed25519Signer.generate()
    write_secret_file(pem, replacement.to_pem(), replace=True)  # the operator's doing
    replaced_at = modified_at(pem)
    for reader in (signer, open_signer(tmp_path)):  # running, and started afterwards
        keys = reader.key_set()
        assert [key.key_id for key in keys] == [first.key_id, second.key_id, replacement.key_id]
        assert [key.retired_at for key in keys] == [earlier, replaced_at, None]
        assert keys[2].created_at == replaced_at
        with pytest.raises(SigningKeyRetired):
            reader.sign(second.key_id, MESSAGE)
        signature = reader.sign(replacement.key_id, MESSAGE)
        assert verify_signature(replacement.public_key(), MESSAGE, signature)
    third = signer.rotate(NOW)  # the next rotation writes it down
    published = parse_key_set(json.loads((keys_folder(tmp_path) / "signing-keys.json").read_text()))
    assert [key.retired_at for key in published] == [earlier, replaced_at, NOW, None]
    assert published[-1].key_id == third.key_id


def cut_short_rotation(data_dir: Path, old: SigningKey, new: Ed25519Signer) -> None:
    """What a rotation leaves when it stops after writing the key set, before the rename."""
    folder = keys_folder(data_dir)
    write_secret_file(folder / "signing-key.pem.next", new.to_pem(), replace=True)
    keys = [
        SigningKey(old.key_id, old.public_key, old.created_at, NOW),
        SigningKey(new.key_id, new.public_key(), NOW),
    ]
    (folder / "signing-keys.json").write_text(json.dumps(key_set_document(keys)))


def test_a_rotation_cut_short_after_the_key_set_is_completed_by_a_reader(
    tmp_path: Path,
) -> None:
    running = open_signer(tmp_path)
    old = running.current()
    old_pem = (keys_folder(tmp_path) / "signing-key.pem").read_bytes()
    new = Ed25519Signer.generate()
    cut_short_rotation(tmp_path, old, new)
    with pytest.raises(SigningKeyRetired):
        running.sign(old.key_id, MESSAGE)
    assert verify_signature(new.public_key(), MESSAGE, running.sign(new.key_id, MESSAGE))
    started = open_signer(tmp_path)
    assert started.current().key_id == new.key_id
    assert [key.status for key in started.key_set()] == ["retired", "current"]
    folder = keys_folder(tmp_path)
    assert not (folder / "signing-key.pem.next").exists()  # the rename was completed
    assert (folder / "signing-key.pem").read_bytes() == new.to_pem()
    assert old_pem not in everything_in(folder)


def test_a_rotation_cut_short_before_the_key_set_leaves_the_old_key_current(
    tmp_path: Path,
) -> None:
    signer = open_signer(tmp_path)
    old = signer.current()
    unused = Ed25519Signer.generate()
    folder = keys_folder(tmp_path)
    write_secret_file(folder / "signing-key.pem.next", unused.to_pem(), replace=True)
    assert open_signer(tmp_path).current() == old
    assert verify_signature(old.public_key, MESSAGE, signer.sign(old.key_id, MESSAGE))
    new = signer.rotate(NOW)  # the next rotation goes through and replaces the stray key
    assert new.key_id != unused.key_id
    assert [key.key_id for key in signer.key_set()] == [old.key_id, new.key_id]
    assert not (folder / "signing-key.pem.next").exists()


def test_the_file_of_a_retired_key_never_signs_again(tmp_path: Path) -> None:
    running = open_signer(tmp_path)
    pem = keys_folder(tmp_path) / "signing-key.pem"
    old_pem = pem.read_bytes()
    old = running.current()
    new = running.rotate(NOW)
    write_secret_file(pem, old_pem, replace=True)  # a backup of the old key put back
    with pytest.raises(KeyConfigError) as caught:
        open_signer(tmp_path)
    text = one_line(caught.value)
    assert str(pem) in text
    assert old.key_id in text
    assert "retired" in text
    with pytest.raises(StorageUnavailable) as refused:
        running.sign(new.key_id, MESSAGE)
    assert not isinstance(refused.value, SigningKeyRetired)
    assert str(pem) in one_line(refused.value)
    with pytest.raises(SigningKeyRetired):
        running.sign(old.key_id, MESSAGE)
    assert running.current() == new  # the key set still says which key is current


def test_a_broken_key_set_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    open_signer(tmp_path)
    key_set = keys_folder(tmp_path) / "signing-keys.json"
    for content in ("{not json", '{"keys": [{"algorithm": "rsa"}]}'):
        key_set.write_text(content)
        with pytest.raises(KeyConfigError) as caught:
            open_signer(tmp_path)
        assert str(key_set) in one_line(caught.value)


@pytest.fixture
def make_read_only() -> Iterator[Callable[[Path], None]]:
    """Makes a folder read-only: a read-only bind mount as root (who may write anywhere
    else), else its mode."""
    mounted: list[Path] = []
    chmodded: list[Path] = []

    def make(folder: Path) -> None:
        if os.geteuid() != 0:
            folder.chmod(0o555)
            chmodded.append(folder)
            return
        for command in (
            ["mount", "--bind", str(folder), str(folder)],
            ["mount", "-o", "remount,bind,ro", str(folder)],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                if mounted:
                    subprocess.run(["umount", str(folder)], check=False)
                unavailable("tmpfs", f"{' '.join(command)} failed: {done.stderr.strip()}")
            if not mounted:
                mounted.append(folder)

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)
    for folder in chmodded:
        folder.chmod(0o700)


def test_rotation_in_a_read_only_key_folder_is_refused_with_one_line(
    tmp_path: Path, make_read_only: Callable[[Path], None]
) -> None:
    signer = open_signer(tmp_path)
    signer.rotate(NOW)  # the folder now holds a lock file as well
    folder = keys_folder(tmp_path)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    make_read_only(folder)
    mounted = open_signer(tmp_path)  # reading a read-only folder is fine
    assert mounted.current() == signer.current()
    with pytest.raises(KeyConfigError) as caught:
        mounted.rotate(NOW + timedelta(days=1))
    text = one_line(caught.value)
    assert "writable key folder" in text
    assert str(folder) in text
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    key = mounted.current()
    assert verify_signature(key.public_key, MESSAGE, mounted.sign(key.key_id, MESSAGE))


def test_signing_while_another_instance_rotates_uses_only_current_keys(tmp_path: Path) -> None:
    signer = open_signer(tmp_path)
    other = open_signer(tmp_path)
    rotated = threading.Event()

    def sign(worker: int) -> tuple[list[tuple[str, bytes, bytes]], int]:
        signed: list[tuple[str, bytes, bytes]] = []
        refused = 0
        while not rotated.is_set() or not signed:
            key = signer.current()
            message = MESSAGE + f"/{worker}/{len(signed)}/{refused}".encode()
            try:
                signed.append((key.key_id, message, signer.sign(key.key_id, message)))
            except SigningKeyRetired:
                refused += 1
        return signed, refused

    with ThreadPoolExecutor(max_workers=4) as pool:
        workers = [pool.submit(sign, worker) for worker in range(4)]
        for step in range(5):
            other.rotate(NOW + timedelta(minutes=step))
        rotated.set()
        results = [worker.result() for worker in workers]
    keys = signer.key_set()
    assert len(keys) == 6
    assert signer.current() == keys[-1]
    public = {key.key_id: key.public_key for key in keys}
    for signed, _ in results:
        for key_id, message, signature in signed:
            assert verify_signature(public[key_id], message, signature)


def test_the_signer_shows_no_secret(tmp_path: Path) -> None:
    signer = open_signer(tmp_path)
    pem = (keys_folder(tmp_path) / "signing-key.pem").read_bytes()
    shown = repr(signer)
    assert "signing-key.pem" in shown
    assert pem.decode() not in shown
    with pytest.raises(TypeError):
        pickle.dumps(signer)
