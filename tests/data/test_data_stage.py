"""The data stage end to end on hand-made dumps: posts -> comments -> threads -> examples."""

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from reddit_fixtures import comment, post, write_dump

from karma.data.comment_collection import collect_comments
from karma.data.examples import build_examples, is_test_post, permute_labels
from karma.data.filters import RedditFilters
from karma.data.labels import LabelRule
from karma.data.post_selection import select_posts
from karma.data.prompts import (
    build_heldout_prompts,
    build_reddit_prompts,
    build_ultrachat_prompts,
    is_heldout_prompt,
)
from karma.data.prompts import build_reddit_prompts
from karma.data.pushshift import iter_lines
from karma.data.threads import ThreadOptions, build_threads

FILTERS = RedditFilters()


def make_dumps(root: Path) -> tuple[list[Path], list[Path]]:
    posts = [post(f"p{i}", subreddit=f"sub{i % 3}", score=10 + i) for i in range(30)]
    posts += [
        post("x1", over_18=True),
        post("x2", is_self=False, selftext="", url="https://example.com"),
        post("x3", selftext="[removed]"),
        post("p0"),  # duplicate across files
    ]
    comments = []
    for i in range(30):
        pid = f"p{i}"
        n_top = 1 if i % 10 == 0 else 3  # every tenth post has too few responses
        for j in range(n_top):
            cid = f"c{i}_{j}"
            comments.append(comment(cid, pid, score=(j * 7) % 12, subreddit=f"sub{i % 3}"))
            comments.append(comment(f"{cid}_r", pid, parent=f"t1_{cid}", score=j))
        comments.append(comment(f"d{i}", pid, body="[deleted]"))
        comments.append(comment(f"o{i}", pid, parent="t1_gone"))  # parent not in the dumps
    comments.append(comment("n1", "nopost"))
    # A reply in another language is substantive, so p10 reaches two responses; it is no example.
    comments.append(comment("g10", "p10", body="Das ist wirklich eine sehr gute Frage, ich habe "
                            "das gleiche Problem im Garten."))
    rs = [write_dump(root / "RS_2019-01.zst", posts[:20] + [b"{broken", b"", posts[30]]),
          write_dump(root / "RS_2019-02.ndjson", posts[20:30] + posts[31:], compress=False)]
    rc = [write_dump(root / "RC_2019-01.zst", comments[:100] + [b"not json"]),
          write_dump(root / "RC_2019-02.zst", comments[100:])]
    return rs, rc


def run_stage(root: Path, *, max_posts: int | None = None, seed: int = 7,
              candidate_fraction: float = 1.0) -> dict:
    rs, rc = make_dumps(root / "dumps")
    out = root / "out"
    post_files, post_counts, comment_files, comment_counts = [], [], [], []
    for dump in rs:
        post_files.append(out / f"{dump.stem}.posts.parquet")
        post_counts.append(out / f"{dump.stem}.posts.json")
        select_posts(dump, post_files[-1], post_counts[-1], FILTERS, seed=seed,
                     candidate_fraction=candidate_fraction)
    for dump in rc:
        comment_files.append(out / f"{dump.stem}.comments.parquet")
        comment_counts.append(out / f"{dump.stem}.comments.json")
        collect_comments(dump, post_files, comment_files[-1], comment_counts[-1], FILTERS)
    shards = [out / f"threads/shard-{k}.parquet" for k in range(3)]
    options = ThreadOptions(max_posts=max_posts, n_shards=3, seed=seed, max_parents=4,
                            max_siblings=2, candidate_fraction=candidate_fraction)
    manifest = build_threads(post_files, post_counts, comment_files, comment_counts, shards,
                             out / "threads/manifest.json", FILTERS, options)
    return {"manifest": manifest, "shards": shards, "out": out, "rs": rs, "rc": rc}


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    return run_stage(tmp_path_factory.mktemp("stage"))


