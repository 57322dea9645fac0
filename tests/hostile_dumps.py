"""Pushshift dumps carrying every bad line we could think of, beside valid and odd-but-valid ones.

Each line is written with what must become of it: kept (its post or comment must reach the thread
shards) or dropped for a named reason. ``build`` returns, per dump file, the expected drop counts
and line numbers, so a test can check the whole data stage line by line (issue 14).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from reddit_fixtures import comment, post, write_dump

KEEP = "kept"
OVERLONG_BYTES = (64 << 20) + 10  # just over karma.data.pushshift.MAX_LINE_BYTES


@dataclass
class DumpCase:
    """Lines of one dump, each with its expected fate (KEEP or a drop reason)."""

    name: str
    lines: list[bytes] = field(default_factory=list)
    fates: list[str] = field(default_factory=list)

    def add(self, line: dict[str, Any] | bytes, fate: str) -> None:
        self.lines.append(line if isinstance(line, bytes) else orjson.dumps(line))
        self.fates.append(fate)

    def dropped(self) -> dict[str, int]:
        return dict(Counter(f for f in self.fates if f != KEEP))

    def first_lines(self) -> dict[str, list[int]]:
        numbers: dict[str, list[int]] = defaultdict(list)
        for number, fate in enumerate(self.fates, 1):
            if fate != KEEP:
                numbers[fate].append(number)
        return {reason: found[:20] for reason, found in numbers.items()}


def _with(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy with keys replaced; a value of ``...`` removes the key."""
    out = {**record, **changes}
    return {k: v for k, v in out.items() if v is not ...}


def _replies(pid: str) -> list[dict[str, Any]]:
    """Three substantive top-level replies and one reply to a reply: an eligible thread."""
    top = [comment(f"c{pid}x{j}", pid, score=j + 1) for j in range(3)]
    return top + [comment(f"r{pid}", pid, parent=f"t1_c{pid}x0", score=2)]


def _bad_posts() -> list[tuple[dict[str, Any] | bytes, str]]:
    base = post("bad")
    bad = "bad_field"
    cases: list[tuple[dict[str, Any] | bytes, str]] = [
        (_with(base, id="b1", score="inf"), bad), (_with(base, id="b2", score=1e30), bad),
        (_with(base, id="b3", score="nan"), bad), (_with(base, id="b4", score=2**63), bad),
        (_with(base, id="b5", score="9" * 5000), bad), (_with(base, id="b6", score=2.5), bad),
        (_with(base, id="b7", score=True), bad), (_with(base, id="b8", score={"n": 1}), bad),
        (_with(base, id="b9", created_utc="1e25"), bad), (_with(base, id="b10", created_utc=0), bad),
        (_with(base, id="b11", created_utc=-1546300800), bad),
        (_with(base, id="b12", created_utc=5_000_000_000), bad),
        (_with(base, id="b13", created_utc="yesterday"), bad),
        (_with(base, id="b14", created_utc=[1546300800]), bad),
        (_with(base, id="a/../b"), bad), (_with(base, id=123), bad), (_with(base, id="a b"), bad),
        (_with(base, id="x" * 40), bad), (_with(base, id="b15", subreddit=["AskReddit"]), bad),
        (_with(base, id="b16", subreddit="r/x y"), bad), (_with(base, id="b17", title={"t": 1}), bad),
        (_with(base, id="b18", selftext=42), bad), (_with(base, id="b19", over_18="maybe"), bad),
        (_with(base, id="b20", is_self=[]), bad), (_with(base, id="b21", url=7), bad),
        (_with(base, id=...), "missing_field"), (_with(base, id="m2", title=None), "missing_field"),
        (_with(base, id="m3", created_utc=...), "missing_field"),
        (_with(base, id="m4", score=None), "missing_field"),
        (b'{"id": "j1", "title": "cut short', "malformed_json"),
        (b'{"id": "j2", "score": NaN}', "malformed_json"),
        (b'{"id": "j3", "score": 1e400}', "malformed_json"),
        (b'{"id": "j4", "title": "\\ud800"}', "malformed_json"),
        (b'{"id": "j5", "title": "raw \x00 byte"}', "malformed_json"),
        (b'["id", "j6"]', "malformed_json"), (b"null", "malformed_json"),
        (b'{"id": "u1", "title": "caf\xe9"}', "invalid_utf8"),
        (b"", "blank_line"), (b"   \t", "blank_line"), (b"\r", "blank_line"),
        (b'{"id": "long", "title": "' + b"a" * OVERLONG_BYTES + b'"}', "overlong_line"),
        # content drops (not bad lines): they must not be mistaken for bad ones
        (_with(base, id="x18", over_18=True), "over_18"),
        (_with(base, id="x18s", over_18="true"), "over_18"),
        (_with(base, id="link", is_self=False, selftext="", url="https://example.org"),
         "not_text_post"),
    ]
    return cases


