"""Keys in hardware: master keys, the signing key and the playback link key held in a PKCS#11
token (SoftHSM2 in the tests)."""

from __future__ import annotations

from lucid_sessions.adapters.pkcs11.keyring import MASTER_KEY_LABEL_PREFIX, Pkcs11KeyRing
from lucid_sessions.adapters.pkcs11.link_signer import LINK_KEY_LABEL_PREFIX, Pkcs11LinkSigner
from lucid_sessions.adapters.pkcs11.signer import SIGNING_KEY_LABEL_PREFIX, Pkcs11Signer

__all__ = [
    "LINK_KEY_LABEL_PREFIX",
    "MASTER_KEY_LABEL_PREFIX",
    "SIGNING_KEY_LABEL_PREFIX",
    "Pkcs11KeyRing",
    "Pkcs11LinkSigner",
    "Pkcs11Signer",
]