def test_manifest_reconciles_every_line(stage):
    manifest = stage["manifest"]
    for entry in manifest["submissions"] + manifest["comments"]:
        assert entry["kept"] + sum(entry["dropped"].values()) == entry["read"]
    lines = sum(len(p.read_bytes().splitlines()) for p in stage["rs"] if p.suffix == ".ndjson")
    assert manifest["submissions"][1]["read"] == lines
    dropped = {}
    for entry in manifest["submissions"]:
        for reason, n in entry["dropped"].items():
            dropped[reason] = dropped.get(reason, 0) + n
    assert dropped == {"malformed_json": 1, "blank_line": 1, "over_18": 1, "not_text_post": 1,
                       "deleted_or_removed": 1, "duplicate": 1, "too_few_responses": 2}
    comments = {}
    for entry in manifest["comments"]:
        for reason, n in entry["dropped"].items():
            comments[reason] = comments.get(reason, 0) + n
    assert comments["deleted_or_removed"] == 28 and comments["missing_parent"] == 28
    assert comments["post_not_kept"] == 1 and comments["malformed_json"] == 1
    assert comments["non_english"] == 1
    assert manifest["totals"]["posts"] == 28 and manifest["totals"]["comments"] == 27 * 6 + 2


def test_threads_carry_chain_siblings_and_parent_score(stage):
    rows = [r for s in stage["shards"] for r in pq.read_table(s).to_pylist()]
    by_id = {r["comment_id"]: r for r in rows}
    reply = by_id["c1_2_r"]
    assert reply["parents"] == [by_id["c1_2"]["body"]] and reply["depth"] == 1
    assert reply["parent_score"] == by_id["c1_2"]["score"]
    top = by_id["c1_0"]
    assert top["parent_score"] == 11 and top["parents"] == []
    assert top["siblings"] == [by_id["c1_1"]["body"], by_id["c1_2"]["body"]]
    assert all(len(r["siblings"]) <= 2 for r in rows)


def test_shards_are_by_stable_hash_of_post(stage):
    from karma.stable_hash import shard_of

    for k, shard in enumerate(stage["shards"]):
        assert {shard_of(p, 3) for p in pq.read_table(shard)["post_id"].to_pylist()} <= {k}


def test_same_seed_same_shards(tmp_path, stage):
    again = run_stage(tmp_path)
    for a, b in zip(stage["shards"], again["shards"]):
        assert pq.read_table(a).equals(pq.read_table(b))


def test_sampling_is_deterministic_and_bounded(tmp_path):
    first = run_stage(tmp_path / "a", max_posts=10, seed=3)
    second = run_stage(tmp_path / "b", max_posts=10, seed=3)
    other = run_stage(tmp_path / "c", max_posts=10, seed=4)

    assert len(thread_posts(first)) == 10
    assert thread_posts(first) == thread_posts(second) != thread_posts(other)
    assert dropped(first["manifest"]["submissions"], "not_sampled") == 18


def thread_posts(run: dict) -> list[str]:
    return sorted({p for s in run["shards"] for p in pq.read_table(s)["post_id"].to_pylist()})


def dropped(entries: list[dict], reason: str) -> int:
    return sum(entry["dropped"].get(reason, 0) for entry in entries)


def test_candidate_sampling_cannot_change_the_sample(tmp_path):
    full = run_stage(tmp_path / "full", max_posts=10, seed=3)
    part = run_stage(tmp_path / "part", max_posts=10, seed=3, candidate_fraction=0.6)
    assert thread_posts(part) == thread_posts(full)
    for run in (full, part):
        for entry in run["manifest"]["submissions"] + run["manifest"]["comments"]:
            assert entry["kept"] + sum(entry["dropped"].values()) == entry["read"]
    # Fewer comments were collected: the posts left out never reached the comment scan.
    assert (dropped(part["manifest"]["comments"], "post_not_kept")
            > dropped(full["manifest"]["comments"], "post_not_kept"))
    assert sum(e["kept"] for e in part["manifest"]["submissions"]) == 10


def test_too_few_candidates_stop_the_run_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"raise reddit\.candidate_fraction"):
        run_stage(tmp_path, max_posts=25, seed=3, candidate_fraction=0.5)


@pytest.mark.parametrize("setting", ["generalized", "conditioned"])
def test_examples_split_by_thread_with_labels(stage, setting):
    out = stage["out"] / setting
    stats = build_examples(stage["shards"], setting, out / "train.parquet", out / "test.parquet",
                           out / "stats.json", LabelRule(), seed=1, test_fraction=0.3,
                           max_turn_chars=300)
    train = pq.read_table(out / "train.parquet").to_pylist()
    test = pq.read_table(out / "test.parquet").to_pylist()
    assert len(train) + len(test) == 27 * 6 + 2 == stats["threads_rows"]
    assert not {r["post_id"] for r in train} & {r["post_id"] for r in test}
    assert test and train
    nonpositive = [row for row in train + test if row["parent_score"] <= 0]
    assert nonpositive and any(row["score"] >= 0.4 * row["parent_score"] for row in nonpositive)
    for row in train + test:
        if row["parent_score"] > 0:
            assert row["label"] == int(row["score"] >= 0.4 * row["parent_score"]), row
        else:  # label.nonpositive_parent: positive_score (the default)
            assert row["label"] == int(row["score"] > 0), row
        has_meta = row["subreddit"] in row["text"] or "2019" in row["text"]
        assert has_meta == (setting == "conditioned")
        assert "someone" not in row["text"]
    assert json.loads((out / "stats.json").read_text())["train"]["examples"] == len(train)


