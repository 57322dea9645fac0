"""Every value a dump line can hold becomes a typed record or a named drop reason, never a crash.

Issue 14, defect 1: a score of "inf" or 1e30, or a created_utc of "1e25", raised OverflowError
(in the parse, or when pyarrow flushed an int64 column) and killed a month's job.
"""

import json
import random

import orjson
import pyarrow as pa
import pytest
from reddit_fixtures import comment, post
from shared_data import SHARED_DATA, needs_shared_data

from karma.data.comment_collection import COMMENT_SCHEMA
from karma.data.post_selection import POST_SCHEMA
from karma.data.records import (
    MalformedRecord,
    parse_line,
    to_comment,
    to_submission,
)

REAL = SHARED_DATA / "reddit_pushshift"


def reason(fn, record) -> str | None:
    try:
        fn(record)
    except MalformedRecord as bad:
        return bad.reason
    return None


@pytest.mark.parametrize("value", [
    "inf", "-inf", "nan", "Infinity", 1e30, -1e30, "1e30", 2**63, -(2**63) - 1, 10**40,
    "9" * 5000,  # int() refuses strings over 4300 digits
    "1" * 30 + ".5", 2.5, "2.5", "12abc", "", " ", "0x10", "1_000", "١٢",  # Arabic-Indic digits
    True, False, [], [1], {}, {"value": 1},
])
def test_bad_scores_are_bad_fields(value):
    assert reason(to_submission, post("a", score=value)) == "bad_field"
    assert reason(to_comment, comment("c", "a", score=value)) == "bad_field"


@pytest.mark.parametrize("value,expected", [
    (12, 12), ("12", 12), (" 12 ", 12), (12.0, 12), ("12.0", 12), ("-3", -3), (-0.0, 0),
    ("-0", 0), ("1.2e1", 12), (2**53, 2**53),
])
def test_scores_of_every_era_are_read(value, expected):
    assert to_submission(post("a", score=value)).score == expected
    assert to_comment(comment("c", "a", score=value)).score == expected


@pytest.mark.parametrize("value", [
    "1e25", 1e25, 0, -1, "-1546300800", 1104537599, 4102444801, "inf", "nan", True,
    "yesterday", "2019-01-01", {}, [1546300800],
])
def test_bad_timestamps_are_bad_fields(value):
    assert reason(to_submission, post("a", created_utc=value)) == "bad_field"
    assert reason(to_comment, comment("c", "a", created_utc=value)) == "bad_field"


@pytest.mark.parametrize("value,expected", [
    (1546300800, 1546300800), ("1546300800", 1546300800), (1546300800.0, 1546300800),
    ("1546300800.0", 1546300800), ("1.5463008e9", 1546300800), (1546300800.75, 1546300800),
])
def test_timestamps_of_every_era_are_read(value, expected):
    assert to_submission(post("a", created_utc=value)).created_utc == expected


@pytest.mark.parametrize("field,value", [
    ("id", "ab/../c"), ("id", "a b"), ("id", "a\x00b"), ("id", ""), ("id", 123), ("id", "x" * 40),
    ("id", "é"), ("subreddit", "a/b"), ("subreddit", ""), ("subreddit", ["AskReddit"]),
    ("title", 42), ("title", {"text": "x"}), ("selftext", ["x"]), ("url", 7),
    ("over_18", "maybe"), ("over_18", 2), ("over_18", {}), ("is_self", "yes"), ("is_self", []),
])
def test_odd_submission_values_are_bad_fields(field, value):
    assert reason(to_submission, post("a", **{field: value})) == "bad_field"


@pytest.mark.parametrize("field,value", [
    ("link_id", "abc"), ("link_id", "t1_abc"), ("link_id", "t3_"), ("link_id", "t3_a/b"),
    ("link_id", 5), ("parent_id", "abc"), ("parent_id", "t2_abc"), ("parent_id", ["t3_a"]),
    ("body", 42), ("body", {"text": "x"}), ("body", ["a"]), ("id", "c 1"),
])
def test_odd_comment_values_are_bad_fields(field, value):
    assert reason(to_comment, comment("c", "a", **{field: value})) == "bad_field"


@pytest.mark.parametrize("field", ["id", "subreddit", "created_utc", "score", "title"])
def test_missing_and_null_required_values_are_missing_fields(field):
    record = post("a")
    record[field] = None
    assert reason(to_submission, record) == "missing_field"
    del record[field]
    assert reason(to_submission, record) == "missing_field"


