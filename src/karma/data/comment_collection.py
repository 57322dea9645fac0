"""Stage 2 of the data stage: one job per comments dump keeps the comments of candidate posts.

A month of comments is hundreds of GB, and nearly every line belongs to a post that was not kept.
A compiled loop (``karma.data._linescan``) walks each decompressed block in place, finds every line's
``"link_id": "t3_<id>"`` key (with or without blanks) and returns only the lines that need a JSON
parse: those of candidate posts and those whose link id it cannot read (malformed or oddly spelled
lines, which the parse then classifies). Lines of posts that were not kept are counted as
``post_not_kept`` without being parsed, so a malformed line of such a post is counted there rather
than as ``malformed_json``; the total is exact either way. Memory holds the candidate post ids and
one decompressed block, never the dump.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from karma.data.filters import RedditFilters, unsubstantive_reason
from karma.data.pushshift import (
    Comment,
    DropCounts,
    MalformedRecord,
    iter_regions,
    parse_line,
    scan_progress,
    to_comment,
)
from karma.parquet_io import BatchedParquetWriter, write_json

try:
    from karma.data._linescan import lines_to_parse
except ImportError as missing:
    raise ImportError(
        "karma.data._linescan, the compiled comment scan (src/karma/data/_linescan.c), is not built: run "
        "`make test` or `pip install -e .` in the repository (needs a C compiler and the Python "
        "headers)") from missing

log = logging.getLogger(__name__)

COMMENT_SCHEMA = pa.schema(
    [
        ("comment_id", pa.string()),
        ("post_id", pa.string()),
        ("parent_id", pa.string()),
        ("subreddit", pa.string()),
        ("created_utc", pa.int64()),
        ("score", pa.int64()),
        ("body", pa.string()),
        # Why this reply is not substantive (null when it is); language is judged later, by the
        # thread builder, on the sampled posts' comments only.
        ("unsubstantive_reason", pa.string()),
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
                "unsubstantive_reason": unsubstantive_reason(comment.body, self.filters),
                "source_file": self.source,
            }
        )


def _scan_region(buf: bytes, start: int, end: int, post_ids: set[bytes],
                 sink: _CommentSink) -> None:
    """Parse only the lines the compiled scan returns; the rest belong to posts not kept."""
    n_lines, spans = lines_to_parse(buf, start, end, post_ids)
    sink.counts.read += n_lines
    for line_start, line_end in spans:
        comment = sink.parse(buf[line_start:line_end])
        if comment is None:
            continue
        if comment.link_id.encode() in post_ids:
            sink.keep(comment)
        else:
            sink.counts.drop("post_not_kept")
    sink.counts.drop("post_not_kept", n_lines - len(spans))


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
    progress = scan_progress("comments", dump, counts)
    with BatchedParquetWriter(out_parquet, COMMENT_SCHEMA) as writer:
        sink = _CommentSink(writer, counts, filters, str(dump))
        for buf, start, end in iter_regions(dump, on_read=progress.advance):
            _scan_region(buf, start, end, post_ids, sink)
    progress.finish()
    counts.check()
    write_json(counts.to_dict(), out_counts)
    log.info("%s: kept %d of %d lines; dropped %s", dump, counts.kept, counts.read,
             dict(counts.dropped))
    return counts
