"""The data stage end to end on hand-made dumps: posts -> comments -> threads -> examples."""

import json
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
    for row in train + test:
        assert row["label"] == int(row["score"] >= 0.4 * row["parent_score"]) or (
            row["parent_score"] <= 0 and row["label"] == int(row["score"] > 0))
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
