"""`Pkcs11LinkSigner` on a real SoftHSM2 token: what only a link key in hardware promises.

The `LinkSigner` contract itself runs on the token in test_link_signer_contract.py (source
`pkcs11`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import WrapMixin

from lucid_sessions.adapters.crypto.keyring import KeyConfigError
from lucid_sessions.adapters.crypto.link_signer import HmacLinkSigner
from lucid_sessions.adapters.pkcs11 import Pkcs11LinkSigner
from lucid_sessions.adapters.pkcs11.link_signer import rotate_link_key
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.playback_link import PlaybackGrant, encode_link, open_link
from tests.softhsm import SoftHsm, SoftHsmToken

PAYLOAD = b"v1.c2Vzcy0wMDAxOjE4MDAwMDAwMDA6azE"


@dataclass
class Ticks:
    """A monotonic clock that moves only when told to: the signer's view of the token ages
    by steps the test chooses."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def signer_on(
    token: SoftHsmToken,
    *,
    create: bool = True,
    clock: Ticks | None = None,
    cache_size: int = 4096,
) -> Pkcs11LinkSigner:
    return Pkcs11LinkSigner(
        token.module,
        token.token_label,
        token.pin,
        create=create,
        cache_size=cache_size,
        clock=clock or Ticks(),
    )


def rotate(token: SoftHsmToken) -> str:
    """What `lucid-sessions keys rotate-link` does, as another process would."""
    return rotate_link_key(token.module, token.token_label, token.pin)


@pytest.fixture
def inspect(softhsm_token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    """A logged-in session of the test's own on the token (PKCS#11 shares the login within a
    process: the first session to open logs in, the others find it done)."""
    token = pkcs11.lib(softhsm_token.module).get_token(token_label=softhsm_token.token_label)
    try:
        session = token.open(rw=True, user_pin=softhsm_token.pin)
    except p11.UserAlreadyLoggedIn:
        session = token.open(rw=True)
    yield session
    session.close()


def link_keys(session: pkcs11.Session) -> list[pkcs11.SecretKey]:
    found = session.get_objects(
        {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.GENERIC_SECRET}
    )
    return [key for key in found if isinstance(key, pkcs11.SecretKey)]


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text
    assert "\n" not in text
    return text


def import_key(session: pkcs11.Session, value: bytes, label: str, **attributes: object) -> None:
    """A link key provisioned by hand from known bytes (as moving a key file into a token)."""
    template: dict[Attribute, object] = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
        Attribute.VALUE: value,
        Attribute.LABEL: label,
        Attribute.ID: label.removeprefix("lucid-link-").encode("ascii"),
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
    }
    template.update({Attribute[name.upper()]: value for name, value in attributes.items()})
    session.create_object(template)


def test_the_link_key_cannot_leave_the_token(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    signer = signer_on(softhsm_token)
    (key,) = link_keys(inspect)
    assert key.label == f"lucid-link-{signer.key_id}"
    assert key[Attribute.ID] == f"{signer.key_id}:1".encode()
    assert key.key_type == KeyType.GENERIC_SECRET
    assert key[Attribute.VALUE_LEN] == 32
    assert key[Attribute.TOKEN] is True
    assert key[Attribute.PRIVATE] is True
    assert key[Attribute.SENSITIVE] is True
    assert key[Attribute.ALWAYS_SENSITIVE] is True
    assert key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.NEVER_EXTRACTABLE] is True
    assert key[Attribute.SIGN] is True
    for unused in (Attribute.ENCRYPT, Attribute.DECRYPT, Attribute.WRAP, Attribute.DERIVE):
        assert key[unused] is False
    with pytest.raises(p11.AttributeSensitive):
        key[Attribute.VALUE]
    wrapping = inspect.generate_key(KeyType.AES, 256, capabilities=MechanismFlag.WRAP)
    assert isinstance(wrapping, WrapMixin)
    with pytest.raises(p11.KeyUnextractable):
        wrapping.wrap_key(key)
    with pytest.raises(p11.PKCS11Error):  # sensitive and unextractable stay so
        key[Attribute.EXTRACTABLE] = True
    assert signer.verify(PAYLOAD, signer.sign(PAYLOAD), signer.key_id)


