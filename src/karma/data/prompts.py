"""Prompts for PPO as structured conversations, rendered per setting only at training time.

Both sources share one schema, so the PPO stage formats Reddit and UltraChat prompts through the
same ``karma.formats`` code the reward model was trained with.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from karma.data.examples import (
    conversation_from_thread,
    is_test_post,
    read_thread_rows,
)
from karma.formats import Conversation, truncate
from karma.parquet_io import read_stage_table
from karma.stable_hash import stable_unit

log = logging.getLogger(__name__)

PROMPT_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("parents", pa.list_(pa.string())),
        ("siblings", pa.list_(pa.string())),
        ("subreddit", pa.string()),
        ("created_utc", pa.int64()),
    ]
)


def conversation_from_prompt(row: dict[str, Any]) -> Conversation:
    return Conversation(
        title=row["title"],
        body=row["body"],
        parents=tuple(row["parents"]),
        siblings=tuple(row["siblings"]),
        subreddit=row["subreddit"],
        created_utc=row["created_utc"],
    )


def _prompt_row(prompt_id: str, source: str, conv: Conversation) -> dict[str, Any]:
    return {
        "prompt_id": prompt_id,
        "source": source,
        "title": conv.title,
        "body": conv.body,
        "parents": list(conv.parents),
        "siblings": list(conv.siblings),
        "subreddit": conv.subreddit,
        "created_utc": conv.created_utc,
    }


def _limit(rows: list[dict[str, Any]], max_prompts: int | None, seed: int) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (stable_unit(seed, "prompt", r["prompt_id"]), r["prompt_id"]))
    return rows if max_prompts is None else rows[:max_prompts]


def _write(rows: list[dict[str, Any]], out_path: str | Path) -> None:
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PROMPT_SCHEMA), out_path, compression="zstd")


def _reddit_contexts(
    shard_paths: Sequence[str | Path], *, seed: int, test_fraction: float, max_turn_chars: int,
    split: Literal["train", "test"],
) -> list[dict[str, Any]]:
    """One prompt per replied-to context (post or comment) of the threads on one side of the split."""
    rows: dict[str, dict[str, Any]] = {}
    for row in sorted(read_thread_rows(shard_paths), key=lambda r: r["comment_id"]):
        if is_test_post(row["post_id"], seed, test_fraction) != (split == "test") or row["parent_id"] in rows:
            continue
        conv = conversation_from_thread(row, max_turn_chars)
        rows[row["parent_id"]] = _prompt_row(row["parent_id"], "reddit", conv)
    return list(rows.values())


def build_reddit_prompts(
    shard_paths: Sequence[str | Path], out_path: str | Path, *, seed: int, test_fraction: float,
    max_prompts: int | None, max_turn_chars: int,
) -> int:
    """PPO prompts: one per replied-to context of the training threads only."""
    rows = _reddit_contexts(shard_paths, seed=seed, test_fraction=test_fraction,
                            max_turn_chars=max_turn_chars, split="train")
    chosen = _limit(rows, max_prompts, seed)
    _write(chosen, out_path)
    log.info("reddit prompts: %d of %d contexts", len(chosen), len(rows))
    return len(chosen)


UltraChatMode = Literal["first_turn", "dialogue"]


def is_heldout_prompt(prompt_id: str, seed: int, heldout_fraction: float) -> bool:
    """Whether an UltraChat prompt is kept out of PPO for the reward benchmark (seeded hash)."""
    return stable_unit(seed, "heldout-prompt", prompt_id) < heldout_fraction


def _ultrachat_rows(source_path: str | Path, mode: UltraChatMode, max_turn_chars: int) -> list[dict[str, Any]]:
    """UltraChat-200k rows (``prompt``, ``prompt_id``, ``messages``) as conversations.

    ``first_turn`` uses the opening user request; ``dialogue`` keeps the earlier turns as parents
    and ends on the last user turn, so the policy writes the next assistant turn.
    """
    table = pq.read_table(source_path)
    missing = {"prompt", "prompt_id", "messages"} - set(table.column_names)
    if missing:
        raise ValueError(f"{source_path}: not an UltraChat-200k file, missing {sorted(missing)}")
    rows = []
    for record in table.to_pylist():
        if mode == "first_turn":
            conv = Conversation(title=truncate(record["prompt"], max_turn_chars))
        else:
            turns = [m["content"] for m in record["messages"]]
            last_user = max(i for i, m in enumerate(record["messages"]) if m["role"] == "user")
            parents = [truncate(t, max_turn_chars) for t in turns[1 : last_user + 1]]
            conv = Conversation(title=truncate(turns[0], max_turn_chars), parents=tuple(parents))
        prompt_id = record["prompt_id"] or hashlib.sha256(record["prompt"].encode()).hexdigest()
        rows.append(_prompt_row(prompt_id, "ultrachat", conv))
    return rows


def build_ultrachat_prompts(
    source_path: str | Path, out_path: str | Path, *, seed: int, max_prompts: int | None,
    mode: UltraChatMode, max_turn_chars: int, heldout_fraction: float = 0.0,
) -> int:
    """PPO prompts from UltraChat, without the share ``heldout_fraction`` kept for the reward benchmark."""
    rows = _ultrachat_rows(source_path, mode, max_turn_chars)
    kept = [r for r in rows if not is_heldout_prompt(r["prompt_id"], seed, heldout_fraction)]
    chosen = _limit(kept, max_prompts, seed)
    _write(chosen, out_path)
    log.info("ultrachat prompts: %d of %d (%d held out for the reward benchmark)",
             len(chosen), len(rows), len(rows) - len(kept))
    return len(chosen)


def build_heldout_prompts(
    shard_paths: Sequence[str | Path], ultrachat_source: str | Path, out_path: str | Path, *,
    seed: int, test_fraction: float, heldout_fraction: float, reddit_prompts: int,
    ultrachat_prompts: int, mode: UltraChatMode, max_turn_chars: int,
) -> dict[str, int]:
    """The reward benchmark's items: Reddit contexts of test-split threads and UltraChat prompts that
    :func:`build_ultrachat_prompts` keeps out of PPO; neither side can have been a PPO prompt."""
    reddit = _reddit_contexts(shard_paths, seed=seed, test_fraction=test_fraction,
                              max_turn_chars=max_turn_chars, split="test")
    ultrachat = [r for r in _ultrachat_rows(ultrachat_source, mode, max_turn_chars)
                 if is_heldout_prompt(r["prompt_id"], seed, heldout_fraction)]
    counts = {"reddit": len(reddit), "ultrachat": len(ultrachat)}
    for source, available, wanted in (("reddit", reddit, reddit_prompts), ("ultrachat", ultrachat, ultrachat_prompts)):
        if len(available) < wanted:
            log.warning("held-out %s prompts: %d wanted, only %d available; using all of them",
                        source, wanted, len(available))
    chosen = _limit(reddit, reddit_prompts, seed) + _limit(ultrachat, ultrachat_prompts, seed)
    if not chosen:
        raise ValueError("no held-out prompt: the test split has no thread and no UltraChat prompt is held "
                         "out; raise split.test_fraction or prompts.ultrachat.heldout_fraction")
    _write(chosen, out_path)
    log.info("held-out prompts: %d reddit (of %d test-split contexts), %d ultrachat (of %d held out)",
             min(reddit_prompts, counts["reddit"]), counts["reddit"],
             min(ultrachat_prompts, counts["ultrachat"]), counts["ultrachat"])
    return {source: sum(r["source"] == source for r in chosen) for source in counts}


def sample_prompt_metadata(
    prompts_path: str | Path, examples_path: str | Path, out_path: str | Path, *, seed: int
) -> dict[str, int]:
    """Give every prompt without a subreddit and time one drawn from the reward model's training data.

    UltraChat prompts have no subreddit or posting time, and the conditioned reward model never saw a
    conversation without them: rendering ``n/a`` would score PPO rollouts on inputs outside its
    training distribution. Here each such prompt gets the subreddit *and* time of one training example
    (``examples_path``, the conditioned train split), drawn by a seeded hash of the prompt id, so the
    pair keeps the joint distribution the model learned (a subreddit's hours come with it) and a prompt
    always gets the same draw. Prompts that have their own metadata (Reddit) keep it. The output has the
    prompt schema, so PPO and anything else that renders these prompts read one file and agree.
    """
    prompts = read_stage_table(prompts_path, PROMPT_SCHEMA.names, "prompt file").to_pylist()
    examples = read_stage_table(examples_path, ("example_id", "subreddit", "created_utc"), "reward examples")
    pool = sorted(
        (row["example_id"], row["subreddit"], row["created_utc"])
        for row in examples.select(["example_id", "subreddit", "created_utc"]).to_pylist()
        if row["subreddit"] and row["created_utc"] is not None
    )
    if not pool:
        raise ValueError(
            f"reward examples {examples_path} hold no example with a subreddit and a time to draw from; "
            "sample metadata from the conditioned setting's train split"
        )
    drawn = kept = 0
    for row in prompts:
        if row["subreddit"] and row["created_utc"] is not None:
            kept += 1
            continue
        draw = int(stable_unit(seed, "metadata", row["prompt_id"]) * len(pool))
        _, row["subreddit"], row["created_utc"] = pool[draw]
        drawn += 1
    _write(prompts, out_path)
    counts = {"prompts": len(prompts), "drawn": drawn, "kept_own": kept, "pool": len(pool),
              "subreddits_drawn": len({r["subreddit"] for r in prompts})}
    log.info("prompt metadata: %s", counts)
    return counts