def test_reddit_prompts_come_from_training_threads(stage, tmp_path):
    from karma.data.examples import is_test_post

    out = tmp_path / "reddit.parquet"
    n = build_reddit_prompts(stage["shards"], out, seed=1, test_fraction=0.3, max_prompts=None,
                             max_turn_chars=300)
    rows = pq.read_table(out).to_pylist()
    assert n == len(rows) > 0
    assert len({r["prompt_id"] for r in rows}) == n
    assert all(r["source"] == "reddit" for r in rows)
    posts = [r["prompt_id"][3:] for r in rows if r["prompt_id"].startswith("t3_")]
    assert posts and not any(is_test_post(p, 1, 0.3) for p in posts)


def write_ultrachat(path: Path, n: int = 60) -> Path:
    import hashlib

    import pyarrow as pa

    rows = []
    for i in range(n):
        prompt = f"How do I water plant number {i}?"
        rows.append({"prompt": prompt, "prompt_id": hashlib.sha256(prompt.encode()).hexdigest(),
                     "messages": [{"content": prompt, "role": "user"}, {"content": "Daily.", "role": "assistant"}]})
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_heldout_prompts_were_never_ppo_prompts(stage, tmp_path):
    """The reward benchmark's items: test-split Reddit contexts and UltraChat prompts PPO never sees."""
    source = write_ultrachat(tmp_path / "ultrachat.parquet")
    seed, test_fraction, heldout_fraction = 1, 0.3, 0.25
    ppo_reddit, ppo_ultra, heldout = (tmp_path / f"{n}.parquet" for n in ("reddit", "ultra", "heldout"))
    build_reddit_prompts(stage["shards"], ppo_reddit, seed=seed, test_fraction=test_fraction,
                         max_prompts=None, max_turn_chars=300)
    n_ppo = build_ultrachat_prompts(source, ppo_ultra, seed=seed, max_prompts=None, mode="first_turn",
                                    max_turn_chars=300, heldout_fraction=heldout_fraction)
    counts = build_heldout_prompts(stage["shards"], source, heldout, seed=seed, test_fraction=test_fraction,
                                   heldout_fraction=heldout_fraction, reddit_prompts=1000, ultrachat_prompts=5,
                                   mode="first_turn", max_turn_chars=300)
    rows = pq.read_table(heldout).to_pylist()
    ids = {r["prompt_id"] for r in rows}
    ppo_ids = {r["prompt_id"] for path in (ppo_reddit, ppo_ultra) for r in pq.read_table(path).to_pylist()}
    assert not ids & ppo_ids
    ultra = [r for r in rows if r["source"] == "ultrachat"]
    n_heldout = sum(is_heldout_prompt(r["prompt_id"], seed, heldout_fraction)
                    for r in pq.read_table(source).to_pylist())
    assert 0 < n_heldout < 60 and n_ppo == 60 - n_heldout  # every prompt is on exactly one side
    assert counts == {"reddit": len(rows) - len(ultra), "ultrachat": len(ultra)} and len(ultra) == 5
    reddit_posts = [r["prompt_id"][3:] for r in rows if r["prompt_id"].startswith("t3_")]
    assert reddit_posts and all(is_test_post(p, seed, test_fraction) for p in reddit_posts)
    # The same inputs give the same items (the cell pairs variants by these ids).
    again = tmp_path / "again.parquet"
    build_heldout_prompts(stage["shards"], source, again, seed=seed, test_fraction=test_fraction,
                          heldout_fraction=heldout_fraction, reddit_prompts=1000, ultrachat_prompts=5,
                          mode="first_turn", max_turn_chars=300)
    assert pq.read_table(again).equals(pq.read_table(heldout))


