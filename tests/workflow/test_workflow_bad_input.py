"""The bad-input suite (issue 14): dumps carrying every hostile case we could think of, through
the data stage run by Snakemake itself. No job crashes, every line of every file is accounted for
(kept + dropped = read, and read = the lines the file holds), every valid line survives, and each
dropped line is counted under its reason, at its line number."""

import json

import pyarrow.parquet as pq
import pytest
import zstandard
from hostile_dumps import build, real_dumps
from reddit_fixtures import post, write_dump
from shared_data import SHARED_DATA, needs_shared_data
from workflow_runner import planned_jobs, snakemake

from karma.file_digest import sha256_of

BAD_LINE_REASONS = {"bad_field", "missing_field", "malformed_json", "invalid_utf8", "blank_line",
                    "overlong_line"}


def override(workdir, run, submissions, comments, **reddit):
    reddit = {"submissions": [str(p) for p in submissions],
              "comments": [str(p) for p in comments], "max_posts": None, "shards": 2,
              "candidate_fraction": 1.0, **reddit}
    (workdir / "over.yaml").write_text(json.dumps({"run": run, "reddit": reddit}))


def file_lines(path) -> int:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data) if data else b""
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    dumps = build(workdir / "dumps")
    submissions, comments = list(dumps.submissions), list(dumps.comments)
    real = SHARED_DATA / "reddit_pushshift"
    if real.is_dir():
        rs_real, rs_stand_ins, rc_real = real_dumps(workdir / "dumps", real)
        submissions += [rs_real, rs_stand_ins]
        comments.append(rc_real)
    rs1 = dumps.submissions[0]
    override(workdir, "hostile", submissions, comments, sha256={rs1.name: sha256_of(rs1)})
    result = snakemake(workdir, "results/hostile/data/threads/manifest.json",
                       overrides="over.yaml")
    assert result.returncode == 0, result.stderr[-4000:]
    manifest = json.loads((workdir / "results/hostile/data/threads/manifest.json").read_text())
    entries = {e["file"].rsplit("/", 1)[1]: e for e in manifest["submissions"] + manifest["comments"]}
    rows = [r for s in sorted((workdir / "results/hostile/data/threads").glob("shard-*.parquet"))
            for r in pq.read_table(s).to_pylist()]
    return {"workdir": workdir, "dumps": dumps, "manifest": manifest, "entries": entries,
            "rows": rows, "files": submissions + comments}


def test_every_line_of_every_file_is_accounted_for(hostile):
    for path in hostile["files"]:
        entry = hostile["entries"][path.name]
        assert entry["kept"] + sum(entry["dropped"].values()) == entry["read"], path.name
        assert entry["read"] == file_lines(path), path.name


def test_every_line_meets_its_expected_fate_at_its_line_number(hostile):
    for name, case in hostile["dumps"].cases.items():
        entry = hostile["entries"][name]
        assert entry["dropped"] == case.dropped(), name
        assert entry["first_lines"] == case.first_lines(), name
        assert entry["kept"] == case.fates.count("kept"), name


def test_every_valid_and_odd_but_valid_line_survives(hostile):
    rows = hostile["rows"]
    assert {r["post_id"] for r in rows} == hostile["dumps"].kept_posts
    assert {r["comment_id"] for r in rows} == hostile["dumps"].kept_comments
    by_post = {r["post_id"]: r for r in rows}
    assert {by_post[p]["post_created_utc"] for p in by_post} == {1546300800}
    assert by_post["ov1"]["title"] == post("ok")["title"]
    assert "\u2014" in by_post["ov9"]["title"]
    post_scores = {r["post_id"]: r["parent_score"] for r in rows if r["depth"] == 0}
    assert post_scores["ov1"] == post_scores["ov2"] == 12  # "12" and 12.0
    assert post_scores["ov3"] == 0 and post_scores["ov4"] == 7  # -0.0; duplicate key: the last
    assert {r["score"] for r in rows if r["comment_id"] == "amb5"} == {5}  # "5"


