"""The two model-input formats (generalized, conditioned), shared by data, reward and PPO.

One module renders every text a reward model sees, so training, evaluation and PPO reward scoring
cannot drift apart. The format is plain tagged text rather than a model's chat template because the
reward model and the policies do not share a tokenizer.

Invariant the PPO reward relies on: ``render_example(c, r, s) == render_prompt(c, s) + r``.

Policies and reward models are saved with :data:`CHAT_TEMPLATE`, a Jinja chat template of the same
format: with ``messages = chat_messages(c, s)``, ``apply_chat_template(messages,
add_generation_prompt=True, tokenize=False)`` is ``render_prompt(c, s)`` and ``apply_chat_template(
messages + [{"role": "assistant", "content": r}], tokenize=False)`` is ``render_example(c, r, s)``. The
metadata block is a ``system`` message, sibling replies a ``context`` message, the post and parent
comments ``user``/``assistant`` turns.

A prompt too long for a policy is shortened here too (:func:`fit_prompt`), as a shorter
:class:`Conversation`, so the reward model scores exactly the prompt the policy saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Literal

Setting = Literal["generalized", "conditioned"]
SETTINGS: tuple[Setting, ...] = ("generalized", "conditioned")

USER_TAG = "<|user|>"
ASSISTANT_TAG = "<|assistant|>"
CONTEXT_TAG = "<|context|>"
META_TAG = "<|meta|>"
SPECIAL_TAGS: tuple[str, ...] = (USER_TAG, ASSISTANT_TAG, CONTEXT_TAG, META_TAG)
CHAT_ROLES = {"system": META_TAG, "user": USER_TAG, "assistant": ASSISTANT_TAG, "context": CONTEXT_TAG}
# Each message is its role's tag, a newline, its content and a newline, except a final assistant
# message (the candidate response), which ends with its content as in render_example; the generation
# prompt is the assistant tag and a newline. Unknown roles are an error: the format has no other turn.
CHAT_TEMPLATE = (
    "{%- set tags = {" + ", ".join(f"'{role}': '{tag}'" for role, tag in CHAT_ROLES.items()) + "} -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] not in tags -%}"
    "{{ raise_exception('karma chat format: unknown role ' + message['role']) }}"
    "{%- endif -%}"
    "{{ tags[message['role']] + '\\n' + message['content'] }}"
    "{%- if not (loop.last and message['role'] == 'assistant') -%}{{ '\\n' }}{%- endif -%}"
    "{%- endfor -%}"
    f"{{%- if add_generation_prompt -%}}{{{{ '{ASSISTANT_TAG}\\n' }}}}{{%- endif -%}}"
)


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


def truncate(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, an ellipsis marking a cut."""
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1].rstrip() + "…" if max_chars > 0 else ""


def format_timestamp(created_utc: int) -> str:
    moment = datetime.fromtimestamp(created_utc, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC (%A)")


def _meta_block(conv: Conversation) -> str:
    subreddit = f"r/{conv.subreddit}" if conv.subreddit else "n/a"
    posted = format_timestamp(conv.created_utc) if conv.created_utc is not None else "n/a"
    return f"{META_TAG}\nsubreddit: {subreddit}\nposted: {posted}\n"


def chat_messages(conv: Conversation, setting: str) -> list[dict[str, str]]:
    """The conversation as chat messages for :data:`CHAT_TEMPLATE` (roles as in its docstring)."""
    setting = _check_setting(setting)
    messages = []
    if setting == "conditioned":
        messages.append({"role": "system", "content": _meta_block(conv)[len(META_TAG) + 1 : -1]})
    post, body = _clean(conv.title), _clean(conv.body)
    messages.append({"role": "user", "content": f"{post}\n\n{body}" if body else post})
    depth = len(conv.parents)
    for index, parent in enumerate(conv.parents):
        role = "user" if (depth - 1 - index) % 2 == 0 else "assistant"
        messages.append({"role": role, "content": _clean(parent)})
    if conv.siblings:
        listed = "".join(f"\n- {_clean(s)}" for s in conv.siblings)
        messages.append({"role": "context", "content": f"other replies:{listed}"})
    return messages


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


def _with_text(conv: Conversation, part: str, text: str) -> Conversation:
    if part == "newest turn":
        return replace(conv, parents=(text,))
    return replace(conv, **{part: text})


def fit_prompt(conv: Conversation, setting: str, fits: Callable[[str], bool]) -> Conversation | None:
    """The conversation, cut from the left until its rendered prompt ``fits`` (e.g. a token budget).

    Nothing is cut from a prompt that fits. Otherwise, one step at a time until it fits: the oldest
    parent turns go first (the newest one stays), then the sibling replies (last listed first); then
    the post's body, the newest turn and finally the title are shortened, each to the longest prefix
    that fits (an ellipsis marks the cut). The post and the turn being answered are never removed.
    None when even a one-character title does not fit (a budget smaller than tags and metadata).
    """
    setting = _check_setting(setting)
    if fits(render_prompt(conv, setting)):
        return conv
    while len(conv.parents) > 1:
        conv = replace(conv, parents=conv.parents[1:])
        if fits(render_prompt(conv, setting)):
            return conv
    while conv.siblings:
        conv = replace(conv, siblings=conv.siblings[:-1])
        if fits(render_prompt(conv, setting)):
            return conv
    for part in ("body", "newest turn", "title"):
        if part == "newest turn" and not conv.parents:
            continue
        original = conv.parents[-1] if part == "newest turn" else getattr(conv, part)
        low, high = 0, len(original)  # the longest prefix that fits, by bisection over characters
        while low < high:
            middle = (low + high + 1) // 2
            if fits(render_prompt(_with_text(conv, part, truncate(original, middle)), setting)):
                low = middle
            else:
                high = middle - 1
        conv = _with_text(conv, part, truncate(original, low))
        if conv.title and fits(render_prompt(conv, setting)):
            return conv
    return None
