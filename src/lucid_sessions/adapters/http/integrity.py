"""A session's integrity routes: a chunk's RFC 9162 inclusion proof, the consistency proof
between two tree sizes, and the session manifest. (The pipeline and per-session statistics are
in `adapters.http.pipeline`.)"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from lucid_sessions.adapters.http.auth import current_principal
from lucid_sessions.adapters.http.chunk_schemas import (
    ConsistencyResponse,
    ProofResponse,
)
from lucid_sessions.adapters.http.inputs import optional_int
from lucid_sessions.adapters.http.openapi import (
    CHUNK_ID_PATTERN,
    READ_ERRORS,
    ChunkId,
    SessionId,
    integer_query,
)
from lucid_sessions.adapters.http.upload import CHUNK_ID_DIGITS, parse_chunk_id
from lucid_sessions.app.usecases.integrity import ProveIntegrity

__all__ = ["IntegrityController"]

# Documented, and validated by parse_chunk_id so that errors name "from" and "to" (Litestar
# would name the Python parameters).
_SIZE_DOC: dict[str, Any] = {"schema_extra": {"pattern": CHUNK_ID_PATTERN}}
MAX_TREE_SIZE = 10**CHUNK_ID_DIGITS - 1


class IntegrityController(Controller):
    path = "/api/v1/sessions/{session_id:str}"
    tags = ["integrity"]

    @get(
        "/chunks/{chunk_id:str}/proof",
        raises=READ_ERRORS,
        summary="RFC 9162 inclusion proof of a chunk",
    )
    async def inclusion_proof(
        self,
        session_id: SessionId,
        chunk_id: ChunkId,
        request: Request[Any, Any, Any],
        prove_integrity: NamedDependency[ProveIntegrity],
        tree_size: Annotated[str | None, integer_query(1, MAX_TREE_SIZE)] = None,
    ) -> ProofResponse:
        principal = current_principal(request)
        size = optional_int(tree_size, "tree_size", 1, MAX_TREE_SIZE)
        proof = await prove_integrity.inclusion(
            principal, session_id, parse_chunk_id(chunk_id), size
        )
        return ProofResponse(
            sequence_number=proof.sequence_number,
            leaf_hash=proof.leaf_hash.hex(),
            tree_size=proof.tree_size,
            root=proof.root.hex(),
            audit_path=[h.hex() for h in proof.audit_path],
        )

    @get(
        "/consistency",
        raises=READ_ERRORS,
        summary="RFC 9162 consistency proof between two tree sizes",
    )
    async def consistency_proof(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        prove_integrity: NamedDependency[ProveIntegrity],
        first: Annotated[str, QueryParameter(name="from", **_SIZE_DOC, description="older size")],
        second: Annotated[
            str | None,
            QueryParameter(name="to", **_SIZE_DOC, description="newer size (default: now)"),
        ] = None,
    ) -> ConsistencyResponse:
        principal = current_principal(request)
        proof = await prove_integrity.consistency(
            principal,
            session_id,
            parse_chunk_id(first, "from"),
            None if second is None else parse_chunk_id(second, "to"),
        )
        return ConsistencyResponse(
            first=proof.first,
            second=proof.second,
            from_root=proof.first_root.hex(),
            to_root=proof.second_root.hex(),
            proof=[h.hex() for h in proof.proof],
        )

    @get(
        "/manifest",
        raises=READ_ERRORS,
        summary="The session manifest (signed once the session is completed)",
    )
    async def manifest(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        prove_integrity: NamedDependency[ProveIntegrity],
    ) -> dict[str, Any]:
        principal = current_principal(request)
        return await prove_integrity.manifest(principal, session_id)
