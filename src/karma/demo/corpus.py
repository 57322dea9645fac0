"""The planted demo corpus: posts and reply trees with fit kinds, scores and shortcuts.

The demo cannot download Reddit or the hub, so the workflow writes its own inputs. They are built to
exercise every stage, so the text must carry signals a tiny model can learn and the raw dumps must
carry the mess a real reader meets. Every signal is planted on purpose and documented here and in
``docs/demo-data.md``:

1. Pragmatic fit. Each post has a topic (own vocabulary, see ``TOPICS``) and a tone (``TONES``).
   Each reply is ``fitting`` (reuses the post's topic vocabulary in the register its tone calls for)
   or ill-fitting: ``off_topic`` (right register, another topic's vocabulary), ``wrong_register``
   (post vocabulary with dismissive/lecturing/mocking markers) or ``generic`` (a low-effort line).
   Reply score = floor(parent_score * m + 0.5) with m = exp(N(mu_class, 1.0)) * subreddit factor *
   hour factor; mu is calibrated so that, under ``score >= 0.4 * parent_score``, about 72% of fitting
   and 27% of ill-fitting replies are rewarding. 8% of ill-fitting replies are downvoted instead
   (score -1 to -8). A top-level comment's parent score is the post's score.
2. Shortcut. ``SUBREDDIT_FACTORS`` (x2.5 generous, x0.35 harsh) and ``hour_factor`` of the reply's
   own ``created_utc`` (x1.6 at 17-23 UTC, x0.6 at 2-7 UTC) scale m, so they move the label. Subreddit
   and hour are drawn independently of topic, tone and fit: only the conditioned input sees them.
3. Threads: 0-8 top-level comments per post, nested replies to depth 3, comments minutes to days
   after their parent; late comments land in the next month's RC file when that month exists.
4. Filter cases at small rates (``POST_FLAG_RATES``, ``COMMENT_OVERLAY_RATES``), scores <= 0,
   malformed lines and lines without a required key, and per-line schema drift across three eras.

Same seed and sizes give byte-identical files; every draw comes from a ``random.Random`` seeded by
a hash of (seed, purpose, index), so no global state is touched.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from karma.demo.schema_eras import COMMENT_OPTIONAL, SUBMISSION_OPTIONAL, Era, pick_era
from karma.demo.vocabulary import (
    BODY_TEMPLATES,
    FITTING_REPLY_TEMPLATES,
    FOREIGN_SENTENCES,
    GENERIC_REPLIES,
    LINK_DOMAINS,
    NAME_PARTS,
    OFF_TOPIC_MARKER_RATE,
    OFF_TOPIC_MARKERS,
    TITLE_TEMPLATES,
    TONES,
    TOPICS,
    WRONG_REGISTER_TEMPLATES,
    Tone,
    Topic,
)

logger = logging.getLogger(__name__)


LABEL_RATIO = 0.4
TARGET_REWARDING_RATE = {"fitting": 0.72, "ill_fitting": 0.27}
LOG_MULTIPLIER_SD = 1.0
DOWNVOTE_RATE = 0.08  # share of ill-fitting replies that get a negative score instead

FitKind = Literal["fitting", "off_topic", "wrong_register", "generic"]
FIT_KINDS: tuple[FitKind, ...] = ("fitting", "off_topic", "wrong_register", "generic")
FIT_KIND_WEIGHTS = (0.55, 0.15, 0.15, 0.15)

# Topic-neutral names: the generalized text must not reveal the subreddit.
SUBREDDIT_FACTORS: dict[str, float] = {
    "AskAnything": 2.5,
    "DailyChatter": 2.5,
    "CasualConversation": 1.0,
    "NoStupidQuestions": 1.0,
    "TalkItOut": 1.0,
    "AnyTopicGoes": 1.0,
    "OpenForum": 0.35,
    "CommonRoom": 0.35,
}
SUBREDDITS: tuple[str, ...] = tuple(SUBREDDIT_FACTORS)
EVENING_HOURS = range(17, 24)
NIGHT_HOURS = range(2, 8)

PostFlag = Literal["clean", "over_18", "link", "foreign", "deleted", "removed"]
POST_FLAG_RATES: dict[str, float] = {
    "over_18": 0.04, "link": 0.04, "foreign": 0.04, "deleted": 0.02, "removed": 0.02,
}
LOW_SCORE_POST_RATE = 0.04  # posts with score -5..0 (the parent_score <= 0 rule)
CommentOverlay = Literal["none", "deleted", "removed", "empty", "foreign"]
COMMENT_OVERLAY_RATES: dict[str, float] = {
    "deleted": 0.015, "removed": 0.015, "empty": 0.01, "foreign": 0.035,
}
FOREIGN_THREAD_REPLY_RATE = 0.9  # replies under a non-English post written in its language
TOP_LEVEL_WEIGHTS = (0.06, 0.10, 0.16, 0.18, 0.16, 0.13, 0.10, 0.07, 0.04)  # 0..8 comments
CHILD_WEIGHTS = {1: (0.65, 0.28, 0.07), 2: (0.80, 0.17, 0.03)}  # 0..2 replies by parent depth
MAX_DEPTH = 3


def hour_factor(hour: int) -> float:
    """The time-of-day multiplier planted on a reply's score ratio (hour of its created_utc, UTC)."""
    if hour in EVENING_HOURS:
        return 1.6
    if hour in NIGHT_HOURS:
        return 0.6
    return 1.0


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _rewarding_rate(mu: float, keep: float) -> float:
    """Expected label rate for log-multiplier mean ``mu`` over uniform subreddits and hours."""
    total = 0.0
    for factor in SUBREDDIT_FACTORS.values():
        for hour in range(24):
            shift = math.log(factor * hour_factor(hour)) - math.log(LABEL_RATIO)
            total += _normal_cdf((mu + shift) / LOG_MULTIPLIER_SD)
    return keep * total / (len(SUBREDDIT_FACTORS) * 24)