@pytest.mark.parametrize("value,expected", [
    (True, True), (False, False), ("true", True), ("False", False), (" TRUE ", True), (1, True),
    (0, False), ("1", True), ("0", False), (None, False),
])
def test_booleans_as_words_or_numbers(value, expected):
    assert to_submission(post("a", over_18=value)).over_18 is expected
    assert to_submission(post("a", is_self=value)).is_self is (expected if value is not None
                                                               else True)


def test_dumps_without_nsfw_flags_count_as_not_explicit():
    record = post("a")
    del record["over_18"]
    assert to_submission(record).over_18 is False


@pytest.mark.parametrize("line,expected", [
    (b"\xef\xbb\xbf" + orjson.dumps(post("a")), None),  # a byte-order mark: read
    (orjson.dumps(post("a")) + b"\r", None),  # CRLF line ending: read
    (orjson.dumps(post("a", title="x\u0000y")), None),  # an escaped NUL is text
    (b'{"id": "a", "title": "x\xff"}', "invalid_utf8"),
    (b'{"id": "a", "title": "\\ud800"}', "malformed_json"),  # a lone surrogate
    (b'{"id": "a", "score": NaN}', "malformed_json"),
    (b'{"id": "a", "score": 1e400}', "malformed_json"),
    (b'{"id": "a"\x00}', "malformed_json"),
    (b"[1, 2]", "malformed_json"), (b"null", "malformed_json"), (b'"text"', "malformed_json"),
    (b"   \t", "blank_line"), (b"", "blank_line"),
])
def test_line_level_cases(line, expected):
    got = None
    try:
        to_submission(parse_line(line))
    except MalformedRecord as bad:
        got = bad.reason
    assert got == expected


def test_duplicate_keys_keep_the_last_value_as_json_parsers_do():
    line = orjson.dumps(post("a", score=3))[:-1] + b',"score":"oops","score":7}'
    assert to_submission(parse_line(line)).score == 7


FUZZ_VALUES = [None, True, False, 0, -1, 1, 2**31, 2**63 - 1, 2**64, -(2**63), 1e308, -1e308,
               0.5, -0.0, 1546300800.0, "", " ", "0", "1", "true", "false", "nan", "inf",
               "1e25", "1546300800", "t3_abc", "t1_abc", "abc", "x" * 300, "\u0000", "é🙂",
               [], [1, "a"], {}, {"a": {"b": None}}]
FIELDS = ["id", "subreddit", "created_utc", "score", "title", "selftext", "over_18", "is_self",
          "url", "link_id", "parent_id", "body"]


def test_any_value_in_any_field_is_a_record_that_fits_the_schema_or_a_named_drop():
    """Fuzz: whatever a field holds, the parser returns a record whose values fit the Parquet
    schema (so the flush cannot fail) or raises MalformedRecord; nothing else."""
    rng = random.Random(14)
    kept = dropped = 0
    for _ in range(4000):
        record = {**post("p1"), **comment("c1", "p1")}
        for field in rng.sample(FIELDS, rng.randint(1, 3)):
            record[field] = rng.choice(FUZZ_VALUES)
        line = json.dumps(record).encode()  # orjson cannot write 2**64
        for convert, schema, row in (
            (to_submission, POST_SCHEMA, lambda r: {"post_id": r.id, "subreddit": r.subreddit,
                                                    "created_utc": r.created_utc,
                                                    "score": r.score, "title": r.title,
                                                    "selftext": r.selftext}),
            (to_comment, COMMENT_SCHEMA, lambda r: {"comment_id": r.id, "post_id": r.link_id,
                                                    "parent_id": r.parent_id,
                                                    "created_utc": r.created_utc,
                                                    "score": r.score, "body": r.body}),
        ):
            try:
                parsed = convert(parse_line(line))
            except MalformedRecord:
                dropped += 1
                continue
            kept += 1
            pa.Table.from_pylist([row(parsed)], schema=schema)
    assert kept > 500 and dropped > 500


@needs_shared_data
def test_every_real_dump_line_of_every_era_is_a_valid_record():
    for line in (REAL / "pushshift_importer_test_submissions.ndjson").read_bytes().splitlines():
        to_submission(parse_line(line))
    for line in (REAL / "pushshift_importer_test_comments.ndjson").read_bytes().splitlines():
        to_comment(parse_line(line))
