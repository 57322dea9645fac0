"""The fast comment scan must classify every line exactly as parsing every line would."""

import json

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
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


FALLBACK_RUN = """
import sys
sys.modules["karma.data._linescan"] = None  # the import fails, as without a compiler or on another Python
import karma.data.pushshift
from karma.data.comment_collection import collect_comments
from karma.data.filters import RedditFilters
from karma.job_logging import setup_job_logging

log, read_size, posts, *jobs = sys.argv[1:]
karma.data.pushshift.READ_SIZE = int(read_size)
setup_job_logging(log)
for dump, out in zip(jobs[::2], jobs[1::2]):
    collect_comments(dump, [posts], out + ".parquet", out + ".json", RedditFilters())
"""


@pytest.mark.parametrize("read_size", [300, 1 << 20])
def test_the_python_fallback_writes_the_same_bytes_and_warns_once(tmp_path, monkeypatch, read_size):
    """Issue 16: without the compiled scan (its import made to fail in a job's process) the scan falls
    back to Python, logs one warning per process, and writes byte-identical comments and counts to the compiled
    scan's, on the hostile dumps, the data-stage dumps and the real Pushshift lines."""
    import subprocess
    import sys

    from hostile_dumps import build, real_dumps
    from shared_data import SHARED_DATA
    from test_data_stage import make_dumps

    from karma.data import link_id_scan

    assert link_id_scan.compiled_lines_to_parse is not None, "build karma.data._linescan first"
    hostile = build(tmp_path / "hostile")
    dumps = [*hostile.comments, *make_dumps(tmp_path / "stage")[1]]
    kept = set(hostile.kept_posts) | {f"p{i}" for i in range(0, 30, 2)}
    if (SHARED_DATA / "reddit_pushshift").is_dir():
        _, _, real = real_dumps(tmp_path / "real", SHARED_DATA / "reddit_pushshift")
        dumps.append(real)
        lines = zstandard.ZstdDecompressor().decompressobj().decompress(real.read_bytes()).splitlines()
        kept |= {orjson.loads(line)["link_id"][3:] for line in lines[::3]}
    posts = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"post_id": sorted(kept)}), posts)

    monkeypatch.setattr(karma.data.pushshift, "READ_SIZE", read_size)
    jobs = []
    for index, dump in enumerate(dumps):
        compiled, fallback = tmp_path / f"compiled{index}", tmp_path / f"fallback{index}"
        collect_comments(dump, [posts], f"{compiled}.parquet", f"{compiled}.json", RedditFilters())
        jobs += [str(dump), str(fallback)]
    log = tmp_path / "job.log"
    result = subprocess.run([sys.executable, "-c", FALLBACK_RUN, str(log), str(read_size), str(posts), *jobs],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    for index in range(len(dumps)):
        for suffix in (".parquet", ".json"):
            compiled = (tmp_path / f"compiled{index}{suffix}").read_bytes()
            assert (tmp_path / f"fallback{index}{suffix}").read_bytes() == compiled, (dumps[index], suffix)
    hostile_counts = json.loads((tmp_path / "compiled0.json").read_text())
    assert hostile_counts["dropped"]["post_not_kept"] and hostile_counts["dropped"]["malformed_json"]
    warnings = [line for line in log.read_text().splitlines() if " WARNING " in line and "_linescan" in line]
    assert len(warnings) == 1  # once per process, however many dumps it scans
    assert "pure-Python scan" in warnings[0] and "pip install -e ." in warnings[0]
