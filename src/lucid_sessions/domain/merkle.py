"""RFC 9162 (section 2.1; same as RFC 6962) Merkle trees, generic over the hash function.

Definitions, with ``H`` the hash function and ``||`` concatenation:

- leaf hash: ``H(0x00 || leaf_data)``;
- node hash: ``H(0x01 || left || right)``;
- ``MTH`` of ``n > 1`` leaves: with ``k`` the largest power of two below ``n``,
  ``node(MTH(D[0:k]), MTH(D[k:n]))`` (an odd last node is never duplicated);
- root of the empty tree: ``H(b"")``.

Inclusion proofs (``PATH``) and consistency proofs (``PROOF``/``SUBPROOF``) follow RFC 9162
2.1.3 and 2.1.4; the verifiers are the iterative algorithms of 2.1.3.2 and 2.1.4.2 and return
``False`` (never raise) on any bad input.

Cases the RFC leaves undefined are settled as follows: the consistency proof from size 0, or
from a size to itself, is the empty list; ``verify_consistency`` accepts size 0 -> n (with an
empty proof) only if ``old_root`` is the empty root, and n -> n only if both roots are equal.

Note (inherent to RFC 9162): a proof does not bind the tree size by itself. An inclusion proof
for ``(index, size)`` also verifies against the same root under another ``(index, size)`` whose
path has the same shape (e.g. index 0 in sizes 3 and 4); likewise a consistency proof for
1 -> 3 verifies as 1 -> 4 with the same two roots. Sizes are bound by the signed tree head that
carries the root: callers must take sizes from the same trusted source as the roots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import blake3

__all__ = [
    "CompactRange",
    "HashFn",
    "MerkleTree",
    "StreamingHash",
    "blake3_256",
    "blake3_stream",
    "empty_root",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HashFn = Callable[[bytes], bytes]

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def blake3_256(data: bytes) -> bytes:
    """The default hash: the 32-byte BLAKE3 digest of ``data``."""
    return blake3.blake3(data).digest()


class StreamingHash(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def digest(self) -> bytes: ...


def blake3_stream() -> StreamingHash:
    """BLAKE3 fed piece by piece; its digest equals `blake3_256` of the whole."""
    hasher: StreamingHash = blake3.blake3()
    return hasher


def leaf_hash(leaf_data: bytes, hash_fn: HashFn = blake3_256) -> bytes:
    """``H(0x00 || leaf_data)``."""
    return hash_fn(_LEAF_PREFIX + leaf_data)


def node_hash(left: bytes, right: bytes, hash_fn: HashFn = blake3_256) -> bytes:
    """``H(0x01 || left || right)``."""
    return hash_fn(_NODE_PREFIX + left + right)


def empty_root(hash_fn: HashFn = blake3_256) -> bytes:
    """The root of the tree with no leaves: ``H(b"")``."""
    return hash_fn(b"")


def _split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check_non_negative(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _check_hash_length(what: str, value: bytes, digest_size: int) -> None:
    if len(value) != digest_size:
        raise ValueError(f"{what} must be {digest_size} bytes long, got {len(value)}")


def _fold_right(hashes: Sequence[bytes], hash_fn: HashFn) -> bytes:
    """Root of the perfect subtrees ``hashes`` (largest first) that tile a tree."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result, hash_fn)
    return result


