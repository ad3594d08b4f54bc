"""Inclusion and consistency proofs, and the session manifest."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lucid_sessions.app.usecases.read_chunks import ChunkOpener, ReadChunks
from lucid_sessions.domain.chunk import validate_sequence_number
from lucid_sessions.domain.errors import ChunkNotFound, InvalidValue
from lucid_sessions.domain.manifest import build_manifest
from lucid_sessions.domain.merkle import MerkleTree
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session

__all__ = ["ConsistencyProof", "InclusionProof", "ProveIntegrity"]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    sequence_number: int
    leaf_hash: bytes
    tree_size: int
    root: bytes
    audit_path: list[bytes]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


class ProveIntegrity:
    """Answers proofs from a tree rebuilt from the chunk index, cached per session.

    The tree is append-only, so a cached tree of a session stays valid and is extended when
    the session has grown; a handful of trees are kept (least recently used first out).
    """

    def __init__(
        self, reader: ReadChunks, index: ChunkIndex, opener: ChunkOpener, cached_trees: int = 16
    ) -> None:
        self._reader, self._index, self._opener = reader, index, opener
        self._trees: OrderedDict[str, MerkleTree] = OrderedDict()
        self._cached = cached_trees

    async def _tree(self, session: Session) -> MerkleTree:
        sid, size = session.session_id, session.chunks_count
        tree = self._trees.get(sid)
        if tree is None or tree.size > size:
            tree = MerkleTree()
        if tree.size < size:
            hashes = await self._index.leaf_hashes(sid, size)
            for leaf in hashes[tree.size :]:
                tree.append_leaf_hash(leaf)
        self._trees[sid] = tree
        self._trees.move_to_end(sid)
        while len(self._trees) > self._cached:
            self._trees.popitem(last=False)
        return tree

    async def inclusion(
        self, principal: Principal, session_id: str, sequence: int, tree_size: int | None
    ) -> InclusionProof:
        validate_sequence_number(sequence, "chunk_id")
        session = await self._reader.session(principal, session_id)
        size = session.chunks_count if tree_size is None else tree_size
        if sequence >= session.chunks_count:
            raise ChunkNotFound(session_id, sequence)
        if not sequence < size <= session.chunks_count:
            raise InvalidValue(
                "tree_size",
                f"must be greater than the chunk's sequence number ({sequence}) and at most "
                f"the session's chunks_count ({session.chunks_count})",
            )
        tree = await self._tree(session)
        return InclusionProof(
            sequence_number=sequence,
            leaf_hash=tree.leaf_hash_at(sequence),
            tree_size=size,
            root=tree.root(size),
            audit_path=tree.inclusion_proof(sequence, size),
        )

    async def consistency(
        self, principal: Principal, session_id: str, first: int, second: int | None
    ) -> ConsistencyProof:
        session = await self._reader.session(principal, session_id)
        second = session.chunks_count if second is None else second
        if not 0 <= first <= second <= session.chunks_count:
            raise InvalidValue(
                "from",
                f"need 0 <= from <= to <= chunks_count ({session.chunks_count}); "
                f"got from={first}, to={second}",
            )
        tree = await self._tree(session)
        return ConsistencyProof(
            first,
            second,
            tree.root(first),
            tree.root(second),
            tree.consistency_proof(first, second),
        )

    async def manifest(self, principal: Principal, session_id: str) -> dict[str, Any]:
        session = await self._reader.session(principal, session_id)
        chunks = await self._opener.committed_list(session)
        return build_manifest(
            session,
            chunks,
            finalized_at=session.finalized_at,
            public_key=session.manifest_public_key,
            signature=session.manifest_signature,
            key_id=session.manifest_key_id,
        )
