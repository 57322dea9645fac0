"""Sampled subreddit and time for prompts without them (variants.<name>.metadata: sampled)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from karma.data.examples import EXAMPLE_SCHEMA
from karma.data.prompts import PROMPT_SCHEMA, sample_prompt_metadata

HOUR = 3600
BASE_TIME = 1_546_300_800  # 2019-01-01 00:00 UTC


def write_examples(path: Path, n: int = 1000) -> Path:
    """70% r/generous posted at 20:00, 30% r/harsh at 04:00: the joint draw must keep the pairing."""
    rows = []
    for i in range(n):
        generous = i % 10 < 7
        rows.append({"example_id": f"c{i:05d}", "post_id": f"p{i}", "subreddit": "generous" if generous else "harsh",
                     "created_utc": BASE_TIME + 86400 * (i % 28) + HOUR * (20 if generous else 4), "score": 1,
                     "parent_score": 1, "depth": 0, "label": 1, "text": "x"})
    pq.write_table(pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA), path)
    return path


def write_prompts(path: Path, n: int = 2000, reddit: int = 0) -> Path:
    rows = [{"prompt_id": f"u{i}", "source": "ultrachat", "title": f"request {i}", "body": "", "parents": [],
             "siblings": [], "subreddit": None, "created_utc": None} for i in range(n)]
    rows += [{"prompt_id": f"r{i}", "source": "reddit", "title": "post", "body": "", "parents": [], "siblings": [],
              "subreddit": "own", "created_utc": BASE_TIME + 7} for i in range(reddit)]
    pq.write_table(pa.Table.from_pylist(rows, schema=PROMPT_SCHEMA), path)
    return path


def test_draws_follow_the_training_distribution_jointly(tmp_path: Path) -> None:
    examples = write_examples(tmp_path / "train.parquet")
    prompts = write_prompts(tmp_path / "ultrachat.parquet", reddit=5)
    counts = sample_prompt_metadata(prompts, examples, tmp_path / "out.parquet", seed=3)
    assert counts == {"prompts": 2005, "drawn": 2000, "kept_own": 5, "pool": 1000, "subreddits_drawn": 3}
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["prompt_id"] for r in rows] == [f"u{i}" for i in range(2000)] + [f"r{i}" for i in range(5)]
    drawn = [r for r in rows if r["source"] == "ultrachat"]
    share = Counter(r["subreddit"] for r in drawn)["generous"] / len(drawn)
    assert share == pytest.approx(0.7, abs=0.035)  # binomial sd 0.010: 3.5 sd
    for row in drawn:  # subreddit and hour come from the same example
        hour = (row["created_utc"] - BASE_TIME) % 86400 // HOUR
        assert hour == (20 if row["subreddit"] == "generous" else 4)
    assert all(r["subreddit"] == "own" and r["created_utc"] == BASE_TIME + 7 for r in rows if r["source"] == "reddit")
    assert {k: v for k, v in rows[0].items() if k not in ("subreddit", "created_utc")} == {
        "prompt_id": "u0", "source": "ultrachat", "title": "request 0", "body": "", "parents": [], "siblings": []}


def test_draws_are_seeded_and_fixed_per_prompt(tmp_path: Path) -> None:
    examples = write_examples(tmp_path / "train.parquet")
    prompts = write_prompts(tmp_path / "ultrachat.parquet", n=50)
    fewer = write_prompts(tmp_path / "fewer.parquet", n=20)
    runs = {}
    for name, source, seed in (("a", prompts, 3), ("b", prompts, 3), ("c", prompts, 4), ("d", fewer, 3)):
        sample_prompt_metadata(source, examples, tmp_path / f"{name}.parquet", seed=seed)
        rows = pq.read_table(tmp_path / f"{name}.parquet").to_pylist()
        runs[name] = [(r["subreddit"], r["created_utc"]) for r in rows]
    assert runs["a"] == runs["b"] and runs["a"] != runs["c"]
    assert runs["d"] == runs["a"][:20]  # a prompt's draw does not depend on the other prompts


def test_no_example_to_draw_from_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist([], schema=EXAMPLE_SCHEMA), empty)
    with pytest.raises(ValueError, match="hold no example with a subreddit and a time"):
        sample_prompt_metadata(write_prompts(tmp_path / "p.parquet", n=3), empty, tmp_path / "out.parquet", seed=0)
    assert not (tmp_path / "out.parquet").exists()