class MerkleTree:
    """Append-only tree holding every leaf hash, answering roots and proofs at any size.

    Storage: ``_levels[k][i]`` is the hash of the perfect subtree over the leaves
    ``[i * 2**k, (i + 1) * 2**k)``, kept for every such subtree that is complete. The hash of
    any aligned perfect subtree is then a lookup, and the hash of any range the RFC recursion
    asks for is computed from O(log n) lookups. Memory: about two hashes per leaf.
    """

    def __init__(self, hash_fn: HashFn = blake3_256) -> None:
        self._hash_fn = hash_fn
        self._empty_root = empty_root(hash_fn)
        self._digest_size = len(self._empty_root)
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaf_hashes(
        cls, leaf_hashes: Iterable[bytes], hash_fn: HashFn = blake3_256
    ) -> MerkleTree:
        """A tree whose leaves have the given hashes, in order (same as appending each)."""
        tree = cls(hash_fn)
        row = list(leaf_hashes)
        for position, value in enumerate(row):
            _check_hash_length(f"leaf hash {position}", value, tree._digest_size)
        tree._levels = [row]
        while len(row) >= 2:
            row = [node_hash(row[i], row[i + 1], hash_fn) for i in range(0, len(row) - 1, 2)]
            tree._levels.append(row)
        return tree

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    @property
    def hash_fn(self) -> HashFn:
        return self._hash_fn

    def append(self, leaf_data: bytes) -> bytes:
        """Append a leaf by its data; return its leaf hash. O(1) hashes amortized."""
        value = leaf_hash(leaf_data, self._hash_fn)
        self.append_leaf_hash(value)
        return value

    def append_leaf_hash(self, leaf_hash: bytes) -> None:
        """Append a leaf whose leaf hash (``H(0x00 || data)``) is already known."""
        _check_hash_length("leaf hash", leaf_hash, self._digest_size)
        levels = self._levels
        row = levels[0]
        row.append(leaf_hash)
        level = 0
        while len(row) % 2 == 0:  # a perfect subtree just completed: hash it into the level above
            parent = node_hash(row[-2], row[-1], self._hash_fn)
            level += 1
            if level == len(levels):
                levels.append([])
            row = levels[level]
            row.append(parent)

    def leaf_hash_at(self, index: int) -> bytes:
        """The leaf hash at ``index`` (``0 <= index < size``)."""
        self._check_index(index, self.size)
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all of them)."""
        size = self._resolve_size("size", size)
        if size == 0:
            return self._empty_root
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[0:size])`` of RFC 9162 2.1.3.1, bottom-up."""
        size = self._resolve_size("size", size)
        self._check_index(index, size)
        start, end = 0, size
        top_down: list[bytes] = []
        while end - start > 1:
            middle = start + _split_point(end - start)
            if index < middle:
                top_down.append(self._range_hash(middle, end))
                end = middle
            else:
                top_down.append(self._range_hash(start, middle))
                start = middle
        top_down.reverse()
        return top_down

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """``PROOF(old_size, D[0:new_size])`` of RFC 9162 2.1.4.1 (empty if old is 0 or new)."""
        new_size = self._resolve_size("new_size", new_size)
        _check_non_negative("old_size", old_size)
        if old_size > new_size:
            raise ValueError(f"old_size {old_size} is greater than new_size {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, new_size)

    def compact_range(self, size: int | None = None) -> CompactRange:
        """The right edge of the first ``size`` leaves (default: all of them)."""
        size = self._resolve_size("size", size)
        hashes: list[bytes] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(self._levels[level][start >> level])
                start += 1 << level
        return CompactRange(size, hashes, self._hash_fn)

    def _subproof(self, old_size: int, new_size: int) -> list[bytes]:
        """``SUBPROOF(old_size, D[0:new_size], true)``, unrolled (``0 < old < new``)."""
        start, end, m = 0, new_size, old_size
        complete = True
        top_down: list[bytes] = []
        while m != end - start:
            k = _split_point(end - start)
            if m <= k:
                top_down.append(self._range_hash(start + k, end))
                end = start + k
            else:
                top_down.append(self._range_hash(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            top_down.append(self._range_hash(start, end))
        top_down.reverse()
        return top_down

    def _range_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for ``0 <= start < end <= size``."""
        n = end - start
        if _is_power_of_two(n) and start & (n - 1) == 0:
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        middle = start + _split_point(n)
        return node_hash(
            self._range_hash(start, middle), self._range_hash(middle, end), self._hash_fn
        )

    def _resolve_size(self, name: str, size: int | None) -> int:
        if size is None:
            return self.size
        _check_non_negative(name, size)
        if size > self.size:
            raise ValueError(f"{name} {size} is greater than the tree size {self.size}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is out of range for tree size {size}")


def verify_inclusion(
    leaf_hash: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    hash_fn: HashFn = blake3_256,
) -> bool:
    """Check an inclusion proof per RFC 9162 2.1.3.2. Never raises on bad input."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result, hash_fn)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling, hash_fn)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    hash_fn: HashFn = blake3_256,
) -> bool:
    """Check a consistency proof per RFC 9162 2.1.4.2. Never raises on bad input.

    Outside the RFC's ``0 < old_size < new_size``: ``0 -> n`` holds with an empty proof iff
    ``old_root`` is the empty root (and, for ``n == 0``, ``new_root`` too); ``n -> n`` holds
    with an empty proof iff the roots are equal.
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        is_empty = old_root == empty_root(hash_fn)
        return len(proof) == 0 and is_empty and (new_size > 0 or new_root == old_root)
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if len(proof) == 0:
        return False
    path = [old_root, *proof] if _is_power_of_two(old_size) else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(node, first, hash_fn)
            second = node_hash(node, second, hash_fn)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, node, hash_fn)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes], hash_fn: HashFn = blake3_256) -> bytes:
    """``MTH`` of a list of leaf hashes, in O(log n) memory."""
    edge = CompactRange(hash_fn=hash_fn)
    for value in leaf_hashes:
        edge.append_leaf_hash(value)
    return edge.root()


class CompactRange:
    """The right edge of a tree (the roots of its perfect subtrees, largest first): O(log n)
    state that supports append and root without keeping the leaves. Stored on the Session
    aggregate so each chunk upload updates the root in O(log n)."""

    def __init__(
        self, size: int = 0, hashes: Sequence[bytes] = (), hash_fn: HashFn = blake3_256
    ) -> None:
        _check_non_negative("size", size)
        expected = size.bit_count()
        if len(hashes) != expected:
            raise ValueError(
                f"a compact range of size {size} holds {expected} hashes, not {len(hashes)}"
            )
        self._hash_fn = hash_fn
        self._digest_size = len(empty_root(hash_fn))
        for position, value in enumerate(hashes):
            _check_hash_length(f"hash {position}", value, self._digest_size)
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, largest (leftmost) first; ``popcount(size)`` of them."""
        return tuple(self._hashes)

    @property
    def hash_fn(self) -> HashFn:
        return self._hash_fn

    def append_leaf_hash(self, leaf_hash: bytes) -> None:
        """Extend by one leaf whose leaf hash is known: O(log n) hashes worst case."""
        _check_hash_length("leaf hash", leaf_hash, self._digest_size)
        merged = leaf_hash
        remaining = self._size
        while remaining & 1:
            merged = node_hash(self._hashes.pop(), merged, self._hash_fn)
            remaining >>= 1
        self._hashes.append(merged)
        self._size += 1

    def root(self) -> bytes:
        """``MTH`` of the covered leaves (the empty root when size is 0)."""
        if not self._hashes:
            return empty_root(self._hash_fn)
        return _fold_right(self._hashes, self._hash_fn)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return (self._size, self._hashes, self._hash_fn) == (
            other._size,
            other._hashes,
            other._hash_fn,
        )

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, hashes=[{len(self._hashes)} hashes])"
