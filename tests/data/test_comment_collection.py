"""The fast comment scan must classify every line exactly as parsing every line would."""

import json

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
