"""The demo's Pushshift-format writer: planted threads as NDJSON dump lines of their eras, zstd-framed.

Dump lines are written the way each era's dumps wrote them (key order, escaping, ``created_utc``
type), with a few unusable lines planted, and compressed with a 2 GiB window like the real files.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from karma.demo.corpus import (
    Node,
    PlantedComment,
    PlantedPost,
    base36,
    build_post,
    check_months,
    month_bounds,
    month_of,
    planted_comment,
    sub_rng,
    thread_nodes,
)
from karma.demo.schema_eras import (
    COMMENT_KEYS,
    COMMENT_OPTIONAL,
    SUBMISSION_KEYS,
    SUBMISSION_OPTIONAL,
    Era,
    json_default,
)
from karma.demo.vocabulary import GARBAGE_LINES

logger = logging.getLogger(__name__)

MALFORMED_LINE_RATE = 0.002
ZSTD_WINDOW_LOG = 31  # real dumps declare a 2 GiB window; readers must allow it

SUBMISSION_REQUIRED = ("id", "title", "created_utc", "subreddit", "score")
COMMENT_REQUIRED = ("id", "link_id", "parent_id", "body", "created_utc", "score", "subreddit")


@dataclass(frozen=True)
class DemoCorpus:
    """All dump files of one demo corpus, uncompressed, with the ground truth behind them.

    ``bad_lines`` maps a file name to the lines planted to be unusable (malformed JSON, JSON that is
    not an object, a record missing a required key); every other line is a valid record.
    """

    ndjson: dict[str, bytes]
    bad_lines: dict[str, tuple[str, ...]]
    posts: tuple[PlantedPost, ...]
    comments: tuple[PlantedComment, ...]


POST_ID_START = int("ab0000", 36)
COMMENT_ID_START = int("ed00000", 36)


def _subreddit_id(name: str) -> str:
    return "t5_" + base36(int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big"))


def _slug(title: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", title.lower()))[:50] or "post"


def _typed_created(created: int, era: Era) -> Any:
    return {"2012": str(created), "2019": created, "2023": float(created)}[era]


def _common_values(node: Node) -> dict[str, Any]:
    assert node.post is not None
    sub = node.post.subreddit
    return {
        "author": node.author,
        "author_fullname": "t2_" + base36(int.from_bytes(
            hashlib.sha256(node.author.encode()).digest()[:5], "big")),
        "author_created_utc": node.created - 86400 * 400,
        "created_utc": _typed_created(node.created, node.era),
        "created": node.created + 28800 if node.era == "2012" else float(node.created),
        "retrieved_on": node.created + 86400 * 60,
        "updated_on": node.created + 30,
        "_meta": {"retrieved_2nd_on": node.created + 86400 * 2},
        "score": node.score,
        "ups": node.score,
        "subreddit": sub,
        "subreddit_id": _subreddit_id(sub),
        "subreddit_name_prefixed": f"r/{sub}",
    }


def _submission_record(post: Node, n_comments: int) -> dict[str, Any]:
    values = _common_values(post)
    self_post = post.flag != "link"
    url = (f"https://www.reddit.com/r/{post.subreddit}/comments/{post.id}/{_slug(post.title)}/"
           if self_post else post.url)
    values.update({
        "id": post.id, "name": f"t3_{post.id}", "title": post.title, "selftext": post.text,
        "is_self": self_post, "over_18": post.flag == "over_18", "url": url,
        "domain": f"self.{post.subreddit}" if self_post else url.split("/")[2],
        "num_comments": n_comments,
        "permalink": f"/r/{post.subreddit}/comments/{post.id}/{_slug(post.title)}/",
        "thumbnail": "nsfw" if post.flag == "over_18" else ("self" if self_post else "default"),
        "subreddit_subscribers": 10_000 + int(_subreddit_id(post.subreddit)[3:], 36) % 90_000,
        "upvote_ratio": 0.97 if post.score > 0 else 0.45,
        "url_overridden_by_dest": url,
    })
    keys = SUBMISSION_KEYS[post.era] + tuple(
        k for k in SUBMISSION_OPTIONAL[post.era] if k in post.optional_keys)
    return {key: values[key] if key in values else json_default(key) for key in keys}


def _comment_record(node: Node) -> dict[str, Any]:
    assert node.post is not None and node.parent is not None
    post = node.post
    values = _common_values(node)
    parent = node.parent
    values.update({
        "id": node.id, "name": f"t1_{node.id}", "body": node.text,
        "link_id": f"t3_{post.id}",
        "parent_id": f"t3_{post.id}" if parent is post else f"t1_{parent.id}",
        "is_submitter": node.author == post.author and node.author != "[deleted]",
        "permalink": f"/r/{post.subreddit}/comments/{post.id}/{_slug(post.title)}/{node.id}/",
    })
    keys = COMMENT_KEYS[node.era] + tuple(
        k for k in COMMENT_OPTIONAL[node.era] if k in node.optional_keys)
    return {key: values[key] if key in values else json_default(key) for key in keys}


def _dump_line(record: dict[str, Any], era: Era) -> str:
    """One NDJSON line the way that era's dumps wrote it (key order, escaping, compact)."""
    if era == "2012":
        return json.dumps(record, separators=(",", ":"), ensure_ascii=True)
    if era == "2019":
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
        return line.replace("/", "\\/")
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _plant_bad_lines(lines: list[tuple[str, Era, dict[str, Any]]], required: tuple[str, ...],
                     rng: random.Random, next_id: Callable[[], str]) -> tuple[list[str], list[str]]:
    """Insert malformed lines (~0.2%, at least one) and one record missing a required key."""
    out = [line for line, _, _ in lines]
    bad: list[str] = []
    if not lines:
        return out, bad
    n_malformed = max(1, round(MALFORMED_LINE_RATE * len(lines)))
    for k in range(n_malformed):
        if k % 2 == 0:
            source = rng.choice(lines)[0]
            broken = source[: rng.randrange(len(source) // 3, len(source) - 1)]
        else:
            broken = rng.choice(GARBAGE_LINES)
        bad.append(broken)
    _, era, record = rng.choice(lines)
    missing = dict(record, id=next_id())
    if "name" in missing:
        missing["name"] = missing["name"][:3] + missing["id"]
    del missing[required[1 + rng.randrange(len(required) - 1)]]  # never drop the id itself
    bad.append(_dump_line(missing, era))
    for line in bad:
        out.insert(rng.randrange(len(out) + 1), line)
    return out, bad


def build_demo_corpus(*, seed: int, n_posts: int, months: Sequence[str]) -> DemoCorpus:
    """Generate the demo dumps in memory (uncompressed) together with their planted ground truth."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(n_posts, int) or n_posts < 1:
        raise ValueError(f"n_posts must be a positive int, got {n_posts!r}")
    months = check_months(months)
    corpus_end = month_bounds(months[-1])[1]
    posts = [build_post(i, seed, months[i * len(months) // n_posts], corpus_end)
             for i in range(n_posts)]
    comments = [node for post in posts for node in thread_nodes(post)]
    for rank, post in enumerate(sorted(posts, key=lambda n: (n.created, n.key))):
        post.id = base36(POST_ID_START + rank)
    for rank, node in enumerate(sorted(comments, key=lambda n: (n.created, n.key))):
        node.id = base36(COMMENT_ID_START + rank)
    counters = {"post": POST_ID_START + len(posts), "comment": COMMENT_ID_START + len(comments)}

    def fresh_id(kind: str) -> Callable[[], str]:
        def make() -> str:
            counters[kind] += 1
            return base36(counters[kind])
        return make

    by_file: dict[str, list[tuple[str, Era, dict[str, Any], tuple[int, tuple[int, int]]]]] = {}
    for post in posts:
        record = _submission_record(post, len(thread_nodes(post)))
        name = f"RS_{month_of(post.created, months)}"
        by_file.setdefault(name, []).append(
            (_dump_line(record, post.era), post.era, record, (post.created, post.key)))
    for node in comments:
        record = _comment_record(node)
        name = f"RC_{month_of(node.created, months)}"
        by_file.setdefault(name, []).append(
            (_dump_line(record, node.era), node.era, record, (node.created, node.key)))

    ndjson: dict[str, bytes] = {}
    bad_lines: dict[str, tuple[str, ...]] = {}
    for month in months:
        for prefix, required, kind in (("RS", SUBMISSION_REQUIRED, "post"),
                                       ("RC", COMMENT_REQUIRED, "comment")):
            name = f"{prefix}_{month}"
            rows = sorted(by_file.get(name, []), key=lambda row: row[3])
            lines, bad = _plant_bad_lines([(line, era, rec) for line, era, rec, _ in rows],
                                          required, sub_rng(seed, f"bad:{name}"), fresh_id(kind))
            ndjson[name] = "".join(line + "\n" for line in lines).encode("utf-8")
            bad_lines[name] = tuple(bad)

    planted_posts = tuple(
        PlantedPost(id=p.id, month=month_of(p.created, months), topic=p.topic, tone=p.tone,
                    subreddit=p.subreddit, flag=p.flag, score=p.score,
                    n_comments=len(thread_nodes(p)))
        for p in posts)
    planted_comments = tuple(planted_comment(c, months) for c in comments)
    return DemoCorpus(ndjson=ndjson, bad_lines=bad_lines, posts=planted_posts,
                      comments=planted_comments)



def _compress(payload: bytes) -> bytes:
    # With a content checksum, as the zstd command line writes by default: a flipped bit fails.
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=ZSTD_WINDOW_LOG,
                                                             write_checksum=True)
    buffer = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(
            buffer, closefd=False) as writer:
        writer.write(payload)
    return buffer.getvalue()


def write_demo_pushshift(out_dir: Path, *, seed: int, n_posts: int,
                         months: Sequence[str]) -> list[Path]:
    """Write ``RS_<month>.zst`` and ``RC_<month>.zst`` for each month; returns them in that order.

    The files are zstd frames that declare a 2 GiB window like the real dumps, so a reader needs
    ``ZstdDecompressor(max_window_size=2**31)``.
    """
    began = time.perf_counter()
    corpus = build_demo_corpus(seed=seed, n_posts=n_posts, months=months)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, payload in corpus.ndjson.items():
        path = out_dir / f"{name}.zst"
        path.write_bytes(_compress(payload))
        paths.append(path)
        logger.info("wrote %s: %d lines (%d planted unusable)", path, payload.count(b"\n"),
                    len(corpus.bad_lines[name]))
    logger.info("demo pushshift: %d posts, %d comments in %.2f s", len(corpus.posts),
                len(corpus.comments), time.perf_counter() - began)
    return paths


