"""Benchmark of the RFC 9162 Merkle tree (``lucid_sessions.domain.merkle``).

Run as ``python bench/bench_merkle.py``; ``bench/run.py`` imports ``run()`` instead. Every
figure is the best of three repeats (``figures.best_of``), all measured in the same process,
so the ratio against raw BLAKE3 hashing (the in-process baseline) is meaningful across
machines.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # figures
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from figures import Figure, below, best_of, summarize
from lucid_sessions.domain.merkle import (
    CompactRange,
    MerkleTree,
    blake3_256,
    leaf_hash,
    verify_inclusion,
)

__all__ = ["run"]

LEAVES = 100_000
TINY_LEAVES = 2_000
EVERY = 1_000
TARGET_SECONDS = 0.5  # "well under a second"


def _chunk_digests(leaves: int) -> list[bytes]:
    """Stand-ins for the 32-byte BLAKE3 digests of chunks: the tree's leaf data."""
    return [blake3_256(i.to_bytes(8, "big")) for i in range(leaves)]


def _raw_hashing(inputs: list[bytes]) -> None:
    for data in inputs:
        blake3_256(data)


def _tree_with_proofs(digests: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for number, digest in enumerate(digests, start=1):
        tree.append(digest)
        if number % EVERY == 0:
            tree.inclusion_proof(number // 2, number)
            tree.root(number)
    return tree


def _compact_range(leaf_hashes: list[bytes]) -> CompactRange:
    edge = CompactRange()
    for number, value in enumerate(leaf_hashes, start=1):
        edge.append_leaf_hash(value)
        if number % EVERY == 0:
            edge.root()
    return edge


def _check(tree: MerkleTree, edge: CompactRange) -> None:
    """The timed work must be the real thing: same roots, and proofs that verify."""
    root = tree.root()
    if edge.root() != root:
        raise AssertionError("CompactRange and MerkleTree disagree")
    for size in range(EVERY, tree.size + 1, 7 * EVERY):
        index = size // 3
        proof = tree.inclusion_proof(index, size)
        if not verify_inclusion(tree.leaf_hash_at(index), index, size, proof, tree.root(size)):
            raise AssertionError(f"inclusion proof {index}/{size} does not verify")


def run(_env: object = None, tiny: bool = False) -> list[Figure]:
    leaves = TINY_LEAVES if tiny else LEAVES
    digests = _chunk_digests(leaves)
    raw_inputs = [b"\x00" + digest for digest in digests]  # 33 bytes, like a leaf hash input
    leaf_hashes = [leaf_hash(digest) for digest in digests]

    baseline = best_of(lambda: _raw_hashing(raw_inputs))
    tree_time = best_of(lambda: _tree_with_proofs(digests))
    edge_time = best_of(lambda: _compact_range(leaf_hashes))
    bulk_time = best_of(lambda: MerkleTree.from_leaf_hashes(leaf_hashes))
    _check(_tree_with_proofs(digests), _compact_range(leaf_hashes))
    size = f"{leaves // 1000}k"
    raw = f"merkle.raw_blake3_{size}_33B"
    return [
        Figure(raw, baseline, "s", note="the baseline: BLAKE3 of each leaf's 33 input bytes"),
        Figure(
            f"merkle.append_{size}_with_proofs",
            tree_time,
            "s",
            raw,
            below(TARGET_SECONDS) if not tiny else None,
            "a proof and a root every 1,000th size",
        ),
        Figure(f"merkle.compact_range_append_{size}", edge_time, "s", raw),
        Figure(f"merkle.from_leaf_hashes_{size}", bulk_time, "s", raw),
    ]


if __name__ == "__main__":
    for output in summarize([run()]):
        print(output)
