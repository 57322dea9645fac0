"""The demo data stage through Snakemake itself, in a scratch working directory."""

import json

import pyarrow.parquet as pq
import pytest
from workflow_runner import planned_jobs, snakemake


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf")
    (workdir / "small.yaml").write_text(
        "run: small\ndemo:\n  n_posts: 300\nreddit:\n  max_posts: 200\n  shards: 2\n"
    )
    result = snakemake(workdir, "results/small/data/threads/manifest.json",
                       *[f"results/small/data/reward/{s}/{split}.parquet"
                         for s in ("generalized", "conditioned") for split in ("train", "test")],
                       "results/small/data/prompts/reddit.parquet",
                       "results/small/data/prompts/ultrachat.parquet")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_every_dump_line_is_accounted_for(demo_data):
    manifest = json.loads((demo_data / "results/small/data/threads/manifest.json").read_text())
    assert len(manifest["submissions"]) == 2 and len(manifest["comments"]) == 2
    for entry in manifest["submissions"] + manifest["comments"]:
        assert entry["kept"] + sum(entry["dropped"].values()) == entry["read"] > 0
    reasons = set()
    for entry in manifest["submissions"] + manifest["comments"]:
        reasons |= set(entry["dropped"])
    # the demo dumps exercise every filter
    assert {"over_18", "not_text_post", "non_english", "deleted_or_removed", "malformed_json",
            "too_few_responses", "not_sampled", "empty_text"} <= reasons
    assert manifest["totals"]["posts"] == 200


def test_examples_have_the_documented_columns(demo_data):
    base = demo_data / "results/small/data/reward"
    for setting in ("generalized", "conditioned"):
        train = pq.read_table(base / setting / "train.parquet")
        assert {"example_id", "post_id", "subreddit", "created_utc", "score", "parent_score",
                "label", "text"} <= set(train.column_names)
        rows = train.to_pylist()
        leaks = sum(r["subreddit"] in r["text"] for r in rows)
        assert (leaks == len(rows)) if setting == "conditioned" else leaks == 0


def test_each_job_wrote_a_log(demo_data):
    logs = list((demo_data / "results/small/logs").rglob("*.log"))
    names = {p.parent.name if p.parent.name != "data" else p.stem for p in logs}
    assert {"select_posts", "collect_comments", "build_threads", "build_examples"} <= names


def test_deleting_one_output_rebuilds_only_that(demo_data):
    target = "results/small/data/reward/generalized/test.parquet"
    (demo_data / target).unlink()
    plan = snakemake(demo_data, "-n", target)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert planned_jobs(plan.stdout) == {"build_examples"}, plan.stdout[-2000:]
    assert snakemake(demo_data, target).returncode == 0
    assert (demo_data / target).exists()
