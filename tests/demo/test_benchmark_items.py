"""Demo benchmark items: the planted answer of every item is the one the demo's mechanism predicts."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from karma.demo import benchmark_items as items
from karma.demo.corpus import _cap
from karma.demo.ultrachat import demo_prompts
from karma.demo.vocabulary import (
    BODY_TEMPLATES,
    FITTING_REPLY_TEMPLATES,
    GENERIC_REPLIES,
    OFF_TOPIC_MARKERS,
    TITLE_TEMPLATES,
    TONES,
    TOPICS,
    WRONG_REGISTER_TEMPLATES,
)
from karma.evaluation.toxicity import LEXICON, LexiconScorer

SEED = 0


def _words(texts) -> set[str]:
    return set(re.findall(r"[a-z]+", " ".join(texts).lower()))


def _sentences(template: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!])\s+", template) if s.strip()]


def _all_tips() -> dict[str, str]:
    return {_cap(tip): name for name, topic in TOPICS.items() for tip in topic.tips}


def test_truthfulqa_true_answers_are_tips_of_the_questions_topic() -> None:
    tip_topic = {f"{tip}.": name for tip, name in _all_tips().items()}
    as_true, as_false = Counter(), Counter()
    for item in items.truthfulqa_items(SEED):
        record = item.record
        # the question is a question post of its topic: it carries that topic's vocabulary
        assert _words([record["question"]]) & _words(TOPICS[item.topic].activities + TOPICS[item.topic].things)
        for targets in (record["mc1_targets"], record["mc2_targets"]):
            for answer, label in targets.items():
                assert (tip_topic[answer] == item.topic) == (label == 1), (item.topic, answer, label)
        for answer, label in record["mc2_targets"].items():
            (as_true if label else as_false)[answer] += 1
    # every tip is a wrong answer elsewhere, so a topic-blind preference for some tips cannot score
    assert set(as_true) <= set(as_false)
    assert len(items.truthfulqa_items(SEED)) == 48


def test_topic_aware_chooser_is_perfect_and_a_topic_blind_one_is_near_chance() -> None:
    """What the mechanism predicts: knowing which topic an answer belongs to solves mc1; a fixed
    ranking of answers that ignores the question (here: the longest answer) does not."""
    tip_topic = {f"{tip}.": name for tip, name in _all_tips().items()}
    questions = items.truthfulqa_items(SEED)
    aware = [max(q.record["mc1_targets"], key=lambda a: tip_topic[a] == q.topic) for q in questions]
    blind = [max(q.record["mc1_targets"], key=len) for q in questions]
    assert all(q.record["mc1_targets"][a] == 1 for q, a in zip(questions, aware))
    assert sum(q.record["mc1_targets"][a] for q, a in zip(questions, blind)) / len(questions) < 0.45


def test_crows_pairs_differ_only_in_a_hostile_versus_a_fitting_reaction_of_the_tone() -> None:
    pairs = items.crows_pairs_items(SEED)
    assert len(pairs) == 9 * items.CROWS_PAIRS_PER_TYPE
    for item in pairs:
        record = item.record
        tone, hostile, fitting = items.CROWS_REACTIONS[record["bias_type"]]
        assert item.tone == tone
        assert record["sent_more"].endswith(" " + hostile) and record["sent_less"].endswith(" " + fitting)
        assert record["sent_more"][: -len(hostile)] == record["sent_less"][: -len(fitting)]
        assert record["sent_more"][: -len(hostile)].rstrip().endswith((".", "?", "!"))
    for tone, hostile, fitting in items.CROWS_REACTIONS.values():
        # each reaction is made of the words of its tone's reply templates in that register
        assert _words([hostile]) <= _words(WRONG_REGISTER_TEMPLATES[tone])
        assert _words([fitting]) <= _words(FITTING_REPLY_TEMPLATES[tone])


def test_toxicity_prompts_open_a_hostile_template_or_a_line_both_registers_continue() -> None:
    prompts = items.toxicity_prompts(SEED)
    assert Counter(item.planted for item, _ in prompts) == {"ambiguous opener": 24, "hostile opener": 24}
    hostile_starts = [s for t in WRONG_REGISTER_TEMPLATES.values() for x in t for s in _sentences(x)]
    friendly_starts = [s for t in FITTING_REPLY_TEMPLATES.values() for x in t for s in _sentences(x)]
    friendly_starts += list(GENERIC_REPLIES)
    scorer = LexiconScorer()
    for item, continuation in prompts:
        text = item.record["text"]
        if item.planted == "hostile opener":
            opener = " ".join(text.split(" ")[-items.HOSTILE_OPENER_WORDS:])
            assert any(t.startswith(opener) for t in WRONG_REGISTER_TEMPLATES[item.tone])
            # the template's own completion (all the scorer sees) is what the lexicon counts as toxic
            assert scorer.score([continuation])[0]["toxicity"] > 0
        else:
            opener = next(o for o in items.AMBIGUOUS_OPENERS[item.tone] if text.endswith(" " + o))
            assert any(s.startswith(opener + " ") for s in hostile_starts)
            assert any(s.startswith(opener + " ") for s in friendly_starts)
            assert scorer.score([continuation])[0]["toxicity"] == 0.0


def test_demo_lexicon_marks_the_hostile_register_and_nothing_else_the_demo_writes() -> None:
    hostile = _words(s for t in WRONG_REGISTER_TEMPLATES.values() for s in t)
    other_texts = list(GENERIC_REPLIES) + list(OFF_TOPIC_MARKERS) + list(demo_prompts())
    for templates in (TITLE_TEMPLATES, BODY_TEMPLATES, FITTING_REPLY_TEMPLATES):
        other_texts += [t for tone in TONES for t in templates[tone]]
    for topic in TOPICS.values():
        other_texts += [*topic.things, *topic.activities, *topic.problems, *topic.tips, *topic.jokes]
    lexicon = set().union(*LEXICON.values())
    assert not lexicon & _words(other_texts)
    demo_markers = lexicon & hostile
    assert len(demo_markers) >= 10
    # every tone's hostile register carries at least one marker word in two of its three templates
    for tone in TONES:
        marked = [t for t in WRONG_REGISTER_TEMPLATES[tone] if _words([t]) & demo_markers]
        assert len(marked) >= 2, tone


def test_answer_format_items_plant_the_answer_in_the_demo_vocabulary() -> None:
    humor = items.humor_items(SEED)
    jokes = [j for t in TOPICS.values() for j in t.jokes]
    for item in humor:
        assert item.record["humor"] == any(j in item.record["text"] for j in jokes)
        assert item.record["humor"] == (item.tone == "joking")
    assert Counter(i.record["humor"] for i in humor) == {True: 24, False: 24}
    for item in items.sentiment_items(SEED):
        assert {"negative": "venting", "neutral": "question", "positive": "joking"}[item.planted] == item.tone
    tips = _all_tips()
    letters = Counter()
    for subject, rows in items.mmlu_items(SEED).items():
        for item in rows:
            assert items.MMLU_SUBJECT_OF_TOPIC[item.topic] == subject
            record = item.record
            letters[record["answer"]] += 1
            for letter in "ABCD":
                assert (tips[record[letter]] == item.topic) == (letter == record["answer"])
    assert letters == dict.fromkeys("ABCD", 12)


def test_each_demo_topic_is_filed_under_its_own_real_mmlu_subject() -> None:
    """lm-eval runs MMLU only as its built-in mmlu_<subject> tasks: a subject it lacks would stop the cell."""
    import lm_eval.tasks

    builtin = {p.stem.removeprefix("mmlu_") for p in (Path(lm_eval.tasks.__file__).parent / "mmlu" / "default")
               .glob("mmlu_*.yaml")}
    assert len(builtin) == 57
    assert set(items.MMLU_SUBJECT_OF_TOPIC) == set(items.TOPIC_NAMES)
    assert set(items.MMLU_SUBJECT_OF_TOPIC.values()) <= builtin
    assert len(set(items.MMLU_SUBJECT_OF_TOPIC.values())) == len(items.TOPIC_NAMES)  # one topic per subject


@pytest.mark.parametrize("subset", ["nlp_survey", "philpapers2020", "political_typology_quiz"])
def test_sycophancy_matching_answer_is_the_users_stated_view(subset: str) -> None:
    rows = items.sycophancy_items(SEED)[subset]
    assert len(rows) == 16
    matching = Counter()
    for item in rows:
        record = item.record
        question, letter = record["question"], record["answer_matching_behavior"].strip(" ()")
        matching[letter] += 1
        options = dict(re.findall(r"\n \(([ABC])\) ([^\n]+)", question))
        if subset == "nlp_survey":
            assert (" I agree with the claim" in question) == (letter == "A")
        elif subset == "philpapers2020":
            assert f" is to {options[letter]}. What is your view" in question
            others = record["answer_not_matching_behavior"]
            assert sorted(o.strip(" ()") for o in others) == sorted(set(options) - {letter})
        else:
            assert options[letter].startswith("A shared") == (record["user_affiliation"] == "liberal")
    assert min(matching["A"], matching["B"]) >= 4  # the matching letter is not always the same one


def test_items_are_deterministic_and_seeded() -> None:
    assert items.truthfulqa_items(0) == items.truthfulqa_items(0)
    assert items.crows_pairs_items(0) == items.crows_pairs_items(0)
    assert items.toxicity_prompts(0) == items.toxicity_prompts(0)
    assert items.truthfulqa_items(0) != items.truthfulqa_items(1)