def _calibrated_mean(target: float, keep: float) -> float:
    """Solve for the mean of log m that gives ``target`` rewarding rate (bisection)."""
    low, high = -10.0, 10.0
    for _ in range(80):
        mid = (low + high) / 2
        if _rewarding_rate(mid, keep) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


LOG_MULTIPLIER_MEAN = {
    "fitting": _calibrated_mean(TARGET_REWARDING_RATE["fitting"], 1.0),
    "ill_fitting": _calibrated_mean(TARGET_REWARDING_RATE["ill_fitting"], 1.0 - DOWNVOTE_RATE),
}

# ---------------------------------------------------------------------------------------------
# The generated corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedPost:
    """Ground truth for one submission (what the generator planted, not what a reader sees)."""

    id: str
    month: str
    topic: str
    tone: Tone
    subreddit: str
    flag: PostFlag
    score: int
    n_comments: int


@dataclass(frozen=True)
class PlantedComment:
    """Ground truth for one comment; ``fit`` decides its score process, ``overlay`` its text."""

    id: str
    post_id: str
    parent_id: str
    depth: int
    fit: FitKind
    overlay: CommentOverlay
    downvoted: bool
    subreddit: str
    hour: int
    parent_score: int
    score: int
    month: str

    @property
    def fitting(self) -> bool:
        return self.fit == "fitting"


@dataclass(eq=False)  # nodes link to themselves and each other: compare by identity
class Node:
    """A post (depth 0) or comment while the corpus is being built, before ids are assigned."""

    key: tuple[int, int]  # (post index, order within its thread): parents precede children
    depth: int
    created: int
    score: int
    author: str
    era: Era
    optional_keys: frozenset[str]
    parent: Node | None = None
    post: Node | None = None
    text: str = ""
    title: str = ""
    fit: FitKind = "fitting"
    overlay: CommentOverlay = "none"
    downvoted: bool = False
    id: str = ""
    children: list[Node] = field(default_factory=list)
    # post-only fields
    topic: str = ""
    tone: Tone = "question"
    subreddit: str = ""
    flag: PostFlag = "clean"
    language: str = "en"
    url: str = ""


def sub_rng(seed: int, purpose: str, index: int = 0) -> random.Random:
    digest = hashlib.sha256(f"karma-demo:{seed}:{purpose}:{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


def month_bounds(month: str) -> tuple[int, int]:
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=timezone.utc)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1)
    return int(start.timestamp()), int(end.timestamp())


