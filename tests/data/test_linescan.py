"""The comment scan must return exactly the lines that need a parse and count every line.

Every test runs on both scans: the compiled one (karma.data._linescan) and its pure-Python stand-in
(karma.data.link_id_scan.python_lines_to_parse), which must decide every line the same way.
"""

import json
import random
import re
import subprocess
import sys

import orjson
import pytest
from shared_data import SHARED_DATA, needs_shared_data

from karma.data import link_id_scan

KEPT = {b"abc", b"Q9"}
SCANS = {"compiled": link_id_scan.compiled_lines_to_parse, "python": link_id_scan.python_lines_to_parse}


@pytest.fixture(params=sorted(SCANS))
def lines_to_parse(request):
    """The scan under test."""
    scan = SCANS[request.param]
    if scan is None:
        pytest.fail("karma.data._linescan is not built here; run `make .venv/.installed` to build it")
    return scan


def line(link: str, extra: str = "") -> bytes:
    return ('{"id":"c1","link_id":"t3_%s","body":"x"%s}' % (link, extra)).encode()


def spans_of(scan, buf: bytes, start: int = 0, end: int | None = None) -> tuple[int, list[bytes]]:
    n_lines, spans = scan(buf, start, len(buf) if end is None else end, KEPT)
    return n_lines, [buf[s:e] for s, e, _ in spans]


def test_returns_kept_lines_and_counts_the_rest(lines_to_parse):
    lines = [line("abc"), line("zzz"), line("Q9"), line("abcd"), line("ab")]
    n_lines, parse = spans_of(lines_to_parse, b"\n".join(lines) + b"\n")
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
def test_unreadable_link_ids_go_to_the_parse(lines_to_parse, odd):
    buf = line("zzz") + b"\n" + odd + b"\n" + line("zzz") + b"\n"
    assert spans_of(lines_to_parse, buf) == (3, [odd])


@pytest.mark.parametrize("separator", [b":", b": ", b" : ", b":\t"])
def test_blanks_around_the_colon_are_read(lines_to_parse, separator):
    kept, other = (b'{"id":"c","link_id"%s"t3_%s","x":1}' % (separator, post)
                   for post in (b"abc", b"zzz"))
    assert spans_of(lines_to_parse, other + b"\n" + kept + b"\n") == (2, [kept])


@needs_shared_data
def test_every_real_dump_line_is_read_without_a_parse(lines_to_parse):
    """The real lines of every era (compact, and spaced as in 2024) need no parse unless kept."""
    data = (SHARED_DATA / "reddit_pushshift/pushshift_importer_test_comments.ndjson").read_bytes()
    n_lines, spans = lines_to_parse(data, 0, len(data), set())
    assert n_lines == 27 and spans == []
    kept = {json.loads(line)["link_id"][3:].encode() for line in data.splitlines()[::5]}
    n_lines, spans = lines_to_parse(data, 0, len(data), kept)
    assert len(spans) == sum(json.loads(line)["link_id"][3:].encode() in kept
                             for line in data.splitlines())


@pytest.mark.parametrize("ambiguous", [
    # a nested object with its own link_id key before the real one (issue 14, defect 3)
    b'{"id":"c1","x":{"link_id":"t3_zzz"},"link_id":"t3_abc","body":"x"}',
    # the real key after the nested one, spelled with an escape a parser decodes
    b'{"id":"c1","x":{"link_id":"t3_zzz"},"link\\u005fid":"t3_abc"}',
    b'{"id":"c1","x":{"link_id":"t3_zzz"},"\\u006cink_id":"t3_abc"}',
    # a key that ends in an escaped quote followed by link_id
    b'{"id":"c1","a\\"link_id":"t3_zzz","link_id":"t3_abc"}',
    b'{"id":"c1","a\\"link_id":"t3_zzz"}',
    # "link_id" as a value, a duplicate key (parsers keep the last value)
    b'{"body":"link_id","link_id":"t3_zzz"}',
    b'{"link_id":"t3_zzz","link_id":"t3_abc"}',
    # the only candidate is not preceded by { or , so it may not be a key
    b'["link_id":"t3_zzz"]',
    b'{"a":["x" "link_id":"t3_zzz"]}',
])
def test_lines_a_byte_search_could_misread_go_to_the_parse(lines_to_parse, ambiguous):
    assert spans_of(lines_to_parse, ambiguous + b"\n") == (1, [ambiguous])