def _odd_but_valid_posts() -> list[dict[str, Any] | bytes]:
    """Posts of odd but legitimate spelling: every one must reach the thread shards."""
    base = post("ok")
    no_nsfw_flag = _with(base, id="ov3", over_18=..., created_utc="1.5463008e9", score=-0.0)
    spaced = json.dumps(_with(base, id="ov7"), separators=(", ", ": ")).encode()
    nested = _with(base, id="ov8", media={"oembed": {"html": "<b>x</b>", "link_id": "t3_zzz"}},
                   all_awardings=[{"id": "gid_1", "count": 2}], edited=1546301000.5)
    return [
        _with(base, id="ov1", created_utc="1546300800", score="12", over_18="false",
              is_self="true"),
        _with(base, id="ov2", created_utc=1546300800.0, score=12.0, over_18=0, is_self=1),
        no_nsfw_flag,
        orjson.dumps(_with(base, id="ov4"))[:-1] + b',"score":"oops","score":7}',  # last wins
        spaced,
        nested,
        _with(base, id="ov9", title="Caf\u00e9 question \u2014 about gardening \U0001F33F",
              selftext=base["selftext"] + " \u0000"),
    ]


def _bad_comments(pid: str) -> list[tuple[dict[str, Any] | bytes, str]]:
    """Bad comment lines of a kept post (so the scan hands them to the parse)."""
    base = comment("bc", pid)
    bad = "bad_field"
    return [
        (_with(base, id="bc1", score="inf"), bad), (_with(base, id="bc2", score=1e30), bad),
        (_with(base, id="bc3", created_utc="1e25"), bad),
        (_with(base, id="bc4", link_id=f"t1_{pid}"), bad),
        (_with(base, id="bc5", link_id=pid), bad),  # no t3_ prefix
        (_with(base, id="bc6", parent_id="t2_x"), bad), (_with(base, id="bc7", body=42), bad),
        (_with(base, id="bc8", body={"text": "x"}), bad), (_with(base, id="../x"), bad),
        (_with(base, id=7), bad), (_with(base, id="bc9", subreddit=["x"]), bad),
        (_with(base, id="bm1", body=None), "missing_field"),
        (_with(base, id="bm2", parent_id=...), "missing_field"),
        (b'{"id": "bj1", "link_id": "t3_' + pid.encode() + b'", "body": "cut', "malformed_json"),
        (b'{"id": "bu1", "link_id": "t3_' + pid.encode() + b'", "body": "\xff"}', "invalid_utf8"),
        (b"", "blank_line"),
        (comment("orphan", pid, parent="t1_nothere"), "missing_parent"),
        (comment("selfie", pid, parent="t1_selfie"), "missing_parent"),
        (comment("loopa", pid, parent="t1_loopb"), "missing_parent"),
        (comment("loopb", pid, parent="t1_loopa"), "missing_parent"),
    ]


def _ambiguous_but_valid_comments(pid: str, other: str) -> list[bytes]:
    """Valid comments that a byte search could misread (issue 14, defect 3): all must be kept."""
    nested = orjson.dumps({"media": {"link_id": "t3_zzz"}, **comment("amb1", pid)})
    plain = {k: v for k, v in comment("amb2", pid).items() if k != "link_id"}
    escaped = orjson.dumps({"media": {"link_id": "t3_zzz"}, **plain})[:-1] + (
        b',"link\\u005fid":"t3_' + pid.encode() + b'"}')
    duplicate = orjson.dumps(comment("amb3", other))[:-1] + (
        b',"link_id":"t3_zzz","link_id":"t3_' + other.encode() + b'"}')
    spaced = json.dumps(comment("amb4", pid), separators=(", ", ": ")).encode()
    odd_types = orjson.dumps(comment("amb5", pid, score="5", created_utc=1546304400.0))
    quoted = orjson.dumps(comment("amb6", pid, body='He said "link_id": "t3_zzz", really.'))
    return [nested, escaped, duplicate, spaced, odd_types, quoted]


