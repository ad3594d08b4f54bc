"""Reading the session log: signed tree heads, entries, inclusion and consistency proofs.

The tree is the same RFC 9162 construction, over BLAKE3, as a session's chunk tree; it is
kept in memory and extended with the entries appended since (by any process). Entries and
inclusion proofs name sessions of every owner, so they are for admins; the tree head and
consistency proofs carry hashes only and are for every authenticated principal.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import anyio.to_thread

from lucid_sessions.app.signing import sign_with_current_key
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.merkle import MerkleTree
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.signer import Signer, SigningKey
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session_log import MAX_LOG_PAGE, LogEntry, TreeHead

__all__ = ["LogConsistency", "LogInclusion", "ReadSessionLog"]


@dataclass(frozen=True, slots=True)
class LogInclusion:
    entry: LogEntry
    leaf_hash: bytes
    tree_size: int
    root: bytes
    audit_path: list[bytes]


@dataclass(frozen=True, slots=True)
class LogConsistency:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


class ReadSessionLog:
    def __init__(self, log: SessionLog, signer: Signer, clock: Clock) -> None:
        self._log, self._signer, self._clock = log, signer, clock
        self._tree = MerkleTree()
        self._lock = anyio.Lock()

    async def _current(self) -> MerkleTree:
        """The tree over every entry appended so far (by any process)."""
        async with self._lock:
            size = await self._log.size()
            while self._tree.size < size:
                batch = await self._log.entries(self._tree.size, min(size, self._tree.size + 1000))
                if not batch:
                    break
                for entry in batch:
                    self._tree.append_leaf_hash(entry.leaf_hash())
            return self._tree

    async def head(self) -> TreeHead:
        """A tree head over the whole log, signed now with the service's current key."""
        tree = await self._current()
        size = tree.size
        root, now = tree.root(size), self._clock.now()

        def unsigned(key: SigningKey) -> bytes:
            return TreeHead(size, root, now, key.public_key).signed_bytes()

        key, signature = await anyio.to_thread.run_sync(
            sign_with_current_key, self._signer, unsigned
        )
        return TreeHead(size, root, now, key.public_key, signature)

    async def entries(self, principal: Principal, start: int, end: int | None) -> list[LogEntry]:
        principal.require_admin("read the session log's entries")
        size = await self._log.size()
        end = min(size, start + MAX_LOG_PAGE) if end is None else end
        if not 0 <= start <= end or end - start > MAX_LOG_PAGE:
            raise InvalidValue("end", f"need 0 <= start <= end and at most {MAX_LOG_PAGE} entries")
        return await self._log.entries(start, end)

    async def inclusion(
        self, principal: Principal, index: int, tree_size: int | None
    ) -> LogInclusion:
        principal.require_admin("read proofs of the session log's entries")
        tree = await self._current()
        size = tree.size if tree_size is None else tree_size
        if not 0 <= index < size <= tree.size:
            raise InvalidValue(
                "tree_size", f"need 0 <= index < tree_size <= {tree.size} (the log's size)"
            )
        (entry,) = await self._log.entries(index, index + 1)
        return LogInclusion(
            entry,
            tree.leaf_hash_at(index),
            size,
            tree.root(size),
            tree.inclusion_proof(index, size),
        )

    async def consistency(
        self, principal: Principal, first: int, second: int | None
    ) -> LogConsistency:
        tree = await self._current()
        second = tree.size if second is None else second
        if not 0 <= first <= second <= tree.size:
            raise InvalidValue("from", f"need 0 <= from <= to <= {tree.size} (the log's size)")
        return LogConsistency(
            first,
            second,
            tree.root(first),
            tree.root(second),
            tree.consistency_proof(first, second),
        )