def test_escapes_that_cannot_spell_a_key_stay_on_the_fast_path(lines_to_parse):
    """Non-ASCII text and Go's HTML escapes are common in bodies; they need no parse."""
    skipped = b'{"body":"caf\\u00e9 \\u003cb\\u003e \\u0026","link_id":"t3_zzz"}'
    assert spans_of(lines_to_parse, skipped + b"\n") == (1, [])
    text_after_backslash = b'{"body":"C:\\\\u0041","link_id":"t3_zzz"}'  # "C:\\u0041": no escape
    assert spans_of(lines_to_parse, text_after_backslash + b"\n") == (1, [])


def test_spans_carry_the_index_of_their_line_in_the_region(lines_to_parse):
    buf = b"".join(line(link) + b"\n" for link in ("zzz", "abc", "zzz", "zzz", "Q9"))
    _, spans = lines_to_parse(buf, 0, len(buf), KEPT)
    assert [index for _, _, index in spans] == [1, 4]


VALUE = re.compile(rb'"link_id"[ \t]*:[ \t]*"t3_([0-9A-Za-z]+)"')


def has_escaped_word_char(line: bytes) -> bool:
    """A \\u00XX escape of a character in 0x40-0x7F, escapes read in pairs as a parser does."""
    at = line.find(b"\\")
    while at >= 0:
        if len(line) - at < 5:  # an escape cut by the line end
            return line[at + 1:at + 2] == b"u"
        if line[at + 1:at + 5] in (b"u004", b"u005", b"u006", b"u007"):
            return True
        at = line.find(b"\\", at + 2)
    return False


def reference_needs_parse(line: bytes, kept: set[bytes]) -> bool:
    """The rule in plain Python: one unambiguous "link_id" key decides, else the line is parsed."""
    at = line.find(b'"link_id"')
    if at < 0 or line.count(b'"link_id"') > 1:
        return True
    if line[:at].rstrip(b" \t")[-1:] not in (b"{", b","):
        return True
    match = VALUE.match(line, at)
    if match is None or has_escaped_word_char(line):
        return True
    return match.group(1) in kept


def test_random_lines_agree_with_the_python_rule(lines_to_parse):
    rng = random.Random(5)

    def pick(*options: bytes) -> bytes:
        return rng.choice(options)

    def noise() -> bytes:
        return b"".join(rng.choices([b"x", b",", b"{", b" ", b'"', b'"link_id"', b"\\u005f",
                                     b"\\u00e9", b"\\", b"\\u"], weights=[4, 4, 4, 4, 4, 1, 1, 2, 1, 1],
                                    k=rng.randint(0, 2)))

    lines = [noise() + pick(b"{", b",", b", ", b"{", b",", b"")
             + pick(b'"link_id"', b'"link_id"', b'"link_id"', b'"link_i"', b"")
             + pick(b":", b": ", b" :\t", b":", b"", b";") + pick(b'"t3_', b'"t3_', b'"t3_', b'"t1_')
             + pick(b"abc", b"Q9", b"zzz", b"zzz", b"", b"a-b") + pick(b'"', b'"', b'"', b"")
             + noise() for _ in range(5000)]
    n_lines, parse = spans_of(lines_to_parse, b"".join(line + b"\n" for line in lines))
    expected = [line for line in lines if reference_needs_parse(line, KEPT)]
    assert n_lines == len(lines) and parse == expected
    assert len(expected) > 300 and len(lines) - len(expected) > 200  # both outcomes exercised


def _escape_some(key: str, rng: random.Random) -> str:
    return "".join(f"\\u{ord(c):04x}" if rng.random() < 0.1 else c for c in key)