@dataclass
class HostileDumps:
    submissions: list[Path]
    comments: list[Path]
    cases: dict[str, DumpCase]  # by file name
    kept_posts: set[str]
    kept_comments: set[str]


def build(root: Path) -> HostileDumps:
    root.mkdir(parents=True, exist_ok=True)
    valid = [f"v{i}" for i in range(4)]
    odd = _odd_but_valid_posts()
    odd_ids = [orjson.loads(line if isinstance(line, bytes) else orjson.dumps(line))["id"]
               for line in odd]

    rs1 = DumpCase("RS_2019-01.zst")
    for pid in valid[:3]:
        rs1.add(post(pid, subreddit=f"sub{pid}"), KEEP)
    for line in odd:
        rs1.add(line, KEEP)
    for line, fate in _bad_posts():
        rs1.add(line, fate)
    rs1.add(post("v0"), "duplicate")  # the same post twice within one file

    rs2 = DumpCase("RS_2019-02.ndjson")  # a plain file with a byte-order mark and CRLF lines
    rs2.add(post(valid[3]), KEEP)
    rs2.add(post("v1"), "duplicate")  # across files
    rs2.add(post("lonely"), "too_few_responses")
    rs2.lines[0] = b"\xef\xbb\xbf" + rs2.lines[0]
    rs2.lines = [line + b"\r" for line in rs2.lines]

    rs3 = DumpCase("RS_2019-03.zst")  # an empty month: one valid, empty zstd frame

    rc1 = DumpCase("RC_2019-01.zst")  # written without frame checksums
    rc2 = DumpCase("RC_2019-02.jsonl")
    kept_comments: set[str] = set()
    for index, pid in enumerate(valid + odd_ids):
        case = rc1 if index % 3 else rc2
        for record in _replies(pid):
            case.add(record, KEEP)
            kept_comments.add(record["id"])
    rc2.add(comment("lonelyreply", "lonely"), "post_too_few_responses")
    for line, fate in _bad_comments("v0"):
        rc1.add(line, fate)
    for line in _ambiguous_but_valid_comments("v1", "v2"):
        rc1.add(line, KEEP)
        kept_comments.add(orjson.loads(line)["id"])
    rc1.add(comment("cv1x0", "v1"), "duplicate")  # within one file (v1's replies are in rc1)
    rc2.add(comment("cv2x1", "v2"), "duplicate")  # across files: the rc1 copy is read first
    for pid in ("nopost", "b1", "x18", "zzz"):
        rc1.add(comment(f"n{pid}", pid), "post_not_kept")
    rc1.add(b'{"id": "garbage", "body": "no link at all"', "malformed_json")
    rc2.lines[0] = b"\xef\xbb\xbf" + rc2.lines[0]

    write_dump(root / rs1.name, rs1.lines)
    write_dump(root / rs2.name, rs2.lines, compress=False)
    write_dump(root / rs3.name, [])
    write_dump(root / rc1.name, rc1.lines, checksum=False)
    write_dump(root / rc2.name, rc2.lines, compress=False)
    cases = {c.name: c for c in (rs1, rs2, rs3, rc1, rc2)}
    return HostileDumps(
        submissions=[root / c.name for c in (rs1, rs2, rs3)],
        comments=[root / c.name for c in (rc1, rc2)],
        cases=cases,
        kept_posts=set(valid + odd_ids),
        kept_comments=kept_comments,
    )


def real_dumps(root: Path, shared: Path) -> tuple[Path, Path, Path]:
    """The real Pushshift lines of 2005-2024, plus a stand-in post for each real comment's post
    so that the comment scan hands every real comment to the parse."""
    submissions = (shared / "pushshift_importer_test_submissions.ndjson").read_bytes()
    comments = (shared / "pushshift_importer_test_comments.ndjson").read_bytes()
    stand_ins = sorted({orjson.loads(line)["link_id"][3:] for line in comments.splitlines()})
    rs = write_dump(root / "RS_2020-01.ndjson", submissions.splitlines(), compress=False)
    rs_posts = write_dump(root / "RS_2020-02.zst", [post(pid) for pid in stand_ins])
    rc = write_dump(root / "RC_2020-01.zst", comments.splitlines())
    return rs, rs_posts, rc
