"""Throwaway SoftHSM2 tokens for the PKCS#11 tests.

A PKCS#11 module is loaded once per process (python-pkcs11 keeps it by path) and SoftHSM2 reads
its configuration (`SOFTHSM2_CONF`) and looks for tokens only then, at C_Initialize: tokens made
afterwards are not seen. So one session-scoped `SoftHsm` makes, before anything loads the
module, a temporary token folder with one token (`token_label`) and a pool of spare empty
tokens that `fresh_token()` hands out, one per test that needs an empty token of its own.
SoftHSM2's PKCS#11 login is per token and per process, so a test on a fresh token is also
the first to log in to it (a wrong PIN is then seen as wrong).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.components import unavailable

__all__ = [
    "MODULE",
    "POOL_SIZE",
    "SoftHsm",
    "SoftHsmToken",
    "public_signing_keys",
    "start_softhsm",
]

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
UTIL = "softhsm2-util"
CONF_ENV = "SOFTHSM2_CONF"
# Spare empty tokens made up front (about 15 ms each); raise it when tests run out.
POOL_SIZE = 128


@dataclass(frozen=True)
class SoftHsmToken:
    """One initialized token: its module, label, user PIN and a 0600 file holding the PIN."""

    module: str
    token_label: str
    pin: str = field(repr=False)
    pin_file: Path


@dataclass
class SoftHsm:
    """The run's SoftHSM2: its folder, one token (`token_label`...) and spare empty tokens."""

    root: Path
    module: str
    token_label: str
    pin: str = field(repr=False)
    pin_file: Path
    spare: list[SoftHsmToken] = field(default_factory=list, repr=False)

    @property
    def token(self) -> SoftHsmToken:
        return SoftHsmToken(self.module, self.token_label, self.pin, self.pin_file)

    @property
    def token_dir(self) -> Path:
        return self.root / "tokens"

    def fresh_token(self) -> SoftHsmToken:
        """An empty token nobody has used (or logged in to) yet."""
        if not self.spare:
            pytest.fail(
                f"tests/softhsm.py: the {POOL_SIZE} spare tokens are used up: raise POOL_SIZE"
            )
        return self.spare.pop(0)


def _init_token(root: Path, label: str) -> SoftHsmToken:
    pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
    subprocess.run(
        [UTIL, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        check=True,
        capture_output=True,
        env=os.environ | {CONF_ENV: str(root / "softhsm2.conf")},
        timeout=60,
    )
    pin_file = root / "pins" / f"{label}.pin"
    pin_file.touch(mode=0o600)
    pin_file.write_text(pin + "\n")
    return SoftHsmToken(MODULE, label, pin, pin_file)


def start_softhsm(root: Path) -> Iterator[SoftHsm]:
    """The body of the session fixture: `SOFTHSM2_CONF` points at `root` while it lives."""
    if shutil.which(UTIL) is None or not Path(MODULE).is_file():
        unavailable("softhsm2", f"{UTIL} or {MODULE} is missing")
    loaded = sys.modules.get("pkcs11")
    if loaded is not None and MODULE in getattr(loaded, "_loaded", {}):
        pytest.fail(f"{MODULE} was loaded before the SoftHSM2 fixture set {CONF_ENV}")
    (root / "tokens").mkdir(parents=True)
    (root / "pins").mkdir(mode=0o700)
    (root / "softhsm2.conf").write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    try:
        main = _init_token(root, "lucid-test")
        spare = [_init_token(root, f"lucid-spare-{index}") for index in range(POOL_SIZE)]
    except (OSError, subprocess.SubprocessError) as exc:
        unavailable("softhsm2", f"{UTIL} --init-token failed: {exc}")
    previous = os.environ.get(CONF_ENV)
    os.environ[CONF_ENV] = str(root / "softhsm2.conf")
    try:
        yield SoftHsm(root, MODULE, main.token_label, main.pin, main.pin_file, spare)
    finally:
        if previous is None:
            os.environ.pop(CONF_ENV, None)
        else:
            os.environ[CONF_ENV] = previous


def public_signing_keys(token: SoftHsmToken) -> list[bytes]:
    """The raw Ed25519 public keys of the service's signing key pairs in `token`, read as an
    operator would (public objects: no login), in no particular order."""
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    found = []
    with pkcs11.lib(token.module).get_token(token_label=token.token_label).open() as session:
        template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.EC_EDWARDS}
        for key in session.get_objects(template):
            if str(key[Attribute.LABEL]).startswith("lucid-signing-"):
                point = bytes(key[Attribute.EC_POINT])
                found.append(point[2:] if len(point) == 34 else point)
    return found
