"""Stage 1 of the data stage: one job per submissions dump keeps the posts that pass the filters."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa

from karma.data.filters import RedditFilters, submission_drop_reason
from karma.data.pushshift import (
    DropCounts,
    MalformedRecord,
    iter_chunks,
    parse_line,
    scan_progress,
    to_submission,
)
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
    ]
)


def select_posts(
    dump: str | Path,
    out_parquet: str | Path,
    out_counts: str | Path,
    filters: RedditFilters,
    *,
    seed: int = 0,
    candidate_fraction: float = 1.0,
) -> DropCounts:
    """Stream one ``RS_`` dump; write candidate posts and the per-reason line counts.

    Posts outside the seeded ``candidate_fraction`` are dropped as ``not_sampled`` before the
    filters run, so their comments are never collected and their language is never judged.
    """
    counts = DropCounts(file=str(dump))
    progress = scan_progress("posts", dump, counts)
    with BatchedParquetWriter(out_parquet, POST_SCHEMA) as writer:
        for chunk in iter_chunks(dump, on_read=progress.advance):
            lines = chunk.split(b"\n")
            lines.pop()
            for line in lines:
                counts.read += 1
                try:
                    post = to_submission(parse_line(line))
                except MalformedRecord as bad:
                    counts.drop(bad.reason)
                    continue
                if candidate_fraction < 1 and sample_rank(seed, post.id) >= candidate_fraction:
                    counts.drop("not_sampled")
                    continue
                reason = submission_drop_reason(post, filters)
                if reason:
                    counts.drop(reason)
                    continue
                counts.kept += 1
                writer.add(
                    {
                        "post_id": post.id,
                        "subreddit": post.subreddit,
                        "created_utc": post.created_utc,
                        "score": post.score,
                        "title": post.title,
                        "selftext": post.selftext,
                        "source_file": str(dump),
                    }
                )
    progress.finish()
    counts.check()
    write_json(counts.to_dict(), out_counts)
    log.info("%s: kept %d of %d posts; dropped %s", dump, counts.kept, counts.read,
             dict(counts.dropped))
    return counts
