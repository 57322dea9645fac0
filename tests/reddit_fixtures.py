"""Small hand-made Pushshift records for data-stage tests (the real lines have no threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import zstandard

ENGLISH = "I have been thinking about this for a while and would love some practical advice."


def post(pid: str, **overrides: Any) -> dict[str, Any]:
    record = {
        "id": pid, "title": f"Question number {pid} about gardening", "selftext": ENGLISH,
        "subreddit": "CasualConversation", "created_utc": 1546300800, "score": 10,
        "over_18": False, "is_self": True, "url": f"https://www.reddit.com/r/x/comments/{pid}/",
        "author": "someone",
    }
    record.update(overrides)
    return record


def comment(cid: str, pid: str, parent: str | None = None, **overrides: Any) -> dict[str, Any]:
    record = {
        "id": cid, "link_id": f"t3_{pid}", "parent_id": parent or f"t3_{pid}",
        "body": f"Reply {cid}: water the tomatoes early in the morning and mulch well.",
        "subreddit": "CasualConversation", "created_utc": "1546304400", "score": 5,
        "author": "someone_else",
    }
    record.update(overrides)
    return record


def write_dump(path: Path, lines: list[dict[str, Any] | bytes], *, compress: bool = True,
               window_log: int | None = None, checksum: bool = True) -> Path:
    """NDJSON lines, zstd-compressed with a content checksum (as the zstd tool writes) unless
    ``checksum=False``; ``bytes`` lines are written as given (without their newline)."""
    data = b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n"
                    for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not compress:
        path.write_bytes(data)
        return path
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=window_log or 0, write_checksum=checksum)
    cctx = zstandard.ZstdCompressor(compression_params=params)
    with path.open("wb") as handle, cctx.stream_writer(handle) as writer:
        writer.write(data)
    return path
