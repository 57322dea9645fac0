"""Streaming reader for Pushshift dumps (``RS_*``/``RC_*``): zstd NDJSON or plain NDJSON/JSONL.

Pushshift files are zstd frames compressed with a window of up to 2 GiB and decompress to hundreds
of GB, so they are read in bounded chunks of whole lines and never held in memory. A truncated,
empty (0-byte) or corrupt file is an error naming the file; frames without a checksum and dumps
that yield no line are warnings. A line longer than :data:`MAX_LINE_BYTES` is replaced by a
placeholder that the record parser counts as ``overlong_line``, so memory stays bounded and line
numbers stay true. Turning lines into records is :mod:`karma.data.records`.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from karma.data.records import OVERLONG_LINE
from karma.progress import Progress

log = logging.getLogger(__name__)

MAX_WINDOW_SIZE = 2**31
# 64 KB of zstd input decompresses to about 0.5 MB (the same size as a plain-file block): blocks
# that stay in cache and reuse heap memory. With 1 MB reads each 10 MB block was fresh memory,
# and its page faults cost a third of the comment scan's time (benchmarks/ingest.py).
READ_SIZE = 1 << 16
# Reddit caps a self post at 40,000 characters (240 KB as \uXXXX escapes); with 100+ metadata
# keys the longest real lines are a few MB. 64 MiB is far beyond them and bounds memory.
MAX_LINE_BYTES = 64 << 20
# Line numbers of the first lines dropped for each reason, kept in the manifest.
FIRST_LINES = 20
ZSTD_SUFFIXES = (".zst", ".zstd")
PLAIN_SUFFIXES = (".ndjson", ".jsonl", ".json")
Warn = Callable[[str], None]


class DumpReadError(RuntimeError):
    """The dump file itself is unreadable (truncated, corrupt, empty, or of an unknown kind)."""


class DumpLineError(RuntimeError):
    """An unexpected failure on one line: a bug, reported with the file and line to look at."""

    def __init__(self, path: str | Path, line: int, error: BaseException) -> None:
        super().__init__(
            f"{path}: line {line}: unexpected {type(error).__name__}: {error}. Every bad value "
            "should be a counted drop, so this is a bug in karma.data; report it with that line "
            f"(print it with: zstd -dcf --long=31 {path} | sed -n '{line}p')"
        )


def _is_zstd(path: Path) -> bool:
    if path.suffix in ZSTD_SUFFIXES:
        return True
    if path.suffix in PLAIN_SUFFIXES:
        return False
    raise DumpReadError(
        f"{path}: unknown dump type {path.suffix!r}; expected one of "
        f"{', '.join(ZSTD_SUFFIXES + PLAIN_SUFFIXES)}"
    )


def _frame_has_checksum(data: bytes) -> bool | None:
    """Whether the frame starting at ``data`` carries a checksum; None when its header is not here
    or it is a skippable frame (metadata, no data to protect)."""
    if data[1:4] == b"\x2a\x4d\x18" and data[0] & 0xF0 == 0x50:
        return None
    try:
        return bool(zstandard.get_frame_parameters(data).has_checksum)
    except zstandard.ZstdError:
        return None


OnRead = Callable[[int], object]


def _decompressed_blocks(path: Path, warn: Warn, on_read: OnRead | None = None) -> Iterator[bytes]:
    """Decompress frame after frame, so that a file cut short is noticed rather than truncated."""
    if path.stat().st_size == 0:
        raise DumpReadError(
            f"{path}: the file is empty (0 bytes), which is no zstd data (`zstd -t` calls it an "
            "unexpected end of file); re-download the dump"
        )
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
    frames = unchecked = 0
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
                if not in_frame:
                    has_checksum = _frame_has_checksum(data)
                    frames += has_checksum is not None
                    unchecked += has_checksum is False
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
    if unchecked:
        warn(
            f"{path}: {unchecked} of {frames} zstd frame(s) carry no checksum, so a flipped bit "
            "can decode to different data without any error; give the dump's sha256 under "
            "reddit.sha256 (config/README.md) to verify the file"
        )


def _plain_blocks(path: Path, on_read: OnRead | None = None) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(READ_SIZE * 8):
            if on_read is not None:
                on_read(len(block))
            yield block


def _whole_line(pieces: list[bytes], length: int) -> bytes:
    """The line from its pieces (newline included), or the placeholder when it is too long."""
    if length > MAX_LINE_BYTES:
        return OVERLONG_LINE + b"\n"
    return b"".join(pieces)


def _split_overlong(block: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Regions of a block larger than MAX_LINE_BYTES, with its overlong lines replaced."""
    region = line = start
    while line < end:
        stop = block.index(b"\n", line, end)
        if stop - line > MAX_LINE_BYTES:
            if line > region:
                yield block, region, line
            yield OVERLONG_LINE + b"\n", 0, len(OVERLONG_LINE) + 1
            region = stop + 1
        line = stop + 1
    if end > region:
        yield block, region, end


