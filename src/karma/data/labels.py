"""The karma label: a reply is rewarding when it earns at least ``ratio`` of its parent's score.

The parent is the post for a top-level comment. When the parent's score is zero or negative the
ratio rule is meaningless (every reply would clear a threshold of zero or less), so the rule is
chosen by ``label.nonpositive_parent``:

- ``positive_score`` (default): rewarding iff the reply's own score is positive (net upvoted);
- ``drop``: such replies are not used as examples (counted in the examples' stats).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from karma.settings import checked_kwargs

NonpositiveRule = Literal["positive_score", "drop"]

# What a karma label can and cannot say; model cards repeat it wherever a model learned from it.
LABEL_LIMITS = (
    "- Karma is net votes from one community at one time: it also rewards being early, being seen "
    "(subreddit size, time of day, the post's own popularity) and in-group style, not only a "
    "response's fit to its context.\n"
    "- The label is relative to the parent's score, so it says whether a reply kept up with what it "
    "answered, not whether it is true, safe, kind or helpful; toxic replies that draw votes count "
    "as rewarding.\n"
    "- Scores in the dumps were captured at one moment and Reddit fuzzes them; replies to "
    "non-positive parents follow a separate rule (above).\n"
    "- A model trained on this label predicts Reddit's votes; using it as a reward optimises for "
    "them, with the side effects the paper measures (toxicity, bias, sycophancy, factuality)."
)


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The rule in one Markdown paragraph, for model cards."""
        nonpositive = {
            "positive_score": "the reply is rewarding when its own score is positive",
            "drop": "the reply is not used as an example",
        }[self.nonpositive_parent]
        return (
            f"A reply is labelled *rewarding* (1) when its score is at least {self.ratio:g} times its "
            "parent's score (the post's score for a top-level comment), else 0. When the parent's "
            f"score is zero or negative the ratio means nothing, and {nonpositive} "
            f"(`label.nonpositive_parent: {self.nonpositive_parent}`)."
        )

    def label(self, score: int, parent_score: int) -> int | None:
        """1 (rewarding), 0, or None when the example is to be dropped."""
        if parent_score <= 0:
            if self.nonpositive_parent == "drop":
                return None
            return int(score > 0)
        return int(score >= self.ratio * parent_score)
