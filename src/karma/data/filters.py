"""The paper's content filters: explicit posts, non-text posts, other languages, empty or removed text.

Each check returns a drop reason (a short stable string that ends up in the manifest) or ``None``.
Language identification uses py3langid, whose model ships inside the wheel: no download, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from karma.data.records import Submission
from karma.settings import checked_kwargs

REMOVED_MARKERS = frozenset({"[deleted]", "[removed]", "[deleted by user]"})
# Markdown links keep their text, bare URLs go: URLs are not evidence of a language.
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)|https?://\S+")


@dataclass(frozen=True)
class RedditFilters:
    """Thresholds from ``config.reddit.filters``; see config/README.md for each key."""

    min_responses: int = 2
    min_post_chars: int = 10
    min_comment_chars: int = 1
    language: str = "en"
    language_min_chars: int = 20
    language_min_confidence: float = 0.5

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> RedditFilters:
        return cls(**checked_kwargs(cls, raw, "reddit.filters"))


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detected_language(text: str, filters: RedditFilters) -> str | None:
    """The language of ``text``, or None when it is too short or the model is unsure.

    Short and uncertain texts are not dropped: a two-word reply carries too little evidence.
    """
    text = _LINK.sub(lambda m: m.group(1) or " ", text)
    if len(text.strip()) < filters.language_min_chars:
        return None
    language, confidence = _identifier().classify(text)
    return language if confidence >= filters.language_min_confidence else None


def _language_reason(text: str, filters: RedditFilters) -> str | None:
    language = detected_language(text, filters)
    return "non_english" if language not in (None, filters.language) else None


def submission_drop_reason(post: Submission, filters: RedditFilters) -> str | None:
    if post.over_18:
        return "over_18"
    if not post.is_self:
        return "not_text_post"
    title, body = post.title.strip(), post.selftext.strip()
    if title in REMOVED_MARKERS or body in REMOVED_MARKERS:
        return "deleted_or_removed"
    if not title:
        return "empty_text"
    if len(title) + len(body) < filters.min_post_chars:
        return "too_short"
    return _language_reason(f"{title}\n{body}", filters)


def unsubstantive_reason(body: str, filters: RedditFilters) -> str | None:
    """Why a reply is not substantive (deleted, removed, empty or too short).

    Only substantive replies count towards ``min_responses``. The check is cheap on purpose: the
    comment scan runs it on every comment of every candidate post.
    """
    body = body.strip()
    if body in REMOVED_MARKERS:
        return "deleted_or_removed"
    if not body:
        return "empty_text"
    if len(body) < filters.min_comment_chars:
        return "too_short"
    return None


def comment_drop_reason(body: str, filters: RedditFilters) -> str | None:
    """Why a comment cannot be a training example; such comments still link a thread together.

    Language ID costs ~100 us a comment, so it runs only on the comments of sampled posts.
    """
    return unsubstantive_reason(body, filters) or _language_reason(body, filters)
