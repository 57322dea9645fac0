"""SHA-256 checks of the files the workflow trusts: downloaded checkpoints and Pushshift dumps.

A Pushshift month is tens of GB, so a dump is hashed once: the result is recorded with the file's
size and modification time, and the jobs that read the dump only compare those. The Detoxify checkpoint is a pickle,
so it is hashed before every load: unpickling a tampered file runs its code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SHA256 = re.compile(r"[0-9a-f]{64}")
# torch.hub's convention: a release file named <name>-<first hex digits of its sha256>.<ext>.
NAME_HASH_PREFIX = re.compile(r"-([0-9a-f]{8,64})\.")
_CHUNK = 1 << 22


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the one it must have."""


def checked_sha256(value: str, what: str) -> str:
    """A configured SHA-256 as 64 lowercase hex digits, or an error naming the config key."""
    digest = value.strip().lower() if isinstance(value, str) else ""
    if not SHA256.fullmatch(digest):
        raise ValueError(f"{what}: {value!r} is not a SHA-256 (64 hex digits, as `sha256sum` "
                         "prints it)")
    return digest


def sha256_of(path: str | Path, progress_every_s: float = 30.0) -> str:
    """The file's SHA-256; large files log their progress (percentage, rate, time left)."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    start = last = time.monotonic()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            now = time.monotonic()
            if now - last >= progress_every_s:
                last = now
                rate = done / max(now - start, 1e-9)
                log.info("sha256 %s: %.1f%% of %.1f GB, %.0f MB/s, %.0f s left", path.name,
                         100 * done / size, size / 1e9, rate / 1e6, (size - done) / rate)
    return digest.hexdigest()


def _check_digest(actual: str, expected: str, path: str | Path, what: str) -> str:
    if not actual.startswith(expected.lower()):
        raise ChecksumError(
            f"{path}: SHA-256 is {actual}, but {what} requires {expected}. The file is corrupt, "
            "truncated or not the one intended: delete it and download it again"
        )
    log.info("%s: SHA-256 %s matches %s", path, actual, what)
    return actual


def verify_sha256(path: str | Path, expected: str, what: str) -> str:
    """Hash ``path`` and compare with ``expected`` (a full digest, or a prefix of one)."""
    return _check_digest(sha256_of(path), expected, path, what)


def read_verified(path: str | Path, expected: str, what: str) -> bytes:
    """The file's bytes once their SHA-256 matches ``expected``: the bytes checked are the bytes
    used, so a file swapped between check and use (a pickle, say) is never loaded unchecked."""
    data = Path(path).read_bytes()
    _check_digest(hashlib.sha256(data).hexdigest(), expected, path, what)
    return data


def expected_checkpoint_hash(path: str | Path, sha256: str | None, what: str) -> str:
    """The digest a checkpoint must have: the configured one, else the prefix in its file name."""
    if sha256:
        return checked_sha256(sha256, what)
    match = NAME_HASH_PREFIX.search(Path(path).name)
    if match is None:
        raise ValueError(
            f"{path}: cannot verify this checkpoint: its name carries no hash prefix (as in "
            f"toxic_original-c1212f89.ckpt) and {what} is not set; give its SHA-256 there"
        )
    return match.group(1)


def _identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def verify_and_record(path: str | Path, sha256: str, record_path: str | Path,
                      what: str) -> dict[str, Any]:
    """Hash a large file, compare, and record the result with the file's size and time.

    The workflow runs this once per dump (rule verify_dump); the jobs that read the dump then only
    compare size and time with the record (:func:`confirm_verified`) instead of hashing again.
    """
    path = Path(path)
    expected = checked_sha256(sha256, what)
    verify_sha256(path, expected, what)
    record = {**_identity(path), "sha256": expected}
    # Imported here: the config check imports this module at parse time, and parquet_io pulls pyarrow.
    from karma.parquet_io import write_json

    write_json(record, record_path)
    return record


def confirm_verified(path: str | Path, records: Sequence[str | Path]) -> None:
    """Cheap check in a job that reads the file: it is still the file that was verified."""
    identity = _identity(Path(path))
    for record_path in records:
        record = json.loads(Path(record_path).read_text())
        changed = [k for k in ("size", "mtime_ns") if record.get(k) != identity[k]]
        if changed:
            raise ChecksumError(
                f"{path} changed ({', '.join(changed)}) since its SHA-256 was verified in "
                f"{record_path}; delete that record and rerun so that the file is verified again"
            )
