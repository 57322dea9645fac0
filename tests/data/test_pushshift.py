
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
