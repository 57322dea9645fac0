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


def shard_of(post_id: str, n_shards: int) -> int:
    return stable_int("shard", post_id) % n_shards