def test_permuted_labels_keep_examples_and_label_rate(stage, tmp_path):
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    build_examples(stage["shards"], "generalized", train, test, tmp_path / "stats.json",
                   LabelRule(), seed=1, test_fraction=0.3, max_turn_chars=300)
    out = tmp_path / "train_permuted.parquet"
    stats = permute_labels(train, out, seed=3)
    before, after = pq.read_table(train), pq.read_table(out)
    assert after.schema == before.schema and after.drop(["label"]).equals(before.drop(["label"]))
    labels, permuted = before.column("label").to_pylist(), after.column("label").to_pylist()
    assert sorted(labels) == sorted(permuted) and labels != permuted
    assert stats["examples"] == len(labels) and stats["labels_changed"] > 0
    permute_labels(train, tmp_path / "again.parquet", seed=3)
    assert pq.read_table(tmp_path / "again.parquet").equals(after)
    pq.write_table(pq.read_table(train).drop(["label"]), tmp_path / "unlabelled.parquet")
    with pytest.raises(ValueError, match="'label' column"):
        permute_labels(tmp_path / "unlabelled.parquet", out, seed=3)


def test_the_manifest_says_where_every_dropped_line_is(stage):
    """Defect 10: per dump and reason, the first line numbers point at lines of that kind, for
    the readers' reasons and for the thread builder's (duplicate, missing_parent, ...)."""
    for entry in stage["manifest"]["submissions"] + stage["manifest"]["comments"]:
        assert set(entry["first_lines"]) == set(entry["dropped"])
        lines = [b""] + list(iter_lines(entry["file"]))
        for reason, numbers in entry["first_lines"].items():
            assert numbers == sorted(numbers) and len(numbers) == min(20, entry["dropped"][reason])
            for number in numbers:
                line = lines[number]
                if reason == "duplicate":
                    assert b'"p0"' in line
                elif reason == "missing_parent":
                    assert b"t1_gone" in line
                elif reason == "deleted_or_removed":
                    assert b"[deleted]" in line or b"[removed]" in line
                elif reason == "malformed_json":
                    assert line in (b"{broken", b"not json")


def one_month(root: Path, posts: list, comments: list) -> dict:
    """The data stage on one RS and one RC dump, one shard; returns the manifest."""
    rs = write_dump(root / "RS_2019-01.zst", posts)
    rc = write_dump(root / "RC_2019-01.zst", comments)
    out = root / "out"
    select_posts(rs, out / "p.parquet", out / "p.json", FILTERS)
    collect_comments(rc, [out / "p.parquet"], out / "c.parquet", out / "c.json", FILTERS)
    return build_threads([out / "p.parquet"], [out / "p.json"], [out / "c.parquet"],
                         [out / "c.json"], [out / "s.parquet"], out / "m.json", FILTERS,
                         ThreadOptions(None, 1, 0, 4, 2))


def test_a_comment_whose_parents_form_a_cycle_is_a_missing_parent(tmp_path):
    """Parent ids pointing at each other (or at themselves) end the walk up the thread."""
    posts = [post("p1"), post("p2")]
    comments = [comment("a", "p1"), comment("b", "p1"), comment("x", "p1", parent="t1_y"),
                comment("y", "p1", parent="t1_x"), comment("z", "p1", parent="t1_z")]
    [entry] = one_month(tmp_path, posts, comments)["comments"]
    assert entry["kept"] == 2 and entry["dropped"] == {"missing_parent": 3}
    assert entry["first_lines"] == {"missing_parent": [3, 4, 5]}


def test_an_empty_submissions_month_is_a_warning_in_the_manifest(tmp_path):
    """Defect 2: with an empty RS month every comment became post_not_kept and the stage
    succeeded with 0 examples, silently. The manifest and the log now say so."""
    manifest = one_month(tmp_path, [], [comment("a", "p1"), comment("b", "p1")])
    assert any("RS_2019-01.zst: the dump yielded 0 lines" in w for w in manifest["warnings"])
    assert any("no thread row" in w for w in manifest["warnings"])
    assert manifest["submissions"][0]["warnings"] and manifest["comments"][0]["warnings"] == []


