"""UltraChat-format prompts for the offline demo (``HuggingFaceH4/ultrachat_200k``'s ``train_sft`` schema)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from karma.demo.corpus import sub_rng

logger = logging.getLogger(__name__)


_CONCEPTS = ("how photosynthesis works", "what inflation is", "how vaccines train the immune system",
             "why the sky is blue", "how a bill becomes a law", "what machine learning is",
             "how compound interest works", "why we have seasons", "how the internet routes data",
             "what a black hole is", "how batteries store energy",
             "why leaves change color in autumn", "how airplanes stay in the air",
             "what DNA does in a cell", "how recycling plants sort materials")
PROMPT_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Explain {x} in simple terms for a beginner.", _CONCEPTS),
    ("What is a good way to explain {x} to a ten year old?", _CONCEPTS),
    ("Write a short poem about {x}.",
     ("a rainy afternoon", "the first snow of winter", "an old lighthouse", "a cat watching birds",
      "the smell of fresh bread", "a quiet library", "a city at night", "a long train journey",
      "a garden in spring", "the ocean at sunrise", "a forgotten umbrella", "an old friendship")),
    ("Give me three practical tips for {x}.",
     ("staying focused while working from home", "learning a new language", "sleeping better",
      "keeping a small apartment tidy", "preparing for a job interview",
      "saving money on groceries", "starting a morning routine", "reading more books",
      "staying hydrated during the day", "making new friends in a new city",
      "reducing screen time", "studying for exams")),
    ("Summarize the main causes of {x} in a short paragraph.",
     ("the French Revolution", "the Great Depression", "the fall of the Roman Empire",
      "the First World War", "the Industrial Revolution", "the 2008 financial crisis",
      "the decline of the Maya cities", "the Dust Bowl")),
    ("What are the pros and cons of {x}?",
     ("working from home", "buying an electric car", "renting versus buying a home",
      "learning Python as a first programming language", "living in a big city",
      "taking a gap year", "using a standing desk", "owning a dog", "studying abroad",
      "a four day work week")),
    ("Write a friendly email to {x}.",
     tuple(f"{who} about {what}" for who in ("my neighbor", "a coworker", "my landlord",
                                             "a former teacher", "my team")
           for what in ("a noisy party next weekend", "rescheduling our meeting",
                        "a broken heater", "thanking them for their advice",
                        "the shared office kitchen"))),
    ("Suggest a weekend itinerary for {x}.",
     ("a first visit to Lisbon", "a rainy weekend in London", "a family trip to the mountains",
      "two days in Kyoto", "a beach town in winter", "a small college town")),
    ("Can you recommend some {x}?",
     tuple(f"{kind} for {who}" for kind in ("board games", "books", "podcasts", "hobbies",
                                            "easy recipes")
           for who in ("a family with young kids", "a busy student", "someone who just retired",
                       "a group of friends", "a rainy weekend"))),
    ("How do I {x}?",
     ("change a flat bicycle tire", "write a good cover letter", "make a simple budget",
      "care for a houseplant that gets little light", "start a vegetable garden on a balcony",
      "boil the perfect egg", "prepare for a half marathon", "back up the photos on my phone",
      "remove a coffee stain from a shirt", "run a short and useful team meeting")),
    ("Write the opening paragraph of a short story about {x}.",
     ("a robot who learns to paint", "a lighthouse keeper who finds a message in a bottle",
      "two strangers stuck in an elevator", "a town where it never stops raining",
      "a detective who is afraid of the dark", "a dragon who runs a bakery",
      "a letter delivered fifty years late", "a child who can talk to trees")),
    ("Describe the life cycle of {x}.",
     ("a butterfly", "a frog", "a sunflower", "a salmon", "an oak tree", "a honey bee")),
)
PROMPT_SUFFIXES = ("", " Keep it under one hundred words.", " Please use a friendly tone.")
_ANSWER_OPENERS = ("Sure, here is a clear answer.", "Of course! Here is what I would suggest.",
                   "Great question. Let me walk you through it.", "Happy to help with that.")
_ANSWER_BODIES = (
    "Start with the basic idea and keep it simple. Then add one concrete example so it is easy to "
    "remember. Finally, check that each step follows naturally from the one before.",
    "The key point is to focus on what matters most first. After that, the details fall into "
    "place, and a short summary at the end helps everything stick.",
    "Think of it in three parts: the goal, the steps to get there, and a quick way to check the "
    "result. Each part is short, so the whole thing stays easy to follow.",
    "A good approach is to break it into small pieces and handle them one at a time. That keeps "
    "it manageable and makes it easy to adjust along the way.",
)
_FOLLOW_UPS = ("Thanks! Can you make it a bit shorter?", "Could you give one concrete example?",
               "Can you turn that into a short bulleted list?",
               "That helps. What is the most common mistake people make here?",
               "Could you explain the second point in more detail?")
_FOLLOW_UP_ANSWERS = (
    "Absolutely. In short: keep it simple, give one example, and check the result.",
    "Here is an example: imagine doing it once slowly, noting each step, and then repeating it "
    "until it feels natural.",
    "- Start with the main idea\n- Add one example\n- Finish with a quick check",
    "The most common mistake is trying to do everything at once. Taking it step by step avoids "
    "that.",
    "Sure. The second point is about practice: a small example makes the idea concrete and easier "
    "to remember.",
)
ULTRACHAT_SCHEMA = pa.schema([
    ("prompt", pa.string()),
    ("prompt_id", pa.string()),
    ("messages", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
])


def demo_prompts() -> list[str]:
    """Every distinct prompt the UltraChat generator can draw, in a fixed order."""
    return [template.format(x=fill) + suffix
            for template, fills in PROMPT_TEMPLATES for fill in fills for suffix in PROMPT_SUFFIXES]


def write_demo_ultrachat(path: Path, *, seed: int, n_prompts: int) -> None:
    """Write ``n_prompts`` distinct dialogues in the ``HuggingFaceH4/ultrachat_200k`` train_sft schema.

    Each row has 1-3 user/assistant turns; the first user turn is ``prompt``, and ``prompt_id`` is
    the SHA-256 hex digest of the prompt, as in the hub dataset.
    """
    pool = demo_prompts()
    if not isinstance(n_prompts, int) or not 1 <= n_prompts <= len(pool):
        raise ValueError(f"n_prompts must be an int in 1..{len(pool)} (distinct demo prompts), "
                         f"got {n_prompts!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = sub_rng(seed, "ultrachat")
    rows: list[dict[str, Any]] = []
    for prompt in rng.sample(pool, n_prompts):
        messages = [{"content": prompt, "role": "user"},
                    {"content": f"{rng.choice(_ANSWER_OPENERS)} {rng.choice(_ANSWER_BODIES)}",
                     "role": "assistant"}]
        for follow in rng.sample(range(len(_FOLLOW_UPS)), rng.randint(0, 2)):
            messages.append({"content": _FOLLOW_UPS[follow], "role": "user"})
            messages.append({"content": _FOLLOW_UP_ANSWERS[follow], "role": "assistant"})
        rows.append({"prompt": prompt, "prompt_id": hashlib.sha256(prompt.encode()).hexdigest(),
                     "messages": messages})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ULTRACHAT_SCHEMA), path)
    logger.info("wrote %s: %d prompts", path, len(rows))
