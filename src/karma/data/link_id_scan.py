"""Which lines of a comments dump need a JSON parse: the compiled scan, or the same rule in Python.

:func:`lines_to_parse` is ``karma.data._linescan.lines_to_parse`` (``src/karma/data/_linescan.c``)
when that extension is built and importable. The build is optional (``setup.py``): a machine
without a C compiler or Python headers still installs, and a job whose Python cannot load the
build's ``.so`` still runs. Either way :func:`python_lines_to_parse` stands in: the same rule, line
for line, with the same arguments, errors and result, only slower. Its decisions are the compiled
scan's (the test suite runs every scan test on both and compares whole data-stage outputs byte
for byte), so it is exactly as conservative: a line is skipped only when a full JSON parse would
read the same not-kept link id from it, or drop it as malformed.

The rule, from the C source: a line is skipped (counted as not kept) only when ``"link_id"`` occurs
exactly once, the byte before it (blanks aside) is ``{`` or ``,``, its value is ``"t3_<letters and
digits>"`` with that id not kept, and no ``\\u00XX`` escape of a character in 0x40-0x7F appears in
the line (such an escape could spell ``link_id`` unseen by a byte search).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set

Spans = list[tuple[int, int, int]]
LinesToParse = Callable[[bytes, int, int, Set[bytes]], tuple[int, Spans]]

KEY = b'"link_id"'
# After the key: blanks, a colon, blanks, then "t3_<id>" closed by a quote (the C loop's reading).
_VALUE = re.compile(rb'[ \t]*:[ \t]*"t3_([0-9A-Za-z]+)"')
_BLANKS = b" \t"
_KEY_OPENERS = b"{,"


def _has_escaped_word_char(buf: bytes, start: int, end: int) -> bool:
    """A ``\\u00XX`` escape of a character in 0x40-0x7F, escapes read in pairs as a parser does."""
    at = buf.find(b"\\", start, end)
    while at >= 0:
        if end - at < 5:  # an escape cut by the line end: let the parse judge
            return at + 1 < end and buf[at + 1] == ord("u")
        if buf[at + 1:at + 4] == b"u00" and ord("4") <= buf[at + 4] <= ord("7"):
            return True
        at = buf.find(b"\\", at + 2, end)
    return False


def _needs_parse(buf: bytes, start: int, end: int, post_ids: Set[bytes]) -> bool:
    hit = buf.find(KEY, start, end)
    if hit < 0:
        return True
    before = hit
    while before > start and buf[before - 1] in _BLANKS:
        before -= 1
    if before == start or buf[before - 1] not in _KEY_OPENERS:
        return True  # its first quote may close a string rather than open a key
    value = _VALUE.match(buf, hit + len(KEY), end)
    if value is None:
        return True
    if buf.find(KEY, value.end(), end) >= 0 or _has_escaped_word_char(buf, start, end):
        return True
    return value.group(1) in post_ids


def python_lines_to_parse(buffer: bytes, start: int, end: int, post_ids: Set[bytes]) -> tuple[int, Spans]:
    """``(n_lines, [(line_start, line_end, line_index), ...])`` for ``buffer[start:end]``, exactly as
    the compiled scan returns it: the lines whose link id is in ``post_ids`` (ids without ``t3_``)
    or cannot be read with certainty; a last line without a newline counts as a line."""
    if not isinstance(post_ids, (set, frozenset)):
        raise TypeError("post_ids must be a set or frozenset of bytes")
    buf = buffer if isinstance(buffer, bytes) else bytes(buffer)
    if start < 0 or end > len(buf) or start > end:
        raise ValueError(f"region [{start}, {end}) is outside the buffer of {len(buf)} bytes")
    spans: Spans = []
    n_lines, line = 0, start
    while line < end:
        newline = buf.find(b"\n", line, end)
        line_end = end if newline < 0 else newline
        if _needs_parse(buf, line, line_end, post_ids):
            spans.append((line, line_end, n_lines))
        n_lines += 1
        line = line_end + 1
    return n_lines, spans


def _load_compiled() -> tuple[LinesToParse | None, str]:
    try:
        from karma.data._linescan import lines_to_parse as compiled
    except ImportError as missing:
        return None, f"{type(missing).__name__}: {missing}"
    return compiled, ""


compiled_lines_to_parse, _why_not_compiled = _load_compiled()


def choose_lines_to_parse() -> tuple[LinesToParse, str | None]:
    """The scan to use and, when it is the Python one, the warning a job should log once."""
    if compiled_lines_to_parse is not None:
        return compiled_lines_to_parse, None
    return python_lines_to_parse, (
        "karma.data._linescan, the compiled comment scan, is not importable "
        f"({_why_not_compiled}); using the pure-Python scan, which decides every line the same way "
        "but is several times slower. To build it: `pip install -e .` in the repository (needs a C "
        "compiler and the Python headers of the Python that runs the jobs)"
    )
