"""Stage 2 of the data stage: one job per comments dump keeps the comments of candidate posts.

A month of comments is hundreds of GB, and nearly every line belongs to a post that was not kept.
A compiled loop (``karma.data._linescan``; :mod:`karma.data.link_id_scan` runs the same rule in Python
where it is not built) walks each decompressed block in place, finds every line's
``"link_id": "t3_<id>"`` key (with or without blanks) and returns only the lines that need a JSON
parse: those of candidate posts and every line whose link id a byte search cannot read with
certainty (two ``link_id`` keys, a nested object, escapes, malformed or oddly spelled lines),
which the parse then classifies. The keep decision is always the one a full parse would make.
Lines of posts that were not kept are counted as ``post_not_kept`` without being parsed, so a
malformed line of such a post is counted there rather than as ``malformed_json``; the total is
exact either way. Memory holds the candidate post ids and one decompressed block, never the dump.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from karma.data.filters import RedditFilters, unsubstantive_reason
from karma.data.link_id_scan import LinesToParse, choose_lines_to_parse
from karma.data.pushshift import DropCounts, DumpLineError, iter_regions, scan_progress
from karma.data.records import Comment, MalformedRecord, parse_line, to_comment
from karma.file_digest import confirm_verified
from karma.parquet_io import BatchedParquetWriter, write_json

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
        ("source_line", pa.int64()),  # 1-based line number in source_file
    ]
)
NOT_KEPT = "post_not_kept"


@functools.cache
def _scan_with_one_warning() -> LinesToParse:
    """The line scan; the first call in a process logs once that it is the slower Python one."""
    lines_to_parse, fallback_warning = choose_lines_to_parse()
    if fallback_warning:
        log.warning(fallback_warning)
    return lines_to_parse


def read_post_ids(post_files: Iterable[str | Path]) -> set[bytes]:
    ids: set[bytes] = set()
    for path in post_files:
        column = pq.read_table(path, columns=["post_id"]).column("post_id")
        ids.update(value.encode() for value in column.to_pylist())
    return ids


class _CommentSink:
    def __init__(self, writer: BatchedParquetWriter, counts: DropCounts, post_ids: set[bytes],
                 filters: RedditFilters, source: str, lines_to_parse: LinesToParse) -> None:
        self.writer, self.counts, self.post_ids = writer, counts, post_ids
        self.filters, self.source, self.lines_to_parse = filters, source, lines_to_parse

    def take(self, line: bytes, number: int) -> None:
        """Parse one line the scan could not settle, and keep or drop it."""
        try:
            comment = to_comment(parse_line(line))
            if comment.link_id.encode() in self.post_ids:
                self._keep(comment, number)
            else:
                self.counts.drop(NOT_KEPT, line=number)
        except MalformedRecord as bad:
            self.counts.drop(bad.reason, line=number)
        except Exception as err:
            raise DumpLineError(self.source, number, err) from err

    def _keep(self, comment: Comment, number: int) -> None:
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
                "source_line": number,
            }
        )


def _note_skipped_lines(buf: bytes, start: int, end: int, parsed: set[int], first: int,
                        counts: DropCounts) -> None:
    """Line numbers of the first lines the scan counted as not kept (it returns no numbers)."""
    position, index = start, 0
    while position < end and counts.wants_lines(NOT_KEPT):
        if index not in parsed:
            counts.note_line(NOT_KEPT, first + index)
        newline = buf.find(b"\n", position, end)
        if newline < 0:
            break
        position, index = newline + 1, index + 1


def _scan_region(buf: bytes, start: int, end: int, sink: _CommentSink) -> None:
    """Parse only the lines the scan returns; the rest belong to posts not kept."""
    counts = sink.counts
    n_lines, spans = sink.lines_to_parse(buf, start, end, sink.post_ids)
    first = counts.read + 1  # the number of the region's first line
    counts.read += n_lines
    for line_start, line_end, index in spans:
        sink.take(buf[line_start:line_end], first + index)
    skipped = n_lines - len(spans)
    counts.drop(NOT_KEPT, skipped)
    if skipped and counts.wants_lines(NOT_KEPT):
        _note_skipped_lines(buf, start, end, {index for _, _, index in spans}, first, counts)


def collect_comments(
    dump: str | Path,
    post_files: Iterable[str | Path],
    out_parquet: str | Path,
    out_counts: str | Path,
    filters: RedditFilters,
    *,
    verified: Sequence[str | Path] = (),
) -> DropCounts:
    """Stream one ``RC_`` dump; write the comments of candidate posts and per-reason line counts.

    ``verified``: the dump's SHA-256 records (rule verify_dump), checked to still fit the file.
    """
    confirm_verified(dump, verified)
    post_ids = read_post_ids(post_files)
    lines_to_parse = _scan_with_one_warning()
    log.info("%s: scanning for comments of %d candidate posts", dump, len(post_ids))
    counts = DropCounts(file=str(dump))
    progress = scan_progress("comments", dump, counts)
    with BatchedParquetWriter(out_parquet, COMMENT_SCHEMA) as writer:
        sink = _CommentSink(writer, counts, post_ids, filters, str(dump), lines_to_parse)
        for buf, start, end in iter_regions(dump, counts.warn, on_read=progress.advance):
            _scan_region(buf, start, end, sink)
    progress.finish()
    counts.check()
    counts.warn_if_empty()
    write_json(counts.to_dict(), out_counts)
    log.info("%s: kept %d of %d lines; dropped %s", dump, counts.kept, counts.read,
             dict(counts.dropped))
    return counts
