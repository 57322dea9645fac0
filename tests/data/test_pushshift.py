
import orjson
import pytest
import zstandard
from reddit_fixtures import comment, post, write_dump
from shared_data import SHARED_DATA, needs_shared_data

from karma.data.pushshift import DumpReadError, iter_lines
from karma.data.records import MalformedRecord, parse_line, to_comment, to_submission

SHARED = SHARED_DATA / "reddit_pushshift"
REAL_SUBMISSIONS = SHARED / "pushshift_importer_test_submissions.ndjson"
REAL_COMMENTS = SHARED / "pushshift_importer_test_comments.ndjson"
needs_shared = needs_shared_data


@needs_shared
def test_real_submission_lines_of_every_era_parse():
    lines = list(iter_lines(REAL_SUBMISSIONS))
    assert len(lines) == 31
    raw = [parse_line(line) for line in lines]
    assert {type(r["created_utc"]) for r in raw} == {str, int, float}
    assert min(map(len, raw)) <= 40 and max(map(len, raw)) >= 110
    posts = [to_submission(r) for r in raw]
    years = {p.created_utc // (365 * 86400) + 1970 for p in posts}
    assert min(years) == 2005 and max(years) == 2024
    assert all(isinstance(p.created_utc, int) and isinstance(p.score, int) for p in posts)


@needs_shared
def test_real_comment_lines_of_every_era_parse():
    raw = [parse_line(line) for line in iter_lines(REAL_COMMENTS)]
    assert len(raw) == 27
    assert {type(r["created_utc"]) for r in raw} == {str, int, float}
    comments = [to_comment(r) for r in raw]
    assert all(not c.link_id.startswith("t3_") for c in comments)
    assert {c.parent_id[:3] for c in comments} <= {"t1_", "t3_"}


def test_zst_with_long_window_needs_and_gets_a_large_window(tmp_path):
    path = write_dump(tmp_path / "RS_long.zst", [post(str(i)) for i in range(50)], window_log=28)
    with path.open("rb") as handle, pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().stream_reader(handle).read()
    assert len(list(iter_lines(path))) == 50


def test_plain_and_zst_give_the_same_lines(tmp_path):
    records = [post(str(i)) for i in range(20)]
    plain = write_dump(tmp_path / "RS_a.ndjson", records, compress=False)
    packed = write_dump(tmp_path / "RS_a.zst", records)
    assert list(iter_lines(plain)) == list(iter_lines(packed))


def test_malformed_lines_are_classified_not_fatal():
    with pytest.raises(MalformedRecord) as bad:
        parse_line(b'{"id": "x", "title": ')
    assert bad.value.reason == "malformed_json"
    with pytest.raises(MalformedRecord) as bad:
        parse_line(b"[1, 2]")
    assert bad.value.reason == "malformed_json"
    with pytest.raises(MalformedRecord) as bad:
        to_submission({"id": "x", "subreddit": "a", "created_utc": 1546300800, "score": 1})
    assert bad.value.reason == "missing_field"
    with pytest.raises(MalformedRecord) as bad:
        to_comment({**comment("c", "p"), "created_utc": "yesterday"})
    assert bad.value.reason == "bad_field"


def test_truncated_zst_is_an_error_naming_the_file(tmp_path):
    path = write_dump(tmp_path / "RC_cut.zst", [comment(str(i), "p") for i in range(2000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DumpReadError, match="RC_cut.zst"):
        list(iter_lines(path))


def test_corrupt_zst_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "RC_bad.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"not zstd at all" * 10)
    with pytest.raises(DumpReadError, match="RC_bad.zst"):
        list(iter_lines(path))


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DumpReadError, match="unknown dump type"):
        list(iter_lines(write_dump(tmp_path / "RS_x.gz", [post("a")], compress=False)))
    with pytest.raises(DumpReadError, match="not found"):
        list(iter_lines(tmp_path / "RS_missing.zst"))


def test_chunking_keeps_lines_whole(tmp_path, monkeypatch):
    import karma.data.pushshift
    from karma.data.pushshift import iter_chunks

    monkeypatch.setattr(karma.data.pushshift, "READ_SIZE", 512)
    records = [post(str(i), selftext="x" * (i % 97)) for i in range(3000)]
    path = write_dump(tmp_path / "RS_c.zst", records)
    chunks = list(iter_chunks(path))
    assert len(chunks) > 3 and all(c.endswith(b"\n") for c in chunks)
    assert sum(c.count(b"\n") for c in chunks) == 3000


# --- issue 14: empty dumps, checksums, overlong lines ---------------------------------------------

def test_a_zero_byte_zst_is_refused_by_name(tmp_path):
    """Defect 2: an empty file is no zstd data (`zstd -t` says so); it was read as an empty month."""
    path = tmp_path / "RS_2019-01.zst"
    path.write_bytes(b"")
    with pytest.raises(DumpReadError, match=r"RS_2019-01.zst: the file is empty \(0 bytes\)"):
        list(iter_lines(path))


@pytest.mark.parametrize("cut", [1, 3, 4, 7])
def test_a_frame_cut_inside_its_header_is_refused(tmp_path, cut):
    path = write_dump(tmp_path / "RC_cut.zst", [comment("c", "p")])
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(DumpReadError, match="RC_cut.zst"):
        list(iter_lines(path))


def test_an_empty_dump_is_warned_about_in_the_log_and_the_counts(tmp_path, caplog):
    """Defect 2: a valid dump of 0 lines (an empty frame, an empty NDJSON file) reads as nothing;
    the job says so loudly instead of letting every comment of the month become post_not_kept."""
    import json

    from karma.data.filters import RedditFilters
    from karma.data.post_selection import select_posts

    empty_frame = write_dump(tmp_path / "RS_2019-01.zst", [])
    empty_plain = write_dump(tmp_path / "RS_2019-02.ndjson", [], compress=False)
    for dump in (empty_frame, empty_plain):
        counts_path = tmp_path / f"{dump.stem}.json"
        with caplog.at_level("WARNING"):
            counts = select_posts(dump, tmp_path / f"{dump.stem}.parquet", counts_path,
                                  RedditFilters())
        assert counts.read == 0
        [warning] = json.loads(counts_path.read_text())["warnings"]
        assert "yielded 0 lines" in warning and dump.name in warning
        assert warning in caplog.text


def test_frames_without_a_checksum_are_warned_about(tmp_path):
    """Defect 8: bit flips in a frame without a checksum decode to other data without an error."""
    records = [post(str(i)) for i in range(20)]
    unchecked = write_dump(tmp_path / "RS_a.zst", records, checksum=False)
    checked = write_dump(tmp_path / "RS_b.zst", records, checksum=True)
    warnings: list[str] = []
    assert len(list(iter_lines(unchecked, warnings.append))) == 20
    assert len(warnings) == 1 and "1 of 1 zstd frame(s) carry no checksum" in warnings[0]
    assert "reddit.sha256" in warnings[0] and "RS_a.zst" in warnings[0]
    warnings.clear()
    assert len(list(iter_lines(checked, warnings.append))) == 20 and warnings == []
    # a file of several frames, one of them without a checksum
    both = tmp_path / "RS_c.zst"
    both.write_bytes(checked.read_bytes() + unchecked.read_bytes())
    assert len(list(iter_lines(both, warnings.append))) == 40
    assert "1 of 2 zstd frame(s)" in warnings[0]
    # a skippable frame (metadata) holds no data to protect
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"meta"
    both.write_bytes(skippable + checked.read_bytes())
    warnings.clear()
    assert len(list(iter_lines(both, warnings.append))) == 20 and warnings == []


@pytest.mark.parametrize("compress", [True, False])
def test_overlong_lines_become_a_counted_placeholder_and_line_numbers_hold(tmp_path, monkeypatch,
                                                                            compress):
    import karma.data.pushshift
    from karma.data.records import OVERLONG_LINE

    monkeypatch.setattr(karma.data.pushshift, "READ_SIZE", 256)
    monkeypatch.setattr(karma.data.pushshift, "MAX_LINE_BYTES", 3000)
    short = orjson.dumps(post("s"))
    lines = [short, b"x" * 5000, short, b"y" * 2900, b"z" * 9000, short, b"w" * 4000]
    path = write_dump(tmp_path / ("RS_long.zst" if compress else "RS_long.ndjson"), lines,
                      compress=compress)
    if not compress:
        path.write_bytes(path.read_bytes()[:-1])  # the last line without its newline
    got = list(iter_lines(path))
    assert got == [short, OVERLONG_LINE, short, b"y" * 2900, OVERLONG_LINE, short, OVERLONG_LINE]


def test_an_overlong_line_inside_one_large_block_is_replaced_too(tmp_path, monkeypatch):
    import karma.data.pushshift
    from karma.data.records import OVERLONG_LINE

    monkeypatch.setattr(karma.data.pushshift, "MAX_LINE_BYTES", 100)
    short = b'{"a":1}'
    path = write_dump(tmp_path / "RS_big.ndjson", [short, b"q" * 500, short, b"r" * 100],
                      compress=False)
    assert list(iter_lines(path)) == [short, OVERLONG_LINE, short, b"r" * 100]
