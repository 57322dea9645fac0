"""Stage 3 of the data stage: eligible posts, deterministic sampling, threads, shards, manifest.

Reads the per-dump outputs of post selection and comment collection. Memory holds the candidate
posts' ids and response counts, then only the sampled posts' threads. Every line of every dump ends
in the manifest either as kept or under one drop reason.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from karma.data.filters import RedditFilters, comment_drop_reason
from karma.data.pushshift import DropCounts, DumpLineError
from karma.parquet_io import write_json
from karma.stable_hash import sample_rank, shard_of

log = logging.getLogger(__name__)

# Parents walked up from a comment before giving up (the walk is per comment: quadratic in depth).
MAX_CHAIN = 10_000
THREAD_SCHEMA = pa.schema(
    [
        ("comment_id", pa.string()),
        ("post_id", pa.string()),
        ("subreddit", pa.string()),
        ("post_created_utc", pa.int64()),
        ("created_utc", pa.int64()),
        ("score", pa.int64()),
        ("parent_score", pa.int64()),
        ("parent_id", pa.string()),
        ("depth", pa.int32()),
        ("title", pa.string()),
        ("selftext", pa.string()),
        ("parents", pa.list_(pa.string())),
        ("siblings", pa.list_(pa.string())),
        ("body", pa.string()),
    ]
)


@dataclass(frozen=True)
class ThreadOptions:
    max_posts: int | None
    n_shards: int
    seed: int
    max_parents: int
    max_siblings: int
    candidate_fraction: float = 1.0


def _read(files: Sequence[str | Path], columns: list[str] | None = None,
          keep_posts: set[str] | None = None) -> pa.Table:
    tables = []
    for path in files:
        table = pq.read_table(path, columns=columns)
        if keep_posts is not None:
            table = table.filter(pc.is_in(table["post_id"], pa.array(sorted(keep_posts))))
        tables.append(table)
    return pa.concat_tables(tables) if tables else pa.table({})


def _first_seen(ids: list[str]) -> list[bool]:
    seen: set[str] = set()
    first = []
    for value in ids:
        first.append(value not in seen)
        seen.add(value)
    return first


class _Ledger:
    """Final fate of the records that stage 1 and 2 kept, by source file."""

    def __init__(self, count_files: Sequence[str | Path]) -> None:
        self.counts: dict[str, DropCounts] = {}
        for path in count_files:
            counts = DropCounts.from_dict(json.loads(Path(path).read_text()))
            counts.kept = 0  # re-decided below, record by record
            self.counts[counts.file] = counts

    def keep(self, source: str) -> None:
        self.counts[source].kept += 1

    def drop(self, record: dict[str, Any], reason: str) -> None:
        self.counts[record["source_file"]].drop(reason, line=record["source_line"])

    def warnings(self) -> list[str]:
        return [w for counts in self.counts.values() for w in counts.warnings]

    def finish(self) -> list[dict[str, Any]]:
        for counts in self.counts.values():
            counts.check()
        return [counts.to_dict() for counts in self.counts.values()]


def _eligible_posts(posts: pa.Table, comment_files: Sequence[str | Path],
                    ledger: _Ledger, filters: RedditFilters) -> dict[str, dict[str, Any]]:
    """Unique candidate posts with at least ``min_responses`` usable top-level replies."""
    rows = posts.to_pylist()
    first = _first_seen([row["post_id"] for row in rows])
    unique: dict[str, dict[str, Any]] = {}
    for row, is_first in zip(rows, first):
        if is_first:
            unique[row["post_id"]] = row
        else:
            ledger.drop(row, "duplicate")
    responses: Counter[str] = Counter()
    seen_comments: set[str] = set()
    for path in comment_files:
        table = pq.read_table(path, columns=["comment_id", "post_id", "parent_id",
                                             "unsubstantive_reason"])
        for cid, post_id, parent_id, reason in zip(*(table[c].to_pylist() for c in table.column_names)):
            if cid in seen_comments:
                continue
            seen_comments.add(cid)
            if reason is None and parent_id == f"t3_{post_id}":
                responses[post_id] += 1
    eligible = {}
    for post_id, row in unique.items():
        if responses[post_id] >= filters.min_responses:
            eligible[post_id] = row
        else:
            ledger.drop(row, "too_few_responses")
    return eligible


def _check_enough_candidates(n_eligible: int, options: ThreadOptions) -> None:
    """Pre-sampled candidates give the exact sample only while max_posts eligible posts remain."""
    if (options.candidate_fraction < 1 and options.max_posts is not None
            and n_eligible < options.max_posts):
        raise ValueError(
            f"only {n_eligible} eligible posts among the candidates admitted by "
            f"reddit.candidate_fraction={options.candidate_fraction}, fewer than "
            f"reddit.max_posts={options.max_posts}: raise reddit.candidate_fraction (about "
            f"{min(1.0, options.candidate_fraction * options.max_posts / max(n_eligible, 1)):.2g}"
            " would do) and rerun; the posts eligible now stay in the sample")


def _sample(eligible: dict[str, dict[str, Any]], options: ThreadOptions,
            ledger: _Ledger) -> dict[str, dict[str, Any]]:
    ranked = sorted(eligible, key=lambda pid: (sample_rank(options.seed, pid), pid))
    limit = len(ranked) if options.max_posts is None else options.max_posts
    for post_id in ranked[limit:]:
        ledger.drop(eligible[post_id], "not_sampled")
    sampled = {pid: eligible[pid] for pid in ranked[:limit]}
    for row in sampled.values():
        ledger.keep(row["source_file"])
    return sampled


def _parent_chain(comment: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The comment's parent comments, oldest first (the direct parent is last).

    The walk stops at a parent that is not in the dumps, at a cycle (ids pointing at each other,
    or at themselves) and after MAX_CHAIN parents (chains of counting threads run to millions);
    the caller then finds no post at the top and drops the comment.
    """
    chain: list[dict[str, Any]] = []
    seen = {comment["comment_id"]}
    parent_id = comment["parent_id"]
    while parent_id.startswith("t1_"):
        parent = by_id.get(parent_id[3:])
        if parent is None or parent["comment_id"] in seen or len(chain) > MAX_CHAIN:
            break
        seen.add(parent["comment_id"])
        chain.append(parent)
        parent_id = parent["parent_id"]
    chain.reverse()
    return chain


