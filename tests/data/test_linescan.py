"""The compiled scan must return exactly the lines that need a parse and count every line."""

import json
import random
import re
import subprocess
import sys

import pytest
from karma.data._linescan import lines_to_parse
from shared_data import SHARED_DATA, needs_shared_data

KEPT = {b"abc", b"Q9"}


def line(link: str, extra: str = "") -> bytes:
    return ('{"id":"c1","link_id":"t3_%s","body":"x"%s}' % (link, extra)).encode()


def spans_of(buf: bytes, start: int = 0, end: int | None = None) -> tuple[int, list[bytes]]:
    n_lines, spans = lines_to_parse(buf, start, len(buf) if end is None else end, KEPT)
    return n_lines, [buf[s:e] for s, e in spans]


def test_returns_kept_lines_and_counts_the_rest():
    lines = [line("abc"), line("zzz"), line("Q9"), line("abcd"), line("ab")]
    n_lines, parse = spans_of(b"\n".join(lines) + b"\n")
    assert n_lines == 5
    assert parse == [lines[0], lines[2]]


@pytest.mark.parametrize("odd", [
    b"garbage without a link",
    b'{"link_id": 12}',                # not a string: the scan cannot read it, the parse can
    b'{"link_id":"t1_zzz"}',           # not a post id
    b'{"link_id" "t3_zzz"}',           # no colon
    b'{"link_id":"t3_"}',              # empty id
    b'{"link_id":"t3_zz-z"}',          # id not closed by a quote
    b'{"link_id":"t3_zzz',             # line ends inside the id
    b"",                               # blank line
])
def test_unreadable_link_ids_go_to_the_parse(odd):
    buf = line("zzz") + b"\n" + odd + b"\n" + line("zzz") + b"\n"
    assert spans_of(buf) == (3, [odd])


@pytest.mark.parametrize("separator", [b":", b": ", b" : ", b":\t"])
def test_blanks_around_the_colon_are_read(separator):
    kept, other = (b'{"id":"c","link_id"%s"t3_%s","x":1}' % (separator, post)
                   for post in (b"abc", b"zzz"))
    assert spans_of(other + b"\n" + kept + b"\n") == (2, [kept])


@needs_shared_data
def test_every_real_dump_line_is_read_without_a_parse():
    """The real lines of every era (compact, and spaced as in 2024) need no parse unless kept."""
    data = (SHARED_DATA / "reddit_pushshift/pushshift_importer_test_comments.ndjson").read_bytes()
    n_lines, spans = lines_to_parse(data, 0, len(data), set())
    assert n_lines == 27 and spans == []
    kept = {json.loads(line)["link_id"][3:].encode() for line in data.splitlines()[::5]}
    n_lines, spans = lines_to_parse(data, 0, len(data), kept)
    assert len(spans) == sum(json.loads(line)["link_id"][3:].encode() in kept
                             for line in data.splitlines())


def test_first_link_id_of_a_line_decides():
    kept_first = line("abc", ',"x":{"link_id":"t3_zzz"}')
    other_first = line("zzz", ',"x":{"link_id":"t3_abc"}')
    assert spans_of(kept_first + b"\n" + other_first + b"\n") == (2, [kept_first])


VALUE = re.compile(rb'"link_id"[ \t]*:[ \t]*"t3_([0-9A-Za-z]+)"')


def reference_needs_parse(line: bytes, kept: set[bytes]) -> bool:
    """The rule in plain Python: the first "link_id" key decides."""
    at = line.find(b'"link_id"')
    match = VALUE.match(line, at) if at >= 0 else None
    return match is None or match.group(1) in kept


def test_random_lines_agree_with_the_python_rule():
    rng = random.Random(5)

    def pick(*options: bytes) -> bytes:
        return rng.choice(options)

    def noise() -> bytes:
        return b"".join(rng.choices([b"x", b",", b"{", b" ", b'"', b'"link_id"'], k=rng.randint(0, 3)))

    lines = [noise() + pick(b'"link_id"', b'"link_id"', b'"link_id"', b'"link_i"', b"")
             + pick(b":", b": ", b" :\t", b":", b"", b";") + pick(b'"t3_', b'"t3_', b'"t3_', b'"t1_')
             + pick(b"abc", b"Q9", b"zzz", b"zzz", b"", b"a-b") + pick(b'"', b'"', b'"', b"")
             + noise() for _ in range(5000)]
    n_lines, parse = spans_of(b"".join(line + b"\n" for line in lines))
    expected = [line for line in lines if reference_needs_parse(line, KEPT)]
    assert n_lines == len(lines) and parse == expected
    assert 300 < len(expected) < len(lines) - 300


def test_respects_the_region_and_a_last_line_without_newline():
    buf = b"HEAD" + line("abc") + b"\n" + line("Q9")
    n_lines, parse = spans_of(buf, start=4)
    assert n_lines == 2 and parse == [line("abc"), line("Q9")]
    assert spans_of(buf, 4, 4) == (0, [])


def test_reads_any_buffer_and_frozensets():
    buf = bytearray(line("abc") + b"\n")
    assert lines_to_parse(memoryview(buf), 0, len(buf), frozenset(KEPT))[0] == 1


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="outside the buffer"):
        lines_to_parse(b"abc\n", 0, 5, KEPT)
    with pytest.raises(ValueError, match="outside the buffer"):
        lines_to_parse(b"abc\n", 3, 2, KEPT)
    with pytest.raises(TypeError, match="set or frozenset"):
        lines_to_parse(b"abc\n", 0, 4, [b"abc"])


def test_a_missing_build_names_the_fix():
    code = ("import sys; sys.modules['karma.data._linescan'] = None\n"
            "import karma.data.comment_collection")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "karma.data._linescan" in result.stderr and "pip install -e ." in result.stderr
