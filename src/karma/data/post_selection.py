"""Stage 1 of the data stage: one job per submissions dump keeps the posts that pass the filters."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from karma.data.filters import RedditFilters, submission_drop_reason
from karma.data.pushshift import DropCounts, DumpLineError, iter_chunks, scan_progress
from karma.data.records import MalformedRecord, parse_line, to_submission
from karma.file_digest import confirm_verified
from karma.parquet_io import BatchedParquetWriter, write_json
from karma.stable_hash import sample_rank

log = logging.getLogger(__name__)

POST_SCHEMA = pa.schema(
    [
        ("post_id", pa.string()),
        ("subreddit", pa.string()),
        ("created_utc", pa.int64()),
        ("score", pa.int64()),
        ("title", pa.string()),
        ("selftext", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),  # 1-based line number in source_file
    ]
)


class _PostSink:
    def __init__(self, dump: str, writer: BatchedParquetWriter, counts: DropCounts,
                 filters: RedditFilters, seed: int, candidate_fraction: float) -> None:
        self.dump, self.writer, self.counts, self.filters = dump, writer, counts, filters
        self.seed, self.candidate_fraction = seed, candidate_fraction

    def take(self, line: bytes) -> None:
        counts = self.counts
        counts.read += 1
        try:
            self._decide(line, counts.read)
        except MalformedRecord as bad:
            counts.drop(bad.reason, line=counts.read)
        except Exception as err:
            raise DumpLineError(self.dump, counts.read, err) from err

    def _decide(self, line: bytes, number: int) -> None:
        post = to_submission(parse_line(line))
        if (self.candidate_fraction < 1
                and sample_rank(self.seed, post.id) >= self.candidate_fraction):
            self.counts.drop("not_sampled", line=number)
            return
        reason = submission_drop_reason(post, self.filters)
        if reason:
            self.counts.drop(reason, line=number)
            return
        self.counts.kept += 1
        self.writer.add(
            {
                "post_id": post.id,
                "subreddit": post.subreddit,
                "created_utc": post.created_utc,
                "score": post.score,
                "title": post.title,
                "selftext": post.selftext,
                "source_file": self.dump,
                "source_line": number,
            }
        )


def select_posts(
    dump: str | Path,
    out_parquet: str | Path,
    out_counts: str | Path,
    filters: RedditFilters,
    *,
    seed: int = 0,
    candidate_fraction: float = 1.0,
    verified: Sequence[str | Path] = (),
) -> DropCounts:
    """Stream one ``RS_`` dump; write candidate posts and the per-reason line counts.

    Posts outside the seeded ``candidate_fraction`` are dropped as ``not_sampled`` before the
    filters run, so their comments are never collected and their language is never judged.
    ``verified``: the dump's SHA-256 records (rule verify_dump), checked to still fit the file.
    """
    confirm_verified(dump, verified)
    counts = DropCounts(file=str(dump))
    progress = scan_progress("posts", dump, counts)
    with BatchedParquetWriter(out_parquet, POST_SCHEMA) as writer:
        sink = _PostSink(str(dump), writer, counts, filters, seed, candidate_fraction)
        for chunk in iter_chunks(dump, counts.warn, on_read=progress.advance):
            lines = chunk.split(b"\n")
            lines.pop()
            for line in lines:
                sink.take(line)
    progress.finish()
    counts.check()
    counts.warn_if_empty()
    write_json(counts.to_dict(), out_counts)
    log.info("%s: kept %d of %d posts; dropped %s", dump, counts.kept, counts.read,
             dict(counts.dropped))
    return counts
