"""Seeded hashes that give the same shard, sample and split on every machine and Python run.

Python's ``hash()`` is salted per process, so it cannot be used for anything written to disk.
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def stable_int(*parts: object) -> int:
    key = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def stable_unit(*parts: object) -> float:
    """A number in [0, 1), uniform over keys, fixed for given parts."""
    return stable_int(*parts) / _SCALE


def sample_rank(seed: int, post_id: str) -> float:
    """A post's place in the deterministic sample; both sampling steps keep the lowest ranks.

    Post selection admits candidates with rank < ``reddit.candidate_fraction`` and the thread
    builder keeps the ``max_posts`` eligible posts of lowest rank, so the first step cannot change
    the second's result while enough eligible posts pass it.
    """
    return stable_unit(seed, "sample", post_id)


def shard_of(post_id: str, n_shards: int) -> int:
    return stable_int("shard", post_id) % n_shards
