"""The two model-input formats (generalized, conditioned), shared by data, reward and PPO.

One module renders every text a reward model sees, so training, evaluation and PPO reward scoring
cannot drift apart. The format is plain tagged text rather than a model's chat template because the
reward model and the policies do not share a tokenizer.

Invariant the PPO reward relies on: ``render_example(c, r, s) == render_prompt(c, s) + r``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

Setting = Literal["generalized", "conditioned"]
SETTINGS: tuple[Setting, ...] = ("generalized", "conditioned")

USER_TAG = "<|user|>"
ASSISTANT_TAG = "<|assistant|>"
CONTEXT_TAG = "<|context|>"
META_TAG = "<|meta|>"
SPECIAL_TAGS: tuple[str, ...] = (USER_TAG, ASSISTANT_TAG, CONTEXT_TAG, META_TAG)


@dataclass(frozen=True)
class Conversation:
    """A Reddit (or chat) context awaiting a candidate response.

    ``parents`` runs from the top-level comment down to the comment being answered; ``siblings`` are
    other replies to the same parent. ``subreddit``/``created_utc`` are only rendered when conditioned.
    """

    title: str
    body: str = ""
    parents: tuple[str, ...] = field(default_factory=tuple)
    siblings: tuple[str, ...] = field(default_factory=tuple)
    subreddit: str | None = None
    created_utc: int | None = None


def _check_setting(setting: str) -> Setting:
    if setting not in SETTINGS:
        raise ValueError(f"unknown input format {setting!r}: use one of {', '.join(SETTINGS)}")
    return setting  # type: ignore[return-value]


def _clean(text: str) -> str:
    """Strip tags a user could type, so a comment cannot forge a turn boundary."""
    for tag in SPECIAL_TAGS:
        text = text.replace(tag, "")
    return text.strip()


def format_timestamp(created_utc: int) -> str:
    moment = datetime.fromtimestamp(created_utc, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC (%A)")


def _meta_block(conv: Conversation) -> str:
    subreddit = f"r/{conv.subreddit}" if conv.subreddit else "n/a"
    posted = format_timestamp(conv.created_utc) if conv.created_utc is not None else "n/a"
    return f"{META_TAG}\nsubreddit: {subreddit}\nposted: {posted}\n"


def render_prompt(conv: Conversation, setting: str) -> str:
    """The conversation up to the point where the candidate (assistant) turn begins."""
    setting = _check_setting(setting)
    parts: list[str] = []
    if setting == "conditioned":
        parts.append(_meta_block(conv))
    post = _clean(conv.title)
    body = _clean(conv.body)
    parts.append(f"{USER_TAG}\n{post}\n\n{body}\n" if body else f"{USER_TAG}\n{post}\n")
    # Roles alternate backwards from the candidate, which is always the assistant.
    depth = len(conv.parents)
    for index, parent in enumerate(conv.parents):
        tag = USER_TAG if (depth - 1 - index) % 2 == 0 else ASSISTANT_TAG
        parts.append(f"{tag}\n{_clean(parent)}\n")
    if conv.siblings:
        listed = "".join(f"- {_clean(s)}\n" for s in conv.siblings)
        parts.append(f"{CONTEXT_TAG}\nother replies:\n{listed}")
    parts.append(f"{ASSISTANT_TAG}\n")
    return "".join(parts)


def render_example(conv: Conversation, candidate: str, setting: str) -> str:
    """The exact reward-model input: the prompt followed by the candidate response."""
    return render_prompt(conv, setting) + _clean(candidate)


def split_example(text: str) -> tuple[str, str]:
    """``render_example``'s output back into (prompt, candidate): the candidate follows the last
    assistant tag line (it cannot hold a tag itself, :func:`_clean` removed them)."""
    marker = f"{ASSISTANT_TAG}\n"
    cut = text.rfind(marker)
    if cut < 0:
        raise ValueError(f"text has no {ASSISTANT_TAG!r} line: not a rendered example ({text[:80]!r}...)")
    cut += len(marker)
    return text[:cut], text[cut:]
