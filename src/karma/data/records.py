"""One Pushshift dump line -> one typed record, or a named drop reason: never a crash.

A dump line can hold anything: JSON that is not an object, numbers as strings, floats, exponents
or values beyond int64, booleans as strings or 0/1, nested objects where text belongs, ids with
odd characters. Each field is checked against the type of the column it becomes; a value outside
it is a counted ``bad_field`` (a missing required value is ``missing_field``), so no bad value
reaches pyarrow, where it would stop the whole month's job at flush time. Duplicate keys keep
their last value, as every mainstream JSON parser does (orjson, Python's json).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

UTF8_BOM = b"\xef\xbb\xbf"
# Placeholder the dump reader puts where a line exceeded its length limit (a raw NUL byte cannot
# start JSON, so no real line looks like it).
OVERLONG_LINE = b"\x00karma:overlong-line"

# created_utc: Reddit opened in June 2005; 2100-01-01 bounds the future. Zero, negative and
# far-future stamps are placeholders or corruption, not times.
MIN_CREATED_UTC = 1_104_537_600  # 2005-01-01T00:00:00Z
MAX_CREATED_UTC = 4_102_444_800  # 2100-01-01T00:00:00Z
# Scores fit int64 and stay exact as float64 (labels compare score with ratio * parent score).
MAX_ABS_SCORE = 2**53
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"-?[0-9]+")
_MAX_NUMBER_CHARS = 40
# Reddit ids are base-36 (letters and digits; '_' is let through for hand-made data); subreddit
# names are letters, digits, '_' (and '-', '.' in user profiles and the 2005-2011 "reddit.com"
# subreddit). Anything else (slashes, blanks, control characters) is a bad_field.
_ID = re.compile(r"[0-9A-Za-z_]{1,32}")
_SUBREDDIT = re.compile(r"[0-9A-Za-z_.\-]{1,64}")
_TRUE_STRINGS = frozenset({"true", "1"})
_FALSE_STRINGS = frozenset({"false", "0"})


class MalformedRecord(ValueError):
    """A line that is not a usable record; ``reason`` is its drop reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def parse_line(line: bytes) -> dict[str, Any]:
    if line.startswith(UTF8_BOM):  # a file written with a byte-order mark
        line = line[len(UTF8_BOM):]
    if line == OVERLONG_LINE:
        raise MalformedRecord("overlong_line")
    if not line.strip():
        raise MalformedRecord("blank_line")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRecord("invalid_utf8", str(err)) from err
        raise MalformedRecord("malformed_json", str(err)) from err
    if not isinstance(obj, dict):
        raise MalformedRecord("malformed_json", "not a JSON object")
    return obj


def _required(obj: dict[str, Any], key: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise MalformedRecord("missing_field", key)
    return value


def _integral(value: Any, key: str, *, floor: bool) -> int:
    """An int from an int, a float or a decimal string; ``floor`` allows a fractional part."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MalformedRecord("bad_field", key)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_CHARS:  # int() refuses over 4300 digits; no real value is long
            raise MalformedRecord("bad_field", key)
        if _DIGITS.fullmatch(text):
            return int(text)
        if not _NUMBER.fullmatch(text):
            raise MalformedRecord("bad_field", key)
        value = float(text)
    if isinstance(value, float):
        if not math.isfinite(value) or (not floor and not value.is_integer()):
            raise MalformedRecord("bad_field", key)
        return math.floor(value)
    return value


def as_int(obj: dict[str, Any], key: str, low: int, high: int, *, floor: bool = False) -> int:
    """A required integer in ``[low, high]``; older dumps wrote some as strings or floats."""
    number = _integral(_required(obj, key), key, floor=floor)
    if not low <= number <= high:
        raise MalformedRecord("bad_field", key)
    return number


def as_created_utc(obj: dict[str, Any]) -> int:
    return as_int(obj, "created_utc", MIN_CREATED_UTC, MAX_CREATED_UTC, floor=True)


def as_score(obj: dict[str, Any]) -> int:
    return as_int(obj, "score", -MAX_ABS_SCORE, MAX_ABS_SCORE)


def as_str(obj: dict[str, Any], key: str, default: str | None = None) -> str:
    """A text field; a non-string value (number, list, object) is a ``bad_field``."""
    value = obj.get(key)
    if value is None:
        if default is None:
            raise MalformedRecord("missing_field", key)
        return default
    if not isinstance(value, str):
        raise MalformedRecord("bad_field", key)
    return value


def as_bool(obj: dict[str, Any], key: str) -> bool | None:
    """``true``/``false`` as JSON booleans, 0/1, or those words as strings; None when absent."""
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_STRINGS:
            return True
        if word in _FALSE_STRINGS:
            return False
    raise MalformedRecord("bad_field", key)


def _matching(obj: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = as_str(obj, key)
    if not pattern.fullmatch(value):
        raise MalformedRecord("bad_field", key)
    return value


def as_id(obj: dict[str, Any], key: str = "id") -> str:
    return _matching(obj, key, _ID)


def as_fullname(obj: dict[str, Any], key: str, kinds: tuple[str, ...]) -> str:
    """A typed id such as ``t3_abc``; its prefix must be one of ``kinds``."""
    value = as_str(obj, key)
    if value[:3] not in kinds or not _ID.fullmatch(value[3:]):
        raise MalformedRecord("bad_field", key)
    return value


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    subreddit: str
    created_utc: int
    score: int
    title: str
    selftext: str
    over_18: bool
    is_self: bool
    url: str


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    link_id: str  # the post id, without the t3_ prefix
    parent_id: str  # with its prefix: t3_ for a top-level comment, t1_ for a reply
    subreddit: str
    created_utc: int
    score: int
    body: str


def to_submission(obj: dict[str, Any]) -> Submission:
    selftext = as_str(obj, "selftext", "")
    url = as_str(obj, "url", "")
    is_self = as_bool(obj, "is_self")
    if is_self is None:  # the earliest dumps lack is_self: a text post links to itself
        is_self = bool(selftext) or "/comments/" in url
    return Submission(
        id=as_id(obj),
        subreddit=_matching(obj, "subreddit", _SUBREDDIT),
        created_utc=as_created_utc(obj),
        score=as_score(obj),
        title=as_str(obj, "title"),
        selftext=selftext,
        # Dumps before NSFW flags existed carry no over_18: such posts count as not explicit.
        over_18=bool(as_bool(obj, "over_18")),
        is_self=is_self,
        url=url,
    )


def to_comment(obj: dict[str, Any]) -> Comment:
    return Comment(
        id=as_id(obj),
        link_id=as_fullname(obj, "link_id", ("t3_",))[3:],
        parent_id=as_fullname(obj, "parent_id", ("t1_", "t3_")),
        subreddit=_matching(obj, "subreddit", _SUBREDDIT),
        created_utc=as_created_utc(obj),
        score=as_score(obj),
        body=as_str(obj, "body"),
    )