def test_macs_are_hmac_sha256_and_a_key_file_moved_into_the_token_keeps_its_links(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    value = os.urandom(32)
    from_file = HmacLinkSigner(value)
    grant = PlaybackGrant("sess-0001", 1_800_000_000, from_file.key_id)
    link = encode_link(grant, from_file.sign)
    import_key(inspect, value, f"lucid-link-{from_file.key_id}")
    signer = signer_on(softhsm_token, create=False)
    assert signer.key_id == from_file.key_id
    assert signer.sign(PAYLOAD) == hmac.new(value, PAYLOAD, hashlib.sha256).digest()
    assert open_link(link, "sess-0001", 1_700_000_000, signer.verify) == grant
    assert len(link_keys(inspect)) == 1  # nothing was created


def test_an_empty_token_without_create_stops_with_one_line(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    with pytest.raises(KeyConfigError) as caught:
        signer_on(softhsm_token, create=False)
    text = one_line(caught.value)
    assert "LUCID_PKCS11_TOKEN_LABEL" in text
    assert softhsm_token.token_label in text
    assert "no playback link key" in text
    assert "lucid-link-" in text
    assert softhsm_token.pin not in text
    assert link_keys(inspect) == []  # nothing was created
    key_id = signer_on(softhsm_token, create=True).key_id  # development makes it
    assert len(link_keys(inspect)) == 1
    assert signer_on(softhsm_token, create=False).key_id == key_id


def test_the_operators_rotation_provisions_an_empty_token(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    key_id = rotate(softhsm_token)
    signer = signer_on(softhsm_token, create=False)
    assert signer.key_id == key_id
    (key,) = link_keys(inspect)
    assert key[Attribute.ID] == f"{key_id}:1".encode()


def test_rotation_by_another_process_reaches_a_running_signer(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    clock = Ticks()
    running = signer_on(softhsm_token, clock=clock)
    old_id, old_mac = running.key_id, running.sign(PAYLOAD)
    assert running.verify(PAYLOAD, old_mac, old_id)
    new_id = rotate(softhsm_token)
    assert new_id != old_id
    # Within its refresh time the running signer keeps its view (and its remembered links).
    clock.now += 0.5
    assert running.key_id == old_id
    clock.now += 0.6
    assert running.key_id == new_id
    assert not running.verify(PAYLOAD, old_mac, old_id)
    assert not running.verify(PAYLOAD, old_mac, new_id)
    assert running.verify(PAYLOAD, running.sign(PAYLOAD), new_id)
    # Its own rotation is taken at once; a restarted signer takes the highest key.
    third = running.rotate()
    assert running.key_id == third
    assert len({old_id, new_id, third}) == 3
    assert signer_on(softhsm_token, create=False).key_id == third
    serials = sorted(int(bytes(key[Attribute.ID]).split(b":")[1]) for key in link_keys(inspect))
    assert serials == [1, 2, 3]  # older keys stay in the token, unused


def test_positive_verifications_are_remembered_failures_never(
    softhsm_token: SoftHsmToken,
) -> None:
    signer = signer_on(softhsm_token, cache_size=4)
    macs = {index: signer.sign(b"%d" % index) for index in range(6)}  # signing remembers
    info = signer.cache_info()
    assert (info.hits, info.misses, info.size, info.max_size) == (0, 0, 4, 4)
    for _ in range(50):  # a player fetching segments with one link
        assert signer.verify(b"5", macs[5], signer.key_id)
    assert signer.cache_info().hits == 50
    assert signer.cache_info().misses == 0
    assert signer.verify(b"0", macs[0], signer.key_id)  # evicted: asked the token again
    assert signer.cache_info().misses == 1
    wrong = bytes(32)
    for _ in range(3):
        assert not signer.verify(b"5", wrong, signer.key_id)
    assert signer.cache_info().misses == 4  # each failure asks the token
    assert signer.cache_info().size == 4
    assert not signer.verify(b"5", macs[5], "0123456789abcdef")  # the key id is checked first
    signer.rotate()
    assert signer.cache_info().size == 0  # a new key forgets the old key's links
    assert not signer.verify(b"5", macs[5], signer.key_id)


# python-pkcs11 0.10.1 leaves a search it could not start marked active, and its finalizer then
# reports the dead session as an "exception ignored": harmless, and the signer drops that one.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_token_failure_is_storage_unavailable_then_recovers(
    softhsm_token: SoftHsmToken,
) -> None:
    signer = signer_on(softhsm_token)
    remembered = signer.sign(PAYLOAD)
    fresh = signer_on(softhsm_token, create=False).sign(b"another link")  # not seen by `signer`
    session = signer._connection.session  # the token "goes away" under the signer
    assert session is not None
    session.close()
    assert signer.verify(PAYLOAD, remembered, signer.key_id)  # remembered: no token needed
    with pytest.raises(StorageUnavailable) as caught:
        signer.verify(b"another link", fresh, signer.key_id)
    text = one_line(caught.value)
    assert softhsm_token.token_label in text
    assert softhsm_token.pin not in text
    assert caught.value.retry_after_seconds > 0
    # The next call opens a new session (logging in again) and finds the key anew.
    assert signer.verify(b"another link", fresh, signer.key_id)
    assert signer.verify(PAYLOAD, remembered, signer.key_id)


def test_a_key_the_service_would_not_make_is_refused(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    value = os.urandom(32)
    key_id = HmacLinkSigner(value).key_id
    import_key(inspect, value, f"lucid-link-{key_id}", sensitive=False, extractable=True)
    with pytest.raises(KeyConfigError) as caught:
        signer_on(softhsm_token)
    text = one_line(caught.value)
    assert f"'lucid-link-{key_id}'" in text
    assert "extractable" in text
    assert "not sensitive" in text
    assert value.hex() not in text


def test_a_key_put_in_the_token_later_is_checked_before_use(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    clock = Ticks()
    running = signer_on(softhsm_token, clock=clock)
    kept_id, kept_mac = running.key_id, running.sign(PAYLOAD)
    value = os.urandom(32)
    key_id = HmacLinkSigner(value).key_id
    # Newer than the running key (serial 9), but extractable: not a key the service makes.
    import_key(inspect, value, f"lucid-link-{key_id}", id=f"{key_id}:9".encode(), extractable=True)
    clock.now += 2  # past the refresh time
    with pytest.raises(StorageUnavailable) as caught:
        running.sign(PAYLOAD)
    text = one_line(caught.value)
    assert f"'lucid-link-{key_id}'" in text
    assert "is extractable" in text
    assert value.hex() not in text
    clock.now += 2
    with pytest.raises(StorageUnavailable):
        running.sign(PAYLOAD)  # refused again at each refresh, never used
    # Fail closed until an operator removes the key; then the kept key serves again.
    for key in inspect.get_objects({Attribute.LABEL: f"lucid-link-{key_id}"}):
        key.destroy()
    clock.now += 2
    assert running.key_id == kept_id
    assert running.verify(PAYLOAD, kept_mac, kept_id)


def test_a_key_whose_label_names_another_id_is_not_used(
    softhsm_token: SoftHsmToken, inspect: pkcs11.Session
) -> None:
    import_key(inspect, os.urandom(32), "lucid-link-0123456789abcdef")
    with pytest.raises(KeyConfigError, match="no playback link key"):
        signer_on(softhsm_token, create=False)


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
    signer = signer_on(softhsm_token)
    macs = [signer.sign(b"%d" % index) for index in range(8)]
    signer.rotate()
    assert list(work.iterdir()) == []
    shown = repr(signer)
    assert softhsm_token.token_label in shown
    assert signer.key_id in shown
    assert softhsm_token.pin not in shown
    assert all(mac.hex() not in shown for mac in macs)


def test_eight_threads_sign_and_verify_while_another_process_rotates(
    softhsm_token: SoftHsmToken,
) -> None:
    clock = Ticks()
    signers = [
        signer_on(softhsm_token, clock=clock),
        signer_on(softhsm_token, create=False, clock=clock),
    ]

    def work(worker: int) -> int:
        signer, other = signers[worker % 2], signers[(worker + 1) % 2]
        checked = 0
        for index in range(40):
            payload = b"%d:%d" % (worker, index)
            key_id, mac = signer.key_id, signer.sign(payload)
            if key_id == other.key_id:
                assert other.verify(payload, mac, key_id)
                assert signer.verify(payload, mac, key_id)
                checked += 1
        return checked

    with ThreadPoolExecutor(max_workers=8) as pool:
        checked = pool.map(work, range(8))
        rotate(softhsm_token)
        assert sum(checked) > 0
    clock.now += 10
    assert signers[0].key_id == signers[1].key_id  # both follow the token's current key
