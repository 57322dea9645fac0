"""Reward-model examples: one per kept comment, labelled, rendered in one setting, split by thread.

The split is decided per post with a seeded hash, so no thread is on both sides and the split of a
post never changes when other posts are added or removed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from karma.data.labels import LabelRule
from karma.formats import Conversation, render_example, truncate
from karma.parquet_io import write_json
from karma.stable_hash import stable_unit

log = logging.getLogger(__name__)

EXAMPLE_SCHEMA = pa.schema(
    [
        ("example_id", pa.string()),
        ("post_id", pa.string()),
        ("subreddit", pa.string()),
        ("created_utc", pa.int64()),
        ("score", pa.int64()),
        ("parent_score", pa.int64()),
        ("depth", pa.int32()),
        ("label", pa.int8()),
        ("text", pa.string()),
    ]
)


def is_test_post(post_id: str, seed: int, test_fraction: float) -> bool:
    return stable_unit(seed, "split", post_id) < test_fraction


def conversation_from_thread(row: dict[str, Any], max_turn_chars: int) -> Conversation:
    """The context of a thread row: its post, parent chain and siblings, each turn bounded."""
    return Conversation(
        title=truncate(row["title"], max_turn_chars),
        body=truncate(row["selftext"], max_turn_chars),
        parents=tuple(truncate(p, max_turn_chars) for p in row["parents"]),
        siblings=tuple(truncate(s, max_turn_chars) for s in row["siblings"]),
        subreddit=row["subreddit"],
        created_utc=row["created_utc"],
    )


def read_thread_rows(shard_paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in shard_paths:
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def build_examples(
    shard_paths: Sequence[str | Path],
    setting: str,
    train_path: str | Path,
    test_path: str | Path,
    stats_path: str | Path,
    rule: LabelRule,
    *,
    seed: int,
    test_fraction: float,
    max_turn_chars: int,
) -> dict[str, Any]:
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    dropped: Counter[str] = Counter()
    rows = read_thread_rows(shard_paths)
    for row in rows:
        label = rule.label(row["score"], row["parent_score"])
        if label is None:
            dropped["nonpositive_parent"] += 1
            continue
        conv = conversation_from_thread(row, max_turn_chars)
        split = "test" if is_test_post(row["post_id"], seed, test_fraction) else "train"
        splits[split].append(
            {
                "example_id": row["comment_id"],
                "post_id": row["post_id"],
                "subreddit": row["subreddit"],
                "created_utc": row["created_utc"],
                "score": row["score"],
                "parent_score": row["parent_score"],
                "depth": row["depth"],
                "label": label,
                "text": render_example(conv, truncate(row["body"], max_turn_chars), setting),
            }
        )
    for name, path in (("train", train_path), ("test", test_path)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        split_rows = sorted(splits[name], key=lambda r: r["example_id"])
        pq.write_table(pa.Table.from_pylist(split_rows, schema=EXAMPLE_SCHEMA), path,
                       compression="zstd")
    stats = {
        "setting": setting,
        "label_rule": rule.to_dict(),
        "threads_rows": len(rows),
        "dropped": dict(dropped),
        **{
            name: {
                "examples": len(split_rows),
                "posts": len({r["post_id"] for r in split_rows}),
                "positive_rate": (sum(r["label"] for r in split_rows) / len(split_rows))
                if split_rows else None,
            }
            for name, split_rows in splits.items()
        },
    }
    write_json(stats, stats_path)
    log.info("examples %s: %s", setting, stats)
    return stats


def permute_labels(train_path: str | Path, out_path: str | Path, *, seed: int) -> dict[str, Any]:
    """The negative control's training split: the same examples with their labels permuted (seeded).

    A reward model trained on it sees the karma split's texts and label rate but no link between
    them, so its held-out AUC should be about 0.5; PPO against it shows what PPO does without the
    karma signal.
    """
    table = pq.read_table(train_path)
    if "label" not in table.column_names or table.num_rows == 0:
        raise ValueError(f"{train_path}: a reward training split with a 'label' column and rows is needed")
    labels = table.column("label").to_numpy()
    permuted = labels[np.random.default_rng([seed, 0x9E3779B9]).permutation(len(labels))]
    index = table.column_names.index("label")
    out = table.set_column(index, table.schema.field(index), pa.array(permuted, type=table.schema.field(index).type))
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, out_path, compression="zstd")
    stats = {"examples": len(labels), "positive_rate": float(labels.mean()),
             "labels_changed": float((permuted != labels).mean())}
    log.info("permuted the labels of %s: %s", train_path, stats)
    return stats