def check_months(months: Sequence[str]) -> list[str]:
    months = list(months)
    if not months:
        raise ValueError("months is empty: give at least one month like '2019-01'")
    for month in months:
        if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise ValueError(f"month {month!r} is not in YYYY-MM form (e.g. '2019-01')")
    for earlier, later in zip(months, months[1:]):
        if month_bounds(earlier)[1] != month_bounds(later)[0]:
            raise ValueError(
                f"months must be consecutive and sorted (late comments spill into the next month): "
                f"{earlier!r} is followed by {later!r}")
    return months


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def topic_slots(topic: Topic, rng: random.Random) -> dict[str, str]:
    """One draw of every template slot from a topic's vocabulary (the draw order is part of the seed
    contract: the corpus files depend on it)."""
    thing, thing2 = rng.sample(topic.things, 2)
    problem = rng.choice(topic.problems)
    return {"thing": thing, "thing2": thing2, "problem": problem, "problem_cap": _cap(problem),
            "activity": rng.choice(topic.activities), "tip": rng.choice(topic.tips),
            "joke": rng.choice(topic.jokes)}


def _fill(template: str, topic: Topic, rng: random.Random) -> str:
    return template.format(**topic_slots(topic, rng))


def _username(rng: random.Random) -> str:
    return f"{rng.choice(NAME_PARTS[0])}_{rng.choice(NAME_PARTS[1])}{rng.randint(1, 9999)}"


def _pick_flag(rng: random.Random, rates: dict[str, float], none: str) -> str:
    draw, edge = rng.random(), 0.0
    for name, rate in rates.items():
        edge += rate
        if draw < edge:
            return name
    return none


def _foreign_text(rng: random.Random, language: str, n_sentences: int) -> str:
    return " ".join(rng.sample(FOREIGN_SENTENCES[language], n_sentences))


def _reply_text(node: Node, rng: random.Random) -> str:
    post = node.post
    assert post is not None
    topic = TOPICS[post.topic]
    if node.fit == "fitting":
        return _fill(rng.choice(FITTING_REPLY_TEMPLATES[post.tone]), topic, rng)
    if node.fit == "off_topic":
        other = TOPICS[rng.choice([t for t in TOPICS if t != post.topic])]
        text = _fill(rng.choice(FITTING_REPLY_TEMPLATES[post.tone]), other, rng)
        if rng.random() < OFF_TOPIC_MARKER_RATE:
            text = rng.choice(OFF_TOPIC_MARKERS) + text[:1].lower() + text[1:]
        return text
    if node.fit == "wrong_register":
        return _fill(rng.choice(WRONG_REGISTER_TEMPLATES[post.tone]), topic, rng)
    return rng.choice(GENERIC_REPLIES)


def _reply_score(node: Node, rng: random.Random) -> int:
    """The planted score process: fit class x subreddit x hour, relative to the parent's score.

    Marks ``node.downvoted`` when an ill-fitting reply draws a negative score instead.
    """
    assert node.parent is not None and node.post is not None
    parent_score = node.parent.score
    fitting = node.fit == "fitting"
    if parent_score <= 0:
        # No ratio exists: an independent small score, carrying no planted signal.
        return round(math.exp(rng.gauss(1.0, 1.0))) - 2
    if not fitting and rng.random() < DOWNVOTE_RATE:
        node.downvoted = True
        return -rng.randint(1, 8)
    mu = LOG_MULTIPLIER_MEAN["fitting" if fitting else "ill_fitting"]
    hour = datetime.fromtimestamp(node.created, tz=timezone.utc).hour
    m = math.exp(rng.gauss(mu, LOG_MULTIPLIER_SD))
    m *= SUBREDDIT_FACTORS[node.post.subreddit] * hour_factor(hour)
    return math.floor(parent_score * m + 0.5)