@pytest.mark.parametrize("stage_name", ["posts", "comments"])
def test_an_unexpected_error_on_a_line_names_the_file_and_the_line(tmp_path, monkeypatch,
                                                                   stage_name):
    """Issue 14, defect 1: anything unexpected stops the job with the file and line to look at,
    and leaves no half-written output."""
    import karma.data.comment_collection
    import karma.data.post_selection
    from karma.data.pushshift import DumpLineError

    def explode(value, *_):
        if "p2" in str(value) or "c2" in str(value):
            raise ZeroDivisionError("a bug")

    rs = write_dump(tmp_path / "RS_2019-01.zst", [post("p1"), post("p2")])
    rc = write_dump(tmp_path / "RC_2019-01.zst", [comment("c1", "p1"), comment("c2", "p1")])
    out = tmp_path / "out"
    if stage_name == "posts":
        monkeypatch.setattr(karma.data.post_selection, "submission_drop_reason",
                            lambda post, _: explode(post.id))
        call, dump = (lambda: select_posts(rs, out / "p.parquet", out / "p.json", FILTERS)), rs
    else:
        select_posts(rs, out / "p.parquet", out / "p.json", FILTERS)
        monkeypatch.setattr(karma.data.comment_collection, "unsubstantive_reason", explode)
        call, dump = (lambda: collect_comments(rc, [out / "p.parquet"], out / "c.parquet",
                                               out / "c.json", FILTERS)), rc
    with pytest.raises(DumpLineError, match=f"{dump.name}: line 2: unexpected ZeroDivisionError"):
        call()
    assert not list(out.glob("*.tmp")) and not (out / "c.parquet").exists()


