"""`Pkcs11KeyRing` on a real SoftHSM2 token: what only keys in hardware promise.

The `KeyRing` contract itself runs on the token in test_keyring_contract.py (source `pkcs11`).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import WrapMixin

from lucid_sessions.adapters.crypto.keyring import KeyConfigError
from lucid_sessions.adapters.pkcs11 import Pkcs11KeyRing
from lucid_sessions.domain.errors import IntegrityError, StorageUnavailable
from lucid_sessions.domain.ports.keyring import WrappedKey
from tests.softhsm import SoftHsm, SoftHsmToken


def ring_on(token: SoftHsmToken, *, create: bool = True, pin: str | None = None) -> Pkcs11KeyRing:
    return Pkcs11KeyRing(
        token.module, token.token_label, token.pin if pin is None else pin, create=create
    )


@pytest.fixture
def inspect(softhsm_token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    """A session of the test's own on the token. PKCS#11 logs in per process: once a ring has
    logged in, this session sees the private objects too (it never logs out)."""
    token = pkcs11.lib(softhsm_token.module).get_token(token_label=softhsm_token.token_label)
    session = token.open(rw=True)
    yield session
    session.close()


def master_keys(session: pkcs11.Session) -> list[pkcs11.SecretKey]:
    found = session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
    return [key for key in found if isinstance(key, pkcs11.SecretKey)]


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text
    assert "\n" not in text
    return text


def test_the_master_key_cannot_leave_the_token(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    ring = ring_on(softhsm_token)
    assert ring.current_key_id == "k1"
    (master,) = master_keys(inspect)
    assert master.label == "lucid-master-k1"
    assert master[Attribute.ID] == b"k1"
    assert master.key_type == KeyType.AES
    assert master[Attribute.VALUE_LEN] == 32
    assert master[Attribute.TOKEN] is True
    assert master[Attribute.PRIVATE] is True
    assert master[Attribute.SENSITIVE] is True
    assert master[Attribute.ALWAYS_SENSITIVE] is True
    assert master[Attribute.EXTRACTABLE] is False
    assert master[Attribute.NEVER_EXTRACTABLE] is True
    assert master[Attribute.ENCRYPT] is True
    assert master[Attribute.DECRYPT] is True
    assert master[Attribute.WRAP] is False
    with pytest.raises(p11.AttributeSensitive):
        master[Attribute.VALUE]
    wrapping = inspect.generate_key(KeyType.AES, 256, capabilities=MechanismFlag.WRAP)
    assert isinstance(wrapping, WrapMixin)
    with pytest.raises(p11.KeyUnextractable):
        wrapping.wrap_key(master)
    with pytest.raises(p11.PKCS11Error):  # sensitive and unextractable stay so
        master[Attribute.EXTRACTABLE] = True


def test_nothing_secret_is_written_outside_the_token_or_shown(
    softhsm: SoftHsm,
    softhsm_token: SoftHsmToken,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "data"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(work))
    monkeypatch.setenv("TMPDIR", str(work))
    ring = ring_on(softhsm_token)
    pairs = [ring.new_data_key() for _ in range(8)]
    ring.rotate()
    pairs += [ring.new_data_key() for _ in range(8)]
    assert all(ring.unwrap(ring.rewrap(wrapped)) == key for key, wrapped in pairs)
    assert list(work.iterdir()) == []  # the ring writes nothing to the host's folders
    stored = b"".join(p.read_bytes() for p in softhsm.root.rglob("*") if p.is_file())
    for key, wrapped in pairs:
        assert key not in stored  # data keys live with their sessions, wrapped, never here
        assert key not in wrapped.wrapped
    shown = repr(ring)
    assert softhsm_token.token_label in shown
    assert softhsm_token.pin not in shown


def test_a_data_key_sealed_under_k1_survives_rotation_and_moves_to_k2(
    softhsm_token: SoftHsmToken,
) -> None:
    ring = ring_on(softhsm_token)
    other = ring_on(softhsm_token, create=False)  # as the `keys rotate` command would
    key, old = ring.new_data_key()
    assert old.key_id == "k1"
    assert len(old.wrapped) == 61
    assert old.wrapped[0] == 1  # the format version
    assert other.rotate() == "k2"
    assert ring.current_key_id == "k2"  # the running ring sees the rotation
    assert ring.unwrap(old) == key
    moved = ring.rewrap(old)
    assert moved.key_id == "k2"
    assert moved.wrapped != old.wrapped
    assert ring.unwrap(moved) == key
    assert other.unwrap(moved) == key
    with pytest.raises(IntegrityError):  # bound to its key id: not valid under another
        ring.unwrap(WrappedKey(key_id="k1", wrapped=moved.wrapped))
    assert ring.rotate() == "k3"
    assert ring.unwrap(ring.rewrap(old)) == key


def test_an_empty_token_without_create_stops_with_one_line(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    with pytest.raises(KeyConfigError) as caught:
        ring_on(softhsm_token, create=False)
    text = one_line(caught.value)
    assert softhsm_token.token_label in text
    assert "lucid-master-k1" in text
    assert softhsm_token.pin not in text
    assert master_keys(inspect) == []  # nothing was created
    assert ring_on(softhsm_token, create=True).current_key_id == "k1"  # development makes it
    assert len(master_keys(inspect)) == 1


def test_a_wrong_pin_stops_with_one_line_without_the_pin(softhsm_token: SoftHsmToken) -> None:
    wrong = "wrong-" + softhsm_token.pin
    with pytest.raises(KeyConfigError) as caught:
        ring_on(softhsm_token, pin=wrong)
    text = one_line(caught.value)
    assert "LUCID_PKCS11_PIN_FILE" in text
    assert softhsm_token.token_label in text
    assert wrong not in text
    assert softhsm_token.pin not in text
    ring = ring_on(softhsm_token)
    # Logged in now (PKCS#11 shares the login within a process): a wrong PIN is still refused.
    with pytest.raises(KeyConfigError, match="LUCID_PKCS11_PIN_FILE") as again:
        ring_on(softhsm_token, pin=wrong)
    assert wrong not in one_line(again.value)
    assert ring.unwrap(ring.new_data_key()[1])


def test_unknown_module_or_token_stops_with_one_line(softhsm: SoftHsm, tmp_path: Path) -> None:
    token = softhsm.token
    with pytest.raises(KeyConfigError, match="LUCID_PKCS11_MODULE") as caught:
        Pkcs11KeyRing(
            str(tmp_path / "no-such-module.so"), token.token_label, token.pin, create=True
        )
    assert token.pin not in one_line(caught.value)
    with pytest.raises(KeyConfigError, match="LUCID_PKCS11_TOKEN_LABEL") as caught:
        Pkcs11KeyRing(token.module, "no-such-token", token.pin, create=True)
    assert "'no-such-token'" in one_line(caught.value)
    assert token.pin not in str(caught.value)


def test_an_extractable_master_key_is_refused(
    softhsm_token: SoftHsmToken,
) -> None:
    token = pkcs11.lib(softhsm_token.module).get_token(token_label=softhsm_token.token_label)
    session = token.open(rw=True, user_pin=softhsm_token.pin)
    session.generate_key(
        KeyType.AES,
        256,
        label="lucid-master-k1",
        id=b"k1",
        store=True,
        template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
    )
    with pytest.raises(KeyConfigError) as caught:
        ring_on(softhsm_token, create=True)
    text = one_line(caught.value)
    assert "'lucid-master-k1'" in text
    assert "extractable" in text
    assert "not sensitive" in text


# python-pkcs11 0.10.1 leaves a search it could not start marked active, and its finalizer then
# reports the dead session as an "exception ignored": harmless, and the ring drops that session.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_lost_session_is_storage_unavailable_then_recovers(
    softhsm_token: SoftHsmToken,
) -> None:
    ring = ring_on(softhsm_token)
    key, wrapped = ring.new_data_key()
    session = ring._connection.session  # the token "goes away" under the ring
    assert session is not None
    session.close()
    with pytest.raises(StorageUnavailable) as caught:
        ring.unwrap(wrapped)
    text = one_line(caught.value)
    assert softhsm_token.token_label in text
    assert softhsm_token.pin not in text
    assert caught.value.retry_after_seconds > 0
    assert ring.unwrap(wrapped) == key  # the next call opens a new session and logs in


def test_tampering_is_integrity_not_unavailability(softhsm_token: SoftHsmToken) -> None:
    ring = ring_on(softhsm_token)
    _, wrapped = ring.new_data_key()
    for index in range(len(wrapped.wrapped)):
        data = bytearray(wrapped.wrapped)
        data[index] ^= 0x01
        with pytest.raises(IntegrityError):
            ring.unwrap(WrappedKey(key_id="k1", wrapped=bytes(data)))
    for bad_id in ("k2", "", "lucid", "k01", "../k1"):
        with pytest.raises(IntegrityError, match="unknown master key id"):
            ring.unwrap(WrappedKey(key_id=bad_id, wrapped=wrapped.wrapped))


def test_eight_threads_seal_and_open_concurrently(softhsm_token: SoftHsmToken) -> None:
    rings = [ring_on(softhsm_token), ring_on(softhsm_token, create=False)]

    def work(worker: int) -> list[bytes]:
        ring, other = rings[worker % 2], rings[(worker + 1) % 2]
        keys = []
        for _ in range(25):
            key, wrapped = ring.new_data_key()
            assert other.unwrap(wrapped) == key
            assert ring.unwrap(ring.rewrap(wrapped)) == key
            keys.append(key)
        return keys

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = [key for batch in pool.map(work, range(8)) for key in batch]
    assert len(set(keys)) == 8 * 25
