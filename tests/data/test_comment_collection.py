"""The fast comment scan must classify every line exactly as parsing every line would."""

import json

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reddit_fixtures import comment, write_dump

import karma.data.pushshift
from karma.data.comment_collection import collect_comments
from karma.data.filters import RedditFilters


@pytest.mark.parametrize("read_size", [256, 4096, 1 << 20])
def test_fast_scan_matches_a_full_parse(tmp_path, monkeypatch, read_size):
    monkeypatch.setattr(karma.data.pushshift, "READ_SIZE", read_size)
    lines = []
    for i in range(600):
        pid = f"p{i % 40}"
        parent = f"t1_x{i - 1}" if i % 3 else None
        lines.append(comment(f"x{i}", pid, parent=parent))
        if i % 97 == 0:
            lines.append(b'{"id": "bad", "link_id": "t3_p0"')  # malformed, kept post
        if i % 89 == 0:
            lines.append(b"garbage without a link")
    dump = write_dump(tmp_path / "RC_2019-01.zst", lines)
    posts = tmp_path / "posts.parquet"
    kept_posts = [f"p{k}" for k in range(0, 40, 3)]
    pq.write_table(pa.table({"post_id": kept_posts}), posts)

    counts = collect_comments(dump, [posts], tmp_path / "c.parquet", tmp_path / "c.json",
                              RedditFilters())
    expected = [line for line in lines if isinstance(line, dict)
                and line["link_id"][3:] in kept_posts]
    got = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert [r["comment_id"] for r in got] == [r["id"] for r in expected]
    assert counts.read == len(lines)
    assert counts.dropped["malformed_json"] == 14 and counts.dropped["post_not_kept"] == (
        len(lines) - len(expected) - 14)
    assert json.loads((tmp_path / "c.json").read_text())["kept"] == len(expected)


def collect(tmp_path, lines, kept_posts):
    dump = write_dump(tmp_path / "RC_2019-01.zst", lines)
    posts = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"post_id": kept_posts}), posts)
    counts = collect_comments(dump, [posts], tmp_path / "c.parquet", tmp_path / "c.json",
                              RedditFilters())
    return counts, pq.read_table(tmp_path / "c.parquet").to_pylist()


def test_a_nested_link_id_before_the_real_one_does_not_drop_a_kept_comment(tmp_path):
    """Defect 3: the scan read the first "link_id" anywhere in the line, so a valid comment of a
    kept post whose nested object carried its own link_id first was dropped as post_not_kept."""
    record = comment("c1", "kept")
    nested = {"media": {"link_id": "t3_other", "x": 1}, **record}  # the nested key comes first
    escaped = orjson.dumps({"media": {"link_id": "t3_other"}, **{k: v for k, v in record.items()
                                                                 if k != "link_id"}})
    escaped = escaped[:-1] + b',"link\\u005fid":"t3_kept"}'
    counts, rows = collect(tmp_path, [nested, escaped, comment("c2", "other")], ["kept"])
    assert [r["comment_id"] for r in rows] == ["c1", "c1"]
    assert counts.kept == 2 and counts.dropped == {"post_not_kept": 1}


def test_drop_reasons_carry_their_first_line_numbers(tmp_path, monkeypatch):
    """Defect 10: the counts say where the dropped lines are (the first 20 per reason, 1-based),
    across block boundaries; a reason with no line is not listed (defect 9: no zero counts)."""
    monkeypatch.setattr(karma.data.pushshift, "READ_SIZE", 300)
    lines, expected = [], {"post_not_kept": [], "malformed_json": [], "bad_field": []}
    for i in range(200):
        number = len(lines) + 1
        if i % 7 == 0:
            lines.append(b'{"id": "bad", "link_id": "t3_kept"')
            expected["malformed_json"].append(number)
        elif i % 11 == 0:
            lines.append(comment(f"b{i}", "kept", score="inf"))
            expected["bad_field"].append(number)
        elif i % 2:
            lines.append(comment(f"o{i}", f"other{i}"))
            expected["post_not_kept"].append(number)
        else:
            lines.append(comment(f"k{i}", "kept"))
    counts, rows = collect(tmp_path, lines, ["kept"])
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["first_lines"] == {reason: numbers[:20] for reason, numbers in expected.items()}
    assert saved["dropped"] == {reason: len(numbers) for reason, numbers in expected.items()}
    assert [r["source_line"] for r in rows] == [
        n for n, line in enumerate(lines, 1) if isinstance(line, dict) and line["id"][0] == "k"]


def test_every_kept_post_line_drops_nothing_else(tmp_path):
    """Defect 9: when the scan skips no line, the counts hold no "post_not_kept: 0"."""
    counts, _ = collect(tmp_path, [comment("c1", "kept"), comment("c2", "kept")], ["kept"])
    assert json.loads((tmp_path / "c.json").read_text())["dropped"] == {}
    assert counts.kept == 2