def _random_object(rng: random.Random, link: str, depth: int = 0) -> str:
    """JSON text of an object whose top-level link_id is ``link``, with decoys around it."""
    parts = [f'"id":"c{rng.randrange(99)}"', f'"body":"{rng.choice(["x", "link_id", "t3_abc"])}"']
    if depth < 2 and rng.random() < 0.5:  # nested objects with their own link_id keys
        nested = _random_object(rng, rng.choice(["abc", "zzz", "Q9"]), depth + 1)
        parts.append(f'"{rng.choice(["x", "media", "link_id"])}":{nested}')
    if rng.random() < 0.2:  # a duplicate key: parsers keep the last one, written below
        parts.append(f'"link_id":"t3_{rng.choice(["abc", "zzz"])}"')
    rng.shuffle(parts)
    colon = rng.choice([":", ": ", " : "])
    parts.append(f'"{_escape_some("link_id", rng)}"{colon}"t3_{link}"')
    if rng.random() < 0.5:
        parts.insert(0, f'"note":"say \\"link_id\\":\\"t3_{rng.choice(["abc", "zzz"])}\\""')
    return "{" + rng.choice([",", ", "]).join(parts) + "}"


def test_the_scan_never_skips_a_line_a_json_parse_would_keep(lines_to_parse):
    """Generated valid JSON with nested link_id keys, duplicates and escaped keys: every line
    whose top-level link_id (as orjson reads it) is kept must be returned for the parse."""
    rng = random.Random(14)
    lines = [_random_object(rng, rng.choice(["abc", "zzz", "Q9", "yyy"])).encode()
             for _ in range(4000)]
    _, parse = spans_of(lines_to_parse, b"".join(line + b"\n" for line in lines))
    returned = set(parse)
    kept_by_parse = [line for line in lines if orjson.loads(line)["link_id"][3:].encode() in KEPT]
    assert len(kept_by_parse) > 1000
    assert all(line in returned for line in kept_by_parse)


def test_respects_the_region_and_a_last_line_without_newline(lines_to_parse):
    buf = b"HEAD" + line("abc") + b"\n" + line("Q9")
    n_lines, parse = spans_of(lines_to_parse, buf, start=4)
    assert n_lines == 2 and parse == [line("abc"), line("Q9")]
    assert spans_of(lines_to_parse, buf, 4, 4) == (0, [])


def test_reads_any_buffer_and_frozensets(lines_to_parse):
    buf = bytearray(line("abc") + b"\n")
    assert lines_to_parse(memoryview(buf), 0, len(buf), frozenset(KEPT))[0] == 1


def test_rejects_bad_arguments(lines_to_parse):
    with pytest.raises(ValueError, match="outside the buffer"):
        lines_to_parse(b"abc\n", 0, 5, KEPT)
    with pytest.raises(ValueError, match="outside the buffer"):
        lines_to_parse(b"abc\n", 3, 2, KEPT)
    with pytest.raises(TypeError, match="set or frozenset"):
        lines_to_parse(b"abc\n", 0, 4, [b"abc"])


def test_both_scans_agree_on_random_bytes():
    """Fuzzing: lines built from the bytes the rule looks at (quotes, blanks, escapes, keys, ids,
    bytes >= 0x80), in random regions; the two scans return the same counts and spans."""
    compiled = SCANS["compiled"]
    if compiled is None:
        pytest.fail("karma.data._linescan is not built here; run `make .venv/.installed` to build it")
    rng = random.Random(16)
    atoms = [b'"link_id"', b'"t3_', b"abc", b"Q9", b"zzz", b'"', b":", b" ", b"\t", b"\t", b"{", b",",
             b"\\", b"\\u", b"\\u00", b"\\u005f", b"\\u0041", b"\\u00e9", b"\n", b"\xff", b"x", b"-"]
    for _ in range(300):
        buf = b"".join(rng.choices(atoms, k=rng.randint(0, 80)))
        start = rng.randint(0, len(buf))
        end = rng.randint(start, len(buf))
        assert link_id_scan.python_lines_to_parse(buf, start, end, KEPT) == compiled(buf, start, end, KEPT), buf


def test_without_the_build_the_python_scan_is_chosen_with_a_warning_naming_the_fix():
    code = ("import sys; sys.modules['karma.data._linescan'] = None\n"
            "import karma.data.comment_collection\n"
            "from karma.data import link_id_scan\n"
            "scan, warning = link_id_scan.choose_lines_to_parse()\n"
            "assert scan is link_id_scan.python_lines_to_parse, scan\n"
            "print(warning)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "karma.data._linescan" in result.stdout and "pip install -e ." in result.stdout
    assert "pure-Python scan" in result.stdout
    scan, warning = link_id_scan.choose_lines_to_parse()
    assert scan is SCANS["compiled"] and warning is None