def iter_regions(
    path: str | Path, warn: Warn | None = None, on_read: OnRead | None = None
) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(buffer, start, end)``: ``buffer[start:end]`` holds whole lines only.

    Regions point into the decompressed blocks themselves, so a scan with ``pos``/``endpos``
    arguments touches each byte without copying it; only the line straddling two blocks is copied.
    ``warn`` receives warnings about the file (frames without a checksum); by default they are
    logged.
    ``on_read(n)`` is told of every ``n`` bytes read from the file itself (compressed, for zstd),
    which against the file's size is the scan's progress.
    """
    path = Path(path)
    if not path.is_file():
        raise DumpReadError(f"{path}: dump file not found")
    warn = warn or log.warning
    blocks = (
        _decompressed_blocks(path, warn, on_read) if _is_zstd(path) else _plain_blocks(path, on_read)
    )
    pending: list[bytes] = []  # pieces of the line that straddles blocks
    pending_len = 0
    for block in blocks:
        first = block.find(b"\n")
        if first < 0:
            pending_len += len(block)
            if pending_len <= MAX_LINE_BYTES:
                pending.append(block)
            else:
                pending.clear()  # the line is overlong: only its length still matters
            continue
        start = 0
        if pending_len:
            head = _whole_line([*pending, block[: first + 1]], pending_len + first)
            yield head, 0, len(head)
            pending, pending_len, start = [], 0, first + 1
        last = block.rfind(b"\n") + 1
        if last > start:
            if len(block) > MAX_LINE_BYTES:
                yield from _split_overlong(block, start, last)
            else:
                yield block, start, last
        if last < len(block):
            pending, pending_len = [block[last:]], len(block) - last
    if pending_len:
        last_line = _whole_line([*pending, b"\n"], pending_len)
        yield last_line, 0, len(last_line)


def iter_chunks(
    path: str | Path, warn: Warn | None = None, on_read: OnRead | None = None
) -> Iterator[bytes]:
    """Chunks of whole lines (copies of the regions), for callers that want plain bytes."""
    for buffer, start, end in iter_regions(path, warn, on_read):
        yield buffer if (start, end) == (0, len(buffer)) else buffer[start:end]


def iter_lines(path: str | Path, warn: Warn | None = None) -> Iterator[bytes]:
    """Every line of the dump, blank lines included, so that line counts reconcile."""
    for chunk in iter_chunks(path, warn):
        lines = chunk.split(b"\n")
        lines.pop()  # chunks end with a newline
        yield from lines


@dataclass
class DropCounts:
    """Lines read from one file and what became of each: ``kept + sum(dropped) == read``.

    ``first_lines`` holds, per drop reason, the (1-based) numbers of the first
    :data:`FIRST_LINES` lines dropped for it, so that a user can look at them; ``warnings`` are
    problems with the file as a whole (no checksum, no line at all).
    """

    file: str
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    first_lines: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def drop(self, reason: str, count: int = 1, line: int | None = None) -> None:
        if count < 0:
            raise ValueError(f"{self.file}: cannot drop {count} lines as {reason!r}")
        if count:
            self.dropped[reason] += count
        if line is not None:
            self.note_line(reason, line)

    def note_line(self, reason: str, line: int) -> None:
        """Remember ``line`` if it is among the first lines dropped for ``reason``."""
        lines = self.first_lines.setdefault(reason, [])
        if len(lines) < FIRST_LINES or line < lines[-1]:
            bisect.insort(lines, line)
            del lines[FIRST_LINES:]

    def wants_lines(self, reason: str) -> bool:
        return len(self.first_lines.get(reason, ())) < FIRST_LINES

    def warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    def warn_if_empty(self) -> None:
        if self.read == 0:
            self.warn(
                f"{self.file}: the dump yielded 0 lines. An empty month is almost always a bad "
                "download or a wrong path: every record of the other dumps that needs this one "
                "(e.g. the comments of an empty submissions month) will be dropped. Check the "
                "file against its published size and sha256 (reddit.sha256)"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "kept": self.kept,
            "dropped": {k: v for k, v in sorted(self.dropped.items()) if v},
            "first_lines": {k: v for k, v in sorted(self.first_lines.items()) if v},
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DropCounts:
        return cls(raw["file"], raw["read"], raw["kept"], Counter(raw["dropped"]),
                   {k: list(v) for k, v in raw.get("first_lines", {}).items()},
                   list(raw.get("warnings", [])))

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
