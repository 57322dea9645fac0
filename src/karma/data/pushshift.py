"""Streaming reader for Pushshift dumps (``RS_*``/``RC_*``): zstd NDJSON or plain NDJSON/JSONL.

Pushshift files are zstd frames compressed with a window of up to 2 GiB and decompress to hundreds
of GB, so they are read in bounded chunks of whole lines and never held in memory. Field types drift
across the years (``created_utc`` as str, int or float; 18 to 120+ keys); records are normalised
into small typed rows. A malformed line is a counted drop, a truncated or corrupt file an error
naming the file.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import zstandard

from karma.progress import Progress

log = logging.getLogger(__name__)

MAX_WINDOW_SIZE = 2**31
# 64 KB of zstd input decompresses to about 0.5 MB (the same size as a plain-file block): blocks
# that stay in cache and reuse heap memory. With 1 MB reads each 10 MB block was fresh memory,
# and its page faults cost a third of the comment scan's time (benchmarks/ingest.py).
READ_SIZE = 1 << 16
ZSTD_SUFFIXES = (".zst", ".zstd")
PLAIN_SUFFIXES = (".ndjson", ".jsonl", ".json")


class DumpReadError(RuntimeError):
    """The dump file itself is unreadable (truncated, corrupt, or of an unknown kind)."""


def _is_zstd(path: Path) -> bool:
    if path.suffix in ZSTD_SUFFIXES:
        return True
    if path.suffix in PLAIN_SUFFIXES:
        return False
    raise DumpReadError(
        f"{path}: unknown dump type {path.suffix!r}; expected one of "
        f"{', '.join(ZSTD_SUFFIXES + PLAIN_SUFFIXES)}"
    )


OnRead = Callable[[int], object]


def _decompressed_blocks(path: Path, on_read: OnRead | None = None) -> Iterator[bytes]:
    """Decompress frame after frame, so that a file cut short is noticed rather than truncated."""
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
    with path.open("rb") as handle:
        dobj = dctx.decompressobj()
        in_frame = False
        while True:
            data = handle.read(READ_SIZE)
            if not data:
                break
            if on_read is not None:
                on_read(len(data))
            while data:
                try:
                    out = dobj.decompress(data)
                except zstandard.ZstdError as err:
                    raise DumpReadError(
                        f"{path}: corrupt zstd data ({err}); re-download the dump"
                    ) from err
                in_frame = True
                if out:
                    yield out
                if dobj.eof:
                    data = dobj.unused_data
                    dobj = dctx.decompressobj()
                    in_frame = False
                else:
                    data = b""
        if in_frame:
            raise DumpReadError(
                f"{path}: the file ends inside a zstd frame (truncated download?); "
                "re-download the dump"
            )


def _plain_blocks(path: Path, on_read: OnRead | None = None) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(READ_SIZE * 8):
            if on_read is not None:
                on_read(len(block))
            yield block


def iter_regions(path: str | Path, on_read: OnRead | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(buffer, start, end)``: ``buffer[start:end]`` holds whole lines only.

    Regions point into the decompressed blocks themselves, so a scan with ``pos``/``endpos``
    arguments touches each byte without copying it; only the line straddling two blocks is copied.
    ``on_read(n)`` is told of every ``n`` bytes read from the file itself (compressed, for zstd),
    which against the file's size is the scan's progress.
    """
    path = Path(path)
    if not path.is_file():
        raise DumpReadError(f"{path}: dump file not found")
    blocks = _decompressed_blocks(path, on_read) if _is_zstd(path) else _plain_blocks(path, on_read)
    carry = b""
    for block in blocks:
        first = block.find(b"\n")
        if first < 0:
            carry += block
            continue
        if carry:
            head = carry + block[: first + 1]
            yield head, 0, len(head)
        else:
            first = -1
        last = block.rfind(b"\n") + 1
        if last > first + 1:
            yield block, first + 1, last
        carry = block[last:]
    if carry:
        yield carry + b"\n", 0, len(carry) + 1


def iter_chunks(path: str | Path, on_read: OnRead | None = None) -> Iterator[bytes]:
    """Chunks of whole lines (copies of the regions), for callers that want plain bytes."""
    for buffer, start, end in iter_regions(path, on_read):
        yield buffer if (start, end) == (0, len(buffer)) else buffer[start:end]