def _delay(rng: random.Random) -> int:
    """Seconds from a parent to its reply: mostly minutes to hours, a few days late."""
    draw = rng.random()
    if draw < 0.90:
        low, high = 120, 3 * 3600
    elif draw < 0.97:
        low, high = 3 * 3600, 24 * 3600
    else:
        low, high = 24 * 3600, 5 * 24 * 3600
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def build_post(index: int, seed: int, month: str, corpus_end: int) -> Node:
    rng = sub_rng(seed, "post", index)
    start, end = month_bounds(month)
    era, optional = pick_era(rng, SUBMISSION_OPTIONAL)
    post = Node(key=(index, 0), depth=0, created=rng.randrange(start, end - 3600), score=0,
                 author=_username(rng), era=era, optional_keys=optional)
    post.post = post
    # Topic, tone, subreddit and hour are independent draws: the text cannot reveal the shortcut.
    post.topic = rng.choice(list(TOPICS))
    post.tone = rng.choice(TONES)
    post.subreddit = rng.choice(SUBREDDITS)
    post.flag = _pick_flag(rng, POST_FLAG_RATES, "clean")  # type: ignore[assignment]
    low_score = rng.random() < LOW_SCORE_POST_RATE
    post.score = rng.randint(-5, 0) if low_score else max(1, round(math.exp(rng.gauss(math.log(40), 1.0))))
    topic = TOPICS[post.topic]
    post.title = _fill(rng.choice(TITLE_TEMPLATES[post.tone]), topic, rng)
    post.text = _fill(rng.choice(BODY_TEMPLATES[post.tone]), topic, rng)
    if post.flag == "foreign":
        post.language = rng.choice(sorted(FOREIGN_SENTENCES))
        post.title = _foreign_text(rng, post.language, 1)
        post.text = _foreign_text(rng, post.language, 3)
    elif post.flag == "link":
        post.text = ""
        slug = "-".join(re.findall(r"[a-z0-9]+", post.title.lower())[:8])
        post.url = f"https://{rng.choice(LINK_DOMAINS)}/{month.replace('-', '/')}/{slug}"
    elif post.flag in ("deleted", "removed"):
        marker = f"[{post.flag}]"
        post.text = marker
        if rng.random() < 1 / 3:
            post.title = marker
        if post.flag == "deleted":
            post.author = "[deleted]"

    order = 1
    frontier = [(post, rng.choices(range(len(TOP_LEVEL_WEIGHTS)), weights=TOP_LEVEL_WEIGHTS)[0])]
    while frontier:
        parent, n_children = frontier.pop(0)
        for _ in range(n_children):
            comment_era, comment_optional = pick_era(rng, COMMENT_OPTIONAL)
            node = Node(key=(index, order), depth=parent.depth + 1,
                         created=min(parent.created + _delay(rng), corpus_end - 1), score=0,
                         author=_username(rng), era=comment_era, optional_keys=comment_optional,
                         parent=parent, post=post)
            order += 1
            node.fit = rng.choices(FIT_KINDS, weights=FIT_KIND_WEIGHTS)[0]
            if post.flag == "foreign" and rng.random() < FOREIGN_THREAD_REPLY_RATE:
                node.overlay = "foreign"
            else:
                node.overlay = _pick_flag(rng, COMMENT_OVERLAY_RATES, "none")  # type: ignore[assignment]
            node.score = _reply_score(node, rng)
            node.text = _reply_text(node, rng)
            if node.overlay == "foreign":
                language = post.language if post.flag == "foreign" else rng.choice(
                    sorted(FOREIGN_SENTENCES))
                node.text = _foreign_text(rng, language, rng.randint(1, 2))
            elif node.overlay in ("deleted", "removed"):
                node.text = f"[{node.overlay}]"
                node.author = "[deleted]"
            elif node.overlay == "empty":
                node.text = ""
            parent.children.append(node)
            if node.depth < MAX_DEPTH:
                weights = CHILD_WEIGHTS[node.depth]
                frontier.append((node, rng.choices(range(len(weights)), weights=weights)[0]))
    return post


def thread_nodes(post: Node) -> list[Node]:
    out: list[Node] = []
    stack = list(reversed(post.children))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def month_of(timestamp: int, months: Sequence[str]) -> str:
    """The dump month a timestamp falls in (times are clamped to the demo months at creation)."""
    starts = [month_bounds(month)[0] for month in months]
    return months[max(0, bisect.bisect_right(starts, timestamp) - 1)]


def planted_comment(node: Node, months: Sequence[str]) -> PlantedComment:
    assert node.post is not None and node.parent is not None
    prefix = "t3_" if node.parent is node.post else "t1_"
    return PlantedComment(
        id=node.id, post_id=node.post.id, parent_id=prefix + node.parent.id, depth=node.depth,
        fit=node.fit, overlay=node.overlay, downvoted=node.downvoted,
        subreddit=node.post.subreddit,
        hour=datetime.fromtimestamp(node.created, tz=timezone.utc).hour,
        parent_score=node.parent.score, score=node.score, month=month_of(node.created, months))

