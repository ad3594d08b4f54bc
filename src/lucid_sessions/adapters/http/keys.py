"""The service's signing keys over HTTP: the published key set."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency

from lucid_sessions.adapters.http.auth import current_principal
from lucid_sessions.adapters.http.errors import documented
from lucid_sessions.app.usecases.key_set import ReadKeySet
from lucid_sessions.domain.errors import StorageUnavailable, Unauthenticated
from lucid_sessions.domain.key_set import key_set_document

__all__ = ["KeySetResponse", "KeysController", "SigningKeyResponse"]


class SigningKeyResponse(msgspec.Struct, kw_only=True):
    key_id: str
    """The first 16 hex digits of BLAKE3 of the raw public key; manifests and tree heads
    name their key by it."""
    algorithm: Literal["ed25519"]
    public_key: str
    """The raw 32-byte Ed25519 public key, hex."""
    status: Literal["current", "retired"]
    created_at: str | None
    """When the key was made (null when unknown: a key provisioned by hand)."""
    retired_at: str | None
    """When the key stopped signing (null while current); it still verifies what it
    signed up to that moment, and nothing dated later."""


class KeySetResponse(msgspec.Struct, kw_only=True):
    keys: list[SigningKeyResponse]
    """Every signing key, oldest first; exactly one is current."""


class KeysController(Controller):
    path = "/api/v1/sessions/keys"
    tags = ["integrity"]

    @get(
        "",
        raises=documented(Unauthenticated, StorageUnavailable),
        summary="The signing keys that verify manifests and tree heads (current and retired)",
    )
    async def signing_keys(
        self, request: Request[Any, Any, Any], read_key_set: NamedDependency[ReadKeySet]
    ) -> KeySetResponse:
        keys = await read_key_set(current_principal(request))
        document = key_set_document(keys)
        return KeySetResponse(
            keys=[msgspec.convert(key, SigningKeyResponse) for key in document["keys"]]
        )