def test_dump_scans_log_percentage_of_the_file_and_eta(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("KARMA_PROGRESS_SECONDS", "0")  # a line per read block
    posts = [post(f"p{i}") for i in range(300)]
    rs = write_dump(tmp_path / "RS_2019-01.zst", posts)
    rc = write_dump(tmp_path / "RC_2019-01.ndjson", [comment(f"c{i}", f"p{i % 300}") for i in range(20000)],
                    compress=False)
    with caplog.at_level("INFO", logger="karma.data.pushshift"):
        select_posts(rs, tmp_path / "posts.parquet", tmp_path / "posts.json", FILTERS)
        collect_comments(rc, [tmp_path / "posts.parquet"], tmp_path / "c.parquet", tmp_path / "c.json",
                         FILTERS)
    lines = [r.getMessage() for r in caplog.records if r.name == "karma.data.pushshift"]
    size_kb = f"{rs.stat().st_size / 1e3:.1f}"
    assert any(line.startswith(f"posts {rs.name}: 100.0% ({size_kb} of {size_kb} kB)") and
               line.endswith("(done); 300 lines read, 300 kept") for line in lines)
    comment_lines = [line for line in lines if line.startswith(f"comments {rc.name}: ")]
    assert len(comment_lines) > 3 and "ETA" in comment_lines[1]  # the plain file is read in blocks
    assert comment_lines[-1].endswith("(done); 20000 lines read, 20000 kept")
    assert [float(line.split(": ")[1].split("%")[0]) for line in comment_lines] == sorted(
        float(line.split(": ")[1].split("%")[0]) for line in comment_lines)


# Thread P (post score 10) and thread Z (post score 0). A top-level reply's parent is the post.
# Hand-made labels (score vs ratio x parent score), per ratio: (0.25, 0.4, 0.5).
LABELLED = {
    # id: (score, parent comment or None for the post, labels at ratio 0.25 / 0.4 / 0.5)
    "a": (4, None, (1, 1, 0)),    # 4 of 10: 2.5 <= 4, 4 <= 4, 5 > 4
    "b": (3, None, (1, 0, 0)),    # 3 of 10
    "c": (5, None, (1, 1, 1)),    # 5 of 10
    "d": (2, None, (0, 0, 0)),    # 2 of 10: below 2.5
    "e": (1, "a", (1, 0, 0)),     # 1 of 4: 1 <= 1, 1.6 > 1
    "n": (-3, None, (0, 0, 0)),   # a downvoted top-level reply
}
# Replies to a parent with score <= 0 (n: -3, post Z: 0): label.nonpositive_parent decides.
NONPOSITIVE = {  # id: (score, parent comment or None for post Z, label under positive_score)
    "r1": (2, "n", 1), "r2": (0, "n", 0), "r3": (-1, "n", 0),
    "z1": (1, None, 1), "z2": (0, None, 0), "z3": (-2, None, 0),
}
POST_TIME = 1546300800  # 2019-01-01 00:00 UTC, a Tuesday
TIMES = {"a": 1546413300, "e": 1546720200}  # 2019-01-02 07:15 (Wednesday), 2019-01-05 20:30 (Saturday)


def labelled_threads(root: Path) -> list[Path]:
    posts = [post("P", subreddit="gardening", score=10, created_utc=POST_TIME),
             post("Z", subreddit="gardening", score=0, created_utc=POST_TIME)]
    comments = []
    for cid, (score, parent, _) in LABELLED.items():
        comments.append(comment(cid, "P", parent=parent and f"t1_{parent}", score=score,
                                created_utc=TIMES.get(cid, POST_TIME + 600)))
    for cid, (score, parent, _) in NONPOSITIVE.items():
        comments.append(comment(cid, "P" if parent else "Z", parent=parent and f"t1_{parent}",
                                score=score, created_utc=POST_TIME + 900))
    manifest = one_month(root, posts, comments)
    assert manifest["totals"]["comments"] == len(LABELLED) + len(NONPOSITIVE)
    return [root / "out" / "s.parquet"]


@pytest.mark.parametrize("mode", ["positive_score", "drop"])
@pytest.mark.parametrize("ratio_index", [0, 1, 2], ids=["0.25", "0.4", "0.5"])
def test_labels_are_exact_at_every_ratio_and_nonpositive_rule(tmp_path, ratio_index, mode):
    """Issue 16: the data stage labels each example exactly, at ratios other than the paper's 0.4 and
    under both label.nonpositive_parent modes (drop: those examples are left out and counted)."""
    ratio = (0.25, 0.4, 0.5)[ratio_index]
    shards = labelled_threads(tmp_path)
    rule = LabelRule.from_config({"ratio": ratio, "nonpositive_parent": mode})
    out = tmp_path / "examples"
    stats = build_examples(shards, "generalized", out / "train.parquet", out / "test.parquet",
                           out / "stats.json", rule, seed=1, test_fraction=0.5, max_turn_chars=300)
    rows = [r for split in ("train", "test") for r in pq.read_table(out / f"{split}.parquet").to_pylist()]
    got = {r["example_id"]: r["label"] for r in rows}
    expected = {cid: labels[ratio_index] for cid, (_, _, labels) in LABELLED.items()}
    if mode == "positive_score":
        expected |= {cid: label for cid, (_, _, label) in NONPOSITIVE.items()}
        assert "nonpositive_parent" not in stats["dropped"]
    else:
        assert stats["dropped"] == {"nonpositive_parent": len(NONPOSITIVE)}
    assert got == expected
    assert stats["label_rule"] == {"ratio": ratio, "nonpositive_parent": mode}
    cases = LABELLED | NONPOSITIVE
    parent_scores = {cid: cases[parent][0] if parent else (10 if cid in LABELLED else 0)
                     for cid, (_, parent, _) in cases.items()}
    assert {r["example_id"]: (r["score"], r["parent_score"]) for r in rows} == {
        cid: (cases[cid][0], parent_scores[cid]) for cid in expected}


def test_conditioned_example_shows_subreddit_and_the_replys_own_time(tmp_path):
    """Issue 16: the conditioned text, exact: the post's subreddit and the reply's OWN posting time
    (not the post's, not its parent's), in UTC with the weekday; the generalized text has neither."""
    import time

    shards = labelled_threads(tmp_path)
    texts = {}
    for setting in ("generalized", "conditioned"):
        out = tmp_path / setting
        build_examples(shards, setting, out / "train.parquet", out / "test.parquet", out / "stats.json",
                       LabelRule(), seed=1, test_fraction=0.0, max_turn_chars=300)
        texts[setting] = {r["example_id"]: r["text"] for r in pq.read_table(out / "train.parquet").to_pylist()}
    title, body = post("P")["title"], post("P")["selftext"]
    a_body, e_body = comment("a", "P")["body"], comment("e", "P")["body"]
    dialogue = f"<|user|>\n{title}\n\n{body}\n<|user|>\n{a_body}\n<|assistant|>\n{e_body}"
    assert texts["generalized"]["e"] == dialogue
    assert texts["conditioned"]["e"] == (
        "<|meta|>\nsubreddit: r/gardening\nposted: 2019-01-05 20:30 UTC (Saturday)\n" + dialogue)
    assert texts["conditioned"]["a"].startswith(
        "<|meta|>\nsubreddit: r/gardening\nposted: 2019-01-02 07:15 UTC (Wednesday)\n<|user|>\n")
    # The machine's time zone changes nothing: the time is UTC.
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        out = tmp_path / "elsewhere"
        build_examples(shards, "conditioned", out / "train.parquet", out / "test.parquet", out / "stats.json",
                       LabelRule(), seed=1, test_fraction=0.0, max_turn_chars=300)
        again = {r["example_id"]: r["text"] for r in pq.read_table(out / "train.parquet").to_pylist()}
    finally:
        if previous is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = previous
        time.tzset()
    assert again == texts["conditioned"]