def test_the_empty_month_and_the_unchecked_frames_are_warned_about(hostile):
    warnings = hostile["manifest"]["warnings"]
    assert any("RS_2019-03.zst: the dump yielded 0 lines" in w for w in warnings)
    assert any("RC_2019-01.zst: 1 of 1 zstd frame(s) carry no checksum" in w for w in warnings)
    assert not any("RS_2019-01.zst" in w for w in warnings)  # its frame carries a checksum
    log = hostile["workdir"] / "results/hostile/logs/data/select_posts/RS_2019-03.log"
    assert "yielded 0 lines" in log.read_text()


def test_a_dump_with_a_sha256_is_verified_once(hostile):
    workdir = hostile["workdir"]
    record = json.loads((workdir / "resources/checksums/RS_2019-01.sha256.json").read_text())
    assert record["sha256"] == sha256_of(hostile["dumps"].submissions[0])
    plan = snakemake(workdir, "-n", "results/hostile/data/threads/manifest.json",
                     overrides="over.yaml")
    assert plan.returncode == 0 and planned_jobs(plan.stdout) == set(), plan.stdout[-2000:]


@needs_shared_data
def test_every_real_line_of_2005_to_2024_is_read_as_valid(hostile):
    for name in ("RS_2020-01.ndjson", "RC_2020-01.zst"):
        entry = hostile["entries"][name]
        assert entry["read"] in (27, 31) and not BAD_LINE_REASONS & set(entry["dropped"]), entry
    # each real comment's post was a candidate, so every real comment went through the parse
    assert "post_not_kept" not in hostile["entries"]["RC_2020-01.zst"]["dropped"]


def test_a_zero_byte_dump_stops_its_job_by_name_and_a_rerun_keeps_the_failed_log(tmp_path):
    """Defect 2 through Snakemake, and defect 9: Snakemake deletes a job's log before it runs the
    job again; the failed attempt's log must survive above the new attempt's."""
    rs = tmp_path / "dumps/RS_2019-01.zst"
    rs.parent.mkdir()
    rs.write_bytes(b"")
    rc = write_dump(tmp_path / "dumps/RC_2019-01.zst", [])
    override(tmp_path, "zero", [rs], [rc])
    target = "results/zero/data/posts/RS_2019-01.parquet"
    failed = snakemake(tmp_path, target, overrides="over.yaml")
    assert failed.returncode != 0
    log = tmp_path / "results/zero/logs/data/select_posts/RS_2019-01.log"
    assert "RS_2019-01.zst: the file is empty (0 bytes)" in log.read_text()
    write_dump(rs, [post("p1")])
    assert snakemake(tmp_path, target, overrides="over.yaml").returncode == 0
    text = log.read_text()
    assert text.index("the file is empty (0 bytes)") < text.index("karma job attempt 2") < text.index(
        "kept 1 of 1 posts")


def test_a_dump_whose_sha256_differs_is_refused_by_name(tmp_path):
    rs = write_dump(tmp_path / "dumps/RS_2019-01.zst", [post("p1")])
    rc = write_dump(tmp_path / "dumps/RC_2019-01.zst", [])
    override(tmp_path, "sha", [rs], [rc], sha256={"RS_2019-01.zst": "0" * 64})
    result = snakemake(tmp_path, "results/sha/data/posts/RS_2019-01.parquet", overrides="over.yaml")
    assert result.returncode != 0
    log = (tmp_path / "resources/logs/verify_dump/RS_2019-01.log").read_text()
    assert "RS_2019-01.zst: SHA-256 is" in log and "reddit.sha256 of RS_2019-01 requires" in log
    assert not (tmp_path / "results/sha/data/posts/RS_2019-01.parquet").exists()
    override(tmp_path, "sha", [rs], [rc], sha256={"RS_2019-0l.zst": "0" * 64})
    typo = snakemake(tmp_path, "-n", overrides="over.yaml")
    assert typo.returncode != 0 and "'RS_2019-0l.zst' is not the file name of a configured" in (
        typo.stdout + typo.stderr)