def _thread_rows(sampled: dict[str, dict[str, Any]], comments: list[dict[str, Any]],
                 filters: RedditFilters, options: ThreadOptions,
                 ledger: _Ledger) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for comment in comments:
        if comment["comment_id"] in by_id:
            ledger.drop(comment, "duplicate")
        else:
            by_id[comment["comment_id"]] = comment
    unusable = {}
    for cid, comment in by_id.items():
        try:
            unusable[cid] = comment_drop_reason(comment["body"], filters)
        except Exception as err:
            raise DumpLineError(comment["source_file"], comment["source_line"], err) from err
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for comment in by_id.values():
        if unusable[comment["comment_id"]] is None:
            children[comment["parent_id"]].append(comment)
    for siblings in children.values():
        siblings.sort(key=lambda c: (c["created_utc"], c["comment_id"]))

    rows = []
    for comment in by_id.values():
        if unusable[comment["comment_id"]] is not None:
            ledger.drop(comment, unusable[comment["comment_id"]])
            continue
        post = sampled[comment["post_id"]]
        chain = _parent_chain(comment, by_id)
        top = chain[0]["parent_id"] if chain else comment["parent_id"]
        if top != f"t3_{post['post_id']}":
            ledger.drop(comment, "missing_parent")
            continue
        siblings = [s["body"] for s in children[comment["parent_id"]]
                    if s["comment_id"] != comment["comment_id"]]
        ledger.keep(comment["source_file"])
        rows.append(
            {
                "comment_id": comment["comment_id"],
                "post_id": post["post_id"],
                "subreddit": post["subreddit"],
                "post_created_utc": post["created_utc"],
                "created_utc": comment["created_utc"],
                "score": comment["score"],
                "parent_score": chain[-1]["score"] if chain else post["score"],
                "parent_id": comment["parent_id"],
                "depth": len(chain),
                "title": post["title"],
                "selftext": post["selftext"],
                "parents": [p["body"] for p in chain[-options.max_parents:]]
                if options.max_parents else [],
                "siblings": siblings[: options.max_siblings],
                "body": comment["body"],
            }
        )
    return rows


def build_threads(
    post_files: Sequence[str | Path],
    post_counts: Sequence[str | Path],
    comment_files: Sequence[str | Path],
    comment_counts: Sequence[str | Path],
    shard_paths: Sequence[str | Path],
    manifest_path: str | Path,
    filters: RedditFilters,
    options: ThreadOptions,
) -> dict[str, Any]:
    if len(shard_paths) != options.n_shards:
        raise ValueError(f"{len(shard_paths)} shard paths for reddit.shards={options.n_shards}")
    post_ledger = _Ledger(post_counts)
    comment_ledger = _Ledger(comment_counts)
    posts = _read(post_files)
    eligible = _eligible_posts(posts, comment_files, post_ledger, filters)
    _check_enough_candidates(len(eligible), options)
    sampled = _sample(eligible, options, post_ledger)
    log.info("%d candidate posts, %d eligible, %d sampled", posts.num_rows, len(eligible),
             len(sampled))

    comments = _read(comment_files).to_pylist()
    fates = {pid: "kept" for pid in sampled}
    fates.update({pid: "post_not_sampled" for pid in eligible if pid not in sampled})
    in_sampled = []
    for comment in comments:
        fate = fates.get(comment["post_id"], "post_too_few_responses")
        if fate == "kept":
            in_sampled.append(comment)
        else:
            comment_ledger.drop(comment, fate)
    rows = _thread_rows(sampled, in_sampled, filters, options, comment_ledger)

    by_shard: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_shard[shard_of(row["post_id"], options.n_shards)].append(row)
    for index, path in enumerate(shard_paths):
        shard = sorted(by_shard[index], key=lambda r: (r["post_id"], r["comment_id"]))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(shard, schema=THREAD_SCHEMA), path,
                       compression="zstd")

    warnings = post_ledger.warnings() + comment_ledger.warnings()
    if not rows:
        warnings.append(
            f"the data stage produced no thread row ({posts.num_rows} candidate posts, "
            f"{len(eligible)} eligible, {len(sampled)} sampled): check the dumps and the filters "
            "before training on it")
    for warning in warnings:
        log.warning("%s", warning)
    manifest = {
        "warnings": warnings,
        "submissions": post_ledger.finish(),
        "comments": comment_ledger.finish(),
        "totals": {
            "posts": len(sampled),
            "comments": len(rows),
            "subreddits": len({row["subreddit"] for row in sampled.values()}),
            "shards": options.n_shards,
        },
    }
    write_json(manifest, manifest_path)
    log.info("threads: %s", manifest["totals"])
    return manifest