def iter_lines(path: str | Path) -> Iterator[bytes]:
    """Every line of the dump, blank lines included, so that line counts reconcile."""
    for chunk in iter_chunks(path):
        lines = chunk.split(b"\n")
        lines.pop()  # chunks end with a newline
        yield from lines


@dataclass
class DropCounts:
    """Lines read from one file and what became of each: ``kept + sum(dropped) == read``."""

    file: str
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] += count

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DropCounts:
        return cls(raw["file"], raw["read"], raw["kept"], Counter(raw["dropped"]))

    def check(self) -> None:
        total = self.kept + sum(self.dropped.values())
        if total != self.read:
            raise AssertionError(
                f"{self.file}: {self.read} lines read but kept + dropped = {total}"
            )


def scan_progress(what: str, path: str | Path, counts: DropCounts) -> Progress:
    """Progress of one dump scan: bytes of the file read (pass ``progress.advance`` as ``on_read``)
    against its size, with the lines read and kept so far."""
    path = Path(path)
    size = path.stat().st_size if path.is_file() else None
    return Progress(
        f"{what} {path.name}", size, unit="bytes", logger=log,
        detail=lambda: f"{counts.read} lines read, {counts.kept} kept",
    )


class MalformedRecord(ValueError):
    """A line that is not a usable record; ``reason`` is its drop reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def parse_line(line: bytes) -> dict[str, Any]:
    if not line.strip():
        raise MalformedRecord("blank_line")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise MalformedRecord("malformed_json", str(err)) from err
    if not isinstance(obj, dict):
        raise MalformedRecord("malformed_json", "not a JSON object")
    return obj


def _required(obj: dict[str, Any], key: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise MalformedRecord("missing_field", key)
    return value


def as_int(obj: dict[str, Any], key: str) -> int:
    """Integers that older dumps wrote as strings or floats (``"1251763201"``, ``1706745600.0``)."""
    value = _required(obj, key)
    if isinstance(value, bool):
        raise MalformedRecord("bad_field", key)
    try:
        return int(float(value)) if isinstance(value, (str, float)) else int(value)
    except (TypeError, ValueError) as err:
        raise MalformedRecord("bad_field", key) from err


def as_str(obj: dict[str, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None:
        if default is None:
            raise MalformedRecord("missing_field", key)
        return default
    return value if isinstance(value, str) else str(value)


def strip_prefix(fullname: str) -> str:
    """``t3_abc`` -> ``abc``; ids without a type prefix pass through."""
    return fullname.split("_", 1)[1] if fullname[:3] in ("t1_", "t3_") else fullname


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    subreddit: str
    created_utc: int
    score: int
    title: str
    selftext: str
    over_18: bool
    is_self: bool
    url: str


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    link_id: str  # the post id, without the t3_ prefix
    parent_id: str  # with its prefix: t3_ for a top-level comment, t1_ for a reply
    subreddit: str
    created_utc: int
    score: int
    body: str


def to_submission(obj: dict[str, Any]) -> Submission:
    selftext = as_str(obj, "selftext", "")
    url = as_str(obj, "url", "")
    is_self = obj.get("is_self")
    if is_self is None:  # the earliest dumps lack is_self: a text post links to itself
        is_self = bool(selftext) or "/comments/" in url
    return Submission(
        id=as_str(obj, "id"),
        subreddit=as_str(obj, "subreddit"),
        created_utc=as_int(obj, "created_utc"),
        score=as_int(obj, "score"),
        title=as_str(obj, "title"),
        selftext=selftext,
        over_18=bool(obj.get("over_18", False)),
        is_self=bool(is_self),
        url=url,
    )


def to_comment(obj: dict[str, Any]) -> Comment:
    return Comment(
        id=as_str(obj, "id"),
        link_id=strip_prefix(as_str(obj, "link_id")),
        parent_id=as_str(obj, "parent_id"),
        subreddit=as_str(obj, "subreddit"),
        created_utc=as_int(obj, "created_utc"),
        score=as_int(obj, "score"),
        body=as_str(obj, "body"),
    )
