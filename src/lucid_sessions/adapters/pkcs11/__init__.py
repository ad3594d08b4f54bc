"""Keys in hardware: master keys held in a PKCS#11 token (SoftHSM2 in the tests)."""

from __future__ import annotations

from lucid_sessions.adapters.pkcs11.keyring import MASTER_KEY_LABEL_PREFIX, Pkcs11KeyRing

__all__ = ["MASTER_KEY_LABEL_PREFIX", "Pkcs11KeyRing"]
