"""Stage 2 of the data stage: one job per comments dump keeps the comments of candidate posts.

A month of comments is hundreds of GB, and nearly every line belongs to a post that was not kept.
The scan therefore counts lines and finds every ``link_id`` with one regular expression over each
decompressed block, in place, and parses (orjson) only the lines of kept posts. A block whose line
count differs from its ``link_id`` count falls back to parsing line by line, so malformed lines are
still classified. Lines of posts that were not kept are counted as ``post_not_kept`` without being
parsed, so a malformed line of such a post is counted there rather than as ``malformed_json``; the
total is exact either way. Memory holds the candidate post ids and one
decompressed block, never the dump.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from karma.parquet_io import BatchedParquetWriter, write_json
from karma.pushshift import (
    Comment,
    DropCounts,
    MalformedRecord,
    ProgressLog,
    iter_regions,
    parse_line,
    to_comment,
)
from karma.reddit_filters import RedditFilters, comment_drop_reason

log = logging.getLogger(__name__)

# Pushshift writes compact JSON; a line spelled otherwise sends its block down the exact path.
LINK_ID = re.compile(rb'"link_id":"t3_([0-9A-Za-z]+)"')

COMMENT_SCHEMA = pa.schema(
    [
        ("comment_id", pa.string()),
        ("post_id", pa.string()),
        ("parent_id", pa.string()),
        ("subreddit", pa.string()),
        ("created_utc", pa.int64()),
        ("score", pa.int64()),
        ("body", pa.string()),
        # Why this comment cannot be an example (it still links its replies to the thread).
        ("unusable_reason", pa.string()),
        ("source_file", pa.string()),
    ]
)


def read_post_ids(post_files: Iterable[str | Path]) -> set[bytes]:
    ids: set[bytes] = set()
    for path in post_files:
        column = pq.read_table(path, columns=["post_id"]).column("post_id")
        ids.update(value.encode() for value in column.to_pylist())
    return ids


class _CommentSink:
    def __init__(self, writer: BatchedParquetWriter, counts: DropCounts,
                 filters: RedditFilters, source: str) -> None:
        self.writer, self.counts, self.filters, self.source = writer, counts, filters, source

    def parse(self, line: bytes) -> Comment | None:
        try:
            return to_comment(parse_line(line))
        except MalformedRecord as bad:
            self.counts.drop(bad.reason)
            return None

    def keep(self, comment: Comment) -> None:
        self.counts.kept += 1
        self.writer.add(
            {
                "comment_id": comment.id,
                "post_id": comment.link_id,
                "parent_id": comment.parent_id,
                "subreddit": comment.subreddit,
                "created_utc": comment.created_utc,
                "score": comment.score,
                "body": comment.body,
                "unusable_reason": comment_drop_reason(comment, self.filters),
                "source_file": self.source,
            }
        )


def _scan_lines(lines: list[bytes], post_ids: set[bytes], sink: _CommentSink) -> None:
    """The exact path: parse every line."""
    for line in lines:
        comment = sink.parse(line)
        if comment is None:
            continue
        if comment.link_id.encode() in post_ids:
            sink.keep(comment)
        else:
            sink.counts.drop("post_not_kept")


def _scan_region(buf: bytes, start: int, end: int, post_ids: set[bytes],
                 sink: _CommentSink) -> None:
    """The fast path: count lines and find link ids in place; parse only kept posts' lines.

    Kept lines are found again in file order with one forward ``find`` each, so the region is
    scanned about once however many kept posts it holds.
    """
    n_lines = buf.count(b"\n", start, end)
    sink.counts.read += n_lines
    link_ids = LINK_ID.findall(buf, start, end)
    if len(link_ids) != n_lines:
        lines = buf[start:end].split(b"\n")
        lines.pop()
        _scan_lines(lines, post_ids, sink)
        return
    kept = [link_id for link_id in link_ids if link_id in post_ids]
    pos = start
    for link_id in kept:
        found = buf.find(b'"link_id":"t3_' + link_id + b'"', pos, end)
        line_start = buf.rfind(b"\n", start, found) + 1 or start
        pos = buf.find(b"\n", found, end)
        _scan_lines([buf[line_start:pos]], post_ids, sink)
    sink.counts.drop("post_not_kept", n_lines - len(kept))


def collect_comments(
    dump: str | Path,
    post_files: Iterable[str | Path],
    out_parquet: str | Path,
    out_counts: str | Path,
    filters: RedditFilters,
) -> DropCounts:
    """Stream one ``RC_`` dump; write the comments of candidate posts and per-reason line counts."""
    post_ids = read_post_ids(post_files)
    log.info("%s: scanning for comments of %d candidate posts", dump, len(post_ids))
    counts = DropCounts(file=str(dump))
    progress = ProgressLog(f"comments {Path(dump).name}")
    nbytes = 0
    with BatchedParquetWriter(out_parquet, COMMENT_SCHEMA) as writer:
        sink = _CommentSink(writer, counts, filters, str(dump))
        for buf, start, end in iter_regions(dump):
            nbytes += end - start
            _scan_region(buf, start, end, post_ids, sink)
            progress.update(counts.read, nbytes)
    progress.update(counts.read, nbytes, final=True)
    counts.check()
    write_json(counts.to_dict(), out_counts)
    log.info("%s: kept %d of %d lines; dropped %s", dump, counts.kept, counts.read,
             dict(counts.dropped))
    return counts
