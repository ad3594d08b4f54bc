"""The service-wide session log over HTTP: the signed tree head, entries and proofs."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency

from lucid_sessions.adapters.http.auth import current_principal
from lucid_sessions.adapters.http.errors import documented
from lucid_sessions.adapters.http.inputs import bounded_int, optional_int
from lucid_sessions.adapters.http.openapi import integer_query
from lucid_sessions.app.usecases.session_log import ReadSessionLog
from lucid_sessions.domain.errors import (
    Forbidden,
    InvalidValue,
    StorageUnavailable,
    Unauthenticated,
)
from lucid_sessions.domain.session_log import MAX_LOG_PAGE

__all__ = ["SessionLogController"]

MAX_POSITION = 10**12
Position = Annotated[str, integer_query(0, MAX_POSITION)]
OptionalPosition = Annotated[str | None, integer_query(0, MAX_POSITION)]
HEAD_ERRORS = documented(Unauthenticated, StorageUnavailable)
ADMIN_ERRORS = documented(Unauthenticated, Forbidden, InvalidValue, StorageUnavailable)


class TreeHeadResponse(msgspec.Struct, kw_only=True):
    tree_size: int
    root: str
    timestamp: str
    public_key: str
    key_id: str
    """The signing key's id in the key set (GET /api/v1/sessions/keys); signed."""
    signature: str


class LogEntriesResponse(msgspec.Struct, kw_only=True):
    entries: list[dict[str, Any]]


class LogProofResponse(msgspec.Struct, kw_only=True):
    index: int
    leaf_hash: str
    tree_size: int
    root: str
    audit_path: list[str]
    entry: dict[str, Any]


class LogConsistencyResponse(
    msgspec.Struct, kw_only=True, rename={"first": "from", "second": "to"}
):
    first: int
    second: int
    from_root: str
    to_root: str
    proof: list[str]


class SessionLogController(Controller):
    path = "/api/v1/sessions/log"
    tags = ["session log"]

    @get("", raises=HEAD_ERRORS, summary="The session log's signed tree head")
    async def log_head(self, read_session_log: NamedDependency[ReadSessionLog]) -> TreeHeadResponse:
        head = (await read_session_log.head()).document()
        return TreeHeadResponse(**head)

    @get(
        "/entries",
        raises=ADMIN_ERRORS,
        summary=f"Entries start..end-1 (admins; at most {MAX_LOG_PAGE})",
    )
    async def log_entries(
        self,
        request: Request[Any, Any, Any],
        read_session_log: NamedDependency[ReadSessionLog],
        start: Annotated[str | None, integer_query(0, MAX_POSITION, default=0)] = None,
        end: OptionalPosition = None,
    ) -> LogEntriesResponse:
        principal = current_principal(request)
        entries = await read_session_log.entries(
            principal,
            bounded_int(start, "start", 0, MAX_POSITION, 0),
            optional_int(end, "end", 0, MAX_POSITION),
        )
        return LogEntriesResponse(entries=[entry.document() for entry in entries])

    @get("/proof", raises=ADMIN_ERRORS, summary="RFC 9162 inclusion proof of an entry (admins)")
    async def log_inclusion_proof(
        self,
        request: Request[Any, Any, Any],
        read_session_log: NamedDependency[ReadSessionLog],
        index: Position,
        tree_size: OptionalPosition = None,
    ) -> LogProofResponse:
        principal = current_principal(request)
        proof = await read_session_log.inclusion(
            principal,
            bounded_int(index, "index", 0, MAX_POSITION, 0),
            optional_int(tree_size, "tree_size", 0, MAX_POSITION),
        )
        return LogProofResponse(
            index=proof.entry.index,
            leaf_hash=proof.leaf_hash.hex(),
            tree_size=proof.tree_size,
            root=proof.root.hex(),
            audit_path=[h.hex() for h in proof.audit_path],
            entry=proof.entry.document(),
        )

    @get(
        "/consistency",
        raises=documented(Unauthenticated, InvalidValue, StorageUnavailable),
        summary="RFC 9162 consistency proof between two sizes of the log",
    )
    async def log_consistency_proof(
        self,
        request: Request[Any, Any, Any],
        read_session_log: NamedDependency[ReadSessionLog],
        first: Annotated[str, integer_query(0, MAX_POSITION, name="from")],
        second: Annotated[str | None, integer_query(0, MAX_POSITION, name="to")] = None,
    ) -> LogConsistencyResponse:
        principal = current_principal(request)
        proof = await read_session_log.consistency(
            principal,
            bounded_int(first, "from", 0, MAX_POSITION, 0),
            optional_int(second, "to", 0, MAX_POSITION),
        )
        return LogConsistencyResponse(
            first=proof.first,
            second=proof.second,
            from_root=proof.first_root.hex(),
            to_root=proof.second_root.hex(),
            proof=[h.hex() for h in proof.proof],
        )
