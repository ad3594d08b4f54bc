"""A token without the mechanisms the service needs (as a TPM 2.0 through tpm2-pkcs11 has no
AES-GCM and no Ed25519) is refused when the keys are opened, with one line naming what is
missing, not at the first chunk. SoftHSM2's `slots.mechanisms` (a list of the mechanisms the
slot offers) takes the others away; the
module reads its configuration once per process, so each case runs in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import unavailable

ROOT = Path(__file__).resolve().parents[2]

OPEN_RING = """
import sys
from lucid_sessions.adapters.crypto.keyring import KeyConfigError
from lucid_sessions.adapters.pkcs11 import Pkcs11KeyRing
pin = open(sys.argv[3]).read().strip()
try:
    Pkcs11KeyRing(sys.argv[1], sys.argv[2], pin, create=True)
except KeyConfigError as exc:
    print(exc)
    sys.exit(3)
print("opened")
"""
OPEN_SIGNER = OPEN_RING.replace("Pkcs11KeyRing", "Pkcs11Signer")


def _token(folder: Path, mechanisms: str) -> tuple[dict[str, str], list[str]]:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "softhsm-token.sh"), str(folder), "few"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode == 1 and "softhsm2 is missing" in done.stderr:
        unavailable("softhsm2", done.stderr.strip())
    assert done.returncode == 0, done.stderr
    settings = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
    conf = Path(settings["SOFTHSM2_CONF"])
    if mechanisms:
        conf.write_text(conf.read_text() + f"slots.mechanisms = {mechanisms}\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf), "PYTHONPATH": str(ROOT / "src")}
    args = [
        settings["LUCID_PKCS11_MODULE"],
        settings["LUCID_PKCS11_TOKEN_LABEL"],
        settings["LUCID_PKCS11_PIN_FILE"],
    ]
    return env, args


@pytest.mark.parametrize(
    ("mechanisms", "named"),
    [
        ("CKM_AES_KEY_GEN,CKM_EC_EDWARDS_KEY_PAIR_GEN,CKM_EDDSA", "CKM_AES_GCM"),
        ("CKM_AES_GCM,CKM_AES_CBC", "CKM_AES_KEY_GEN"),
    ],
)
def test_a_token_without_aes_gcm_is_refused_in_one_line(
    tmp_path: Path, mechanisms: str, named: str
) -> None:
    env, args = _token(tmp_path / "token", mechanisms)
    done = subprocess.run(
        [sys.executable, "-c", OPEN_RING, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("LUCID_PKCS11_MODULE: the PKCS#11 token 'few' does not offer ")
    assert named in line
    assert "master keys" in line


def test_the_same_token_with_every_mechanism_opens(tmp_path: Path) -> None:
    env, args = _token(tmp_path / "token", "")
    done = subprocess.run(
        [sys.executable, "-c", OPEN_RING, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "opened"


def test_a_token_without_ed25519_is_refused_for_the_signing_keys(tmp_path: Path) -> None:
    env, args = _token(tmp_path / "token", "CKM_AES_KEY_GEN,CKM_AES_GCM,CKM_ECDSA")
    done = subprocess.run(
        [sys.executable, "-c", OPEN_SIGNER, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    (line,) = done.stdout.splitlines()
    assert "does not offer CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA" in line
    assert "signing keys" in line
