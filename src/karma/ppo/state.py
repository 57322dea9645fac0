"""What the PPO orchestrator and its backend exchange: prompts, per-update statistics and the train log.

The backend reports each update as an :class:`UpdateStats` through a callback; it never imports the
orchestrator, and these types import neither.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from karma.formats import Conversation
from karma.parquet_io import read_stage_table

PROMPT_COLUMNS = ("prompt_id", "source", "title", "body", "parents", "siblings", "subreddit", "created_utc")


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    conversation: Conversation
    source: str | None = None


def read_prompts(path: str | Path) -> list[Prompt]:
    """PPO prompts from the data stage's Parquet file (one structured conversation per row)."""
    table = read_stage_table(path, PROMPT_COLUMNS, "prompt file")
    prompts = []
    for row in table.select(list(PROMPT_COLUMNS)).to_pylist():
        conversation = Conversation(
            title=row["title"] or "",
            body=row["body"] or "",
            parents=tuple(row["parents"] or ()),
            siblings=tuple(row["siblings"] or ()),
            subreddit=row["subreddit"],
            created_utc=row["created_utc"],
        )
        prompts.append(Prompt(str(row["prompt_id"]), conversation, row["source"]))
    if not prompts:
        raise ValueError(f"prompt file {path} has no rows; PPO needs prompts")
    return prompts


# --------------------------------------------------------------------------------------------------
# Train log


class TrainLog:
    """``train_log.jsonl``: one JSON object per line, appended and flushed per update."""

    def __init__(self, path: str | Path, rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.rows))
        tmp.replace(self.path)

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))
        with self.path.open("a") as handle:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
            handle.flush()


def read_train_log(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class UpdateStats:
    """One PPO update as the trainer reports it; ``samples`` are all rollouts of the update.

    ``kl`` is the mean per-response KL to the base policy (nats, summed over response tokens);
    ``entropy`` the mean per-token entropy of the policy during the update; ``mean_reward`` the mean
    score the trainer optimised (the reward-model probability, less ``missing_eos_penalty`` if set);
    ``kl_coef`` the KL coefficient this update's rewards were computed with.
    """

    update: int
    episodes: int
    mean_reward: float
    kl: float
    entropy: float
    clip_fraction: float
    value_loss: float
    policy_loss: float
    approx_kl: float
    learning_rate: float
    seconds: float
    samples: list[dict[str, Any]]
    kl_coef: float
