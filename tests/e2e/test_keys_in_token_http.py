"""Keys in a token, seen from outside: with the master key and the signing key put into a
SoftHSM2 token with values the test knows (as an operator may provision them), a server with
`LUCID_KEY_STORE=pkcs11` records, completes and serves a session, and afterwards none of that
key material, nor the token's PIN, is anywhere in its data folder (database, chunks, log),
its environment or `check-config`'s output: the keys were used inside the token only.

This module does not depend on the stack (it runs once, on the embedded store); the whole
end-to-end suite also runs with keys in a token on the `mongo+redis+pkcs11` stack.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from blake3 import blake3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pkcs11 import Attribute, KeyType, ObjectClass

from lucid_sessions.adapters.crypto.signer import verify_signature
from lucid_sessions.domain.manifest import canonical_bytes
from tests.e2e.conftest import pkcs11_env
from tests.e2e.http import BASE
from tests.e2e.test_chunks_http import download, recording, upload, wait_status
from tests.servers import ServiceProcess
from tests.softhsm import SoftHsm, SoftHsmToken

pytestmark = pytest.mark.e2e

ED25519_PARAMS = bytes.fromhex("06032b6570")  # DER of the OID 1.3.101.112
CHUNKS = [os.urandom(3000) + bytes(5000), b"second chunk " * 400, os.urandom(777)]


def _provision(token: SoftHsmToken, master: bytes, seed: bytes) -> str:
    """Put master key `k1` and a signing key pair into the token (sensitive, never
    extractable, as the service would make them); the signing key's id."""
    public = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    key_id = blake3(public).hexdigest()[:16]
    label = f"lucid-signing-{key_id}"
    opened = pkcs11.lib(token.module).get_token(token_label=token.token_label)
    with opened.open(rw=True, user_pin=token.pin) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.VALUE: master,
                Attribute.LABEL: "lucid-master-k1",
                Attribute.ID: b"k1",
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.ENCRYPT: True,
                Attribute.DECRYPT: True,
            }
        )
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                Attribute.EC_PARAMS: ED25519_PARAMS,
                Attribute.VALUE: seed,
                Attribute.LABEL: label,
                Attribute.ID: key_id.encode(),
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            }
        )
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                Attribute.EC_PARAMS: ED25519_PARAMS,
                Attribute.EC_POINT: b"\x04\x20" + public,
                Attribute.LABEL: label,
                Attribute.ID: key_id.encode(),
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
            }
        )
        # What the token tells anyone who asks for the master key's value: nothing.
        (master_key,) = session.get_objects({Attribute.LABEL: "lucid-master-k1"})
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            master_key[Attribute.VALUE]
    return key_id


def _forms(secret: bytes) -> list[bytes]:
    """The ways a key could be written down: raw, hex (both cases), base64 (both alphabets)."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


@pytest.fixture(scope="module")
def provisioned(
    softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, SoftHsmToken, dict[str, bytes], str]]:
    token = softhsm.fresh_token()
    secrets = {"master key": os.urandom(32), "signing key": os.urandom(32)}
    key_id = _provision(token, secrets["master key"], secrets["signing key"])
    service = ServiceProcess(tmp_path_factory.mktemp("token-server"), env=pkcs11_env(token))
    service.start()
    try:
        yield service, token, secrets, key_id
    finally:
        assert service.stop_gracefully()


def test_a_session_is_recorded_signed_and_served_with_keys_in_the_token(
    provisioned: tuple[ServiceProcess, SoftHsmToken, dict[str, bytes], str],
) -> None:
    service, token, secrets, key_id = provisioned
    with service.client() as http:
        sid = recording(http, name="in the token")
        for seq, data in enumerate(CHUNKS):
            upload(http, sid, seq, data)
        for seq, data in enumerate(CHUNKS):
            answer = download(http, sid, seq)
            assert answer.status_code == 200
            assert answer.content == data
        assert http.post(f"{BASE}/{sid}/stop").status_code == 200
        wait_status(http, sid, {"completed"})
        manifest = http.get(f"{BASE}/{sid}/manifest").json()
        keys = http.get(f"{BASE}/keys").json()["keys"]
        pid = service.process.pid if service.process else 0
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        shown = service.run_cli("check-config")
    seed = secrets["signing key"]
    public = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    # Signed inside the token with the provisioned key, which is the one the service publishes.
    assert manifest["key_id"] == key_id
    assert manifest["public_key"] == public.hex()
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    assert verify_signature(public, canonical_bytes(unsigned), bytes.fromhex(manifest["signature"]))
    assert [(key["key_id"], key["status"]) for key in keys] == [(key_id, "current")]
    # No key material and no PIN anywhere outside the token.
    assert shown.returncode == 0, shown.stderr
    assert "pkcs11" in shown.stdout
    pin = token.pin.encode()
    places = {"the environment": environ, "check-config": (shown.stdout + shown.stderr).encode()}
    for path in service.data_dir.rglob("*"):
        if path.is_file():
            places[str(path.relative_to(service.data_dir))] = path.read_bytes()
    assert any(name.endswith(".sqlite3") for name in places), sorted(places)
    assert not any("keys" in Path(name).parts for name in places), sorted(places)
    for name, content in places.items():
        assert pin not in content, f"the PIN is in {name}"
        for what, secret in secrets.items():
            for form in _forms(secret):
                assert form not in content, f"the {what} is in {name}"
