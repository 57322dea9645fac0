"""The karma label: a reply is rewarding when it earns at least ``ratio`` of its parent's score.

The parent is the post for a top-level comment. When the parent's score is zero or negative the
ratio rule is meaningless (every reply would clear a threshold of zero or less), so the rule is
chosen by ``label.nonpositive_parent``:

- ``positive_score`` (default): rewarding iff the reply's own score is positive (net upvoted);
- ``drop``: such replies are not used as examples (counted in the examples' stats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from karma.settings import checked_kwargs

NonpositiveRule = Literal["positive_score", "drop"]


@dataclass(frozen=True)
class LabelRule:
    ratio: float = 0.4
    nonpositive_parent: NonpositiveRule = "positive_score"

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> LabelRule:
        rule = cls(**checked_kwargs(cls, raw, "label"))
        if rule.nonpositive_parent not in ("positive_score", "drop"):
            raise ValueError(
                f"label.nonpositive_parent={rule.nonpositive_parent!r}: use positive_score or drop"
            )
        return rule

    def label(self, score: int, parent_score: int) -> int | None:
        """1 (rewarding), 0, or None when the example is to be dropped."""
        if parent_score <= 0:
            if self.nonpositive_parent == "drop":
                return None
            return int(score > 0)
        return int(score >= self.ratio * parent_score)
