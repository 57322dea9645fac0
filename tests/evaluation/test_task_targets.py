"""Humor and sentiment targets against hand-checked items, scored by a model whose answers we set.

A flipped ``doc_to_target`` (or choices in another order than the labels) turns acc into 1 - acc
without any other test noticing. Here a fake language model answers every item as a human reader
would (its log-likelihoods are chosen by a hand-made answer key), and the cells written by the real
evaluation path (lm-eval's tasks, per-item samples, cells) must then show acc exactly 1, item by item;
a model that always picks one choice scores exactly that choice's share of the items.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402
from shared_data import SHARED_DATA, needs_shared_data

from karma.demo.benchmark_fixtures import write_benchmark_fixtures  # noqa: E402
from karma.evaluation import lm_eval_runner  # noqa: E402
from karma.evaluation.cells import read_cell  # noqa: E402

# The first 11 rows of the real ColBERT dev.csv, read and judged by hand (the key is a phrase of the
# row): puns and riddles are jokes, news headlines are not. The file agrees on all 11.
REAL_HUMOR = {
    "first aid kitty": "yes",
    "in shape to wear tank tops": "yes",
    "we'll see about that. - papa john's": "yes",
    "my iphone 6": "yes",
    "Black teen's response to violence": "no",
    "is making us hungry, delighted (video)": "no",
    "as adults do in adultery": "yes",
    "Funded kickstarters": "no",
    "my zipper": "yes",
    "he glue up": "yes",
    "smooth military ties": "no",
}
# The demo fixtures (karma.demo.benchmark_items), judged by their wording: the joking register's punch
# lines are jokes, questions and venting are not; venting is negative, questions neutral, playful and
# supportive replies positive. Each key phrase opens one register's lines.
DEMO_HUMOR = {
    "Update:": "yes", "Apparently": "yes", "I tried to": "yes",
    "How do I": "no", "What is the best way": "no", "Any advice": "no", "Is my": "no",
    "I am so done": "no", "Why does this keep happening": "no", "Honestly exhausted": "no",
}
DEMO_SENTIMENT = {
    "I am so done": "negative", "Why does this keep happening": "negative", "Honestly exhausted": "negative",
    "How do I": "neutral", "What is the best way": "neutral", "Any advice": "neutral", "Is my": "neutral",
    "Ha, this made my day": "positive", "This is hilarious": "positive", "Sending you a hug": "positive",
}
TEXT = {"humor": re.compile(r"Text: (.*)\nAnswer:$", re.DOTALL),
        "sentiment": re.compile(r"^Text: (.*)\nQuestion: ", re.DOTALL)}


class AnsweringLM(LM):
    """Log-likelihood 0 for the choice ``answer(text)`` names, -5 for every other choice."""

    def __init__(self, benchmark: str, answer: Callable[[str], str]) -> None:
        super().__init__()
        self.benchmark, self.answer, self.seen = benchmark, answer, []

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        results = []
        for request in requests:
            context, continuation = request.args
            text = TEXT[self.benchmark].search(context).group(1)
            self.seen.append(text)
            results.append((0.0 if continuation.strip() == self.answer(text) else -5.0, False))
        return results

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("multiple-choice tasks only")

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("multiple-choice tasks only")


def by_key(key: dict[str, str]) -> Callable[[str], str]:
    def answer(text: str) -> str:
        found = [choice for phrase, choice in key.items() if phrase in text]
        assert len(found) == 1, f"no single hand-made answer for {text!r}"
        return found[0]
    return answer


def evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, benchmark: str, data: Path,
             answer: Callable[[str], str], limit: int | None = None):
    lm = AnsweringLM(benchmark, answer)
    monkeypatch.setattr(lm_eval_runner, "_load_lm", lambda *args: lm)
    out = tmp_path / f"{benchmark}.json"
    lm_eval_runner.evaluate_policy(tmp_path / "no-model", "fake", "base",
                                   {benchmark: lm_eval_runner.BenchmarkSpec(data)}, {benchmark: out},
                                   limits={benchmark: limit})
    return read_cell(out), lm


@pytest.fixture(scope="module")
def demo_fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return write_benchmark_fixtures(tmp_path_factory.mktemp("benchmarks"))


@needs_shared_data
def test_humor_target_on_the_real_colbert_rows(tmp_path, monkeypatch):
    with (SHARED_DATA / "colbert_humor" / "dev.csv").open(newline="") as handle:
        rows = [row for _, row in zip(range(len(REAL_HUMOR) + 1), csv.reader(handle))]
    data = tmp_path / "dev.csv"  # the header and the first 11 rows, as they are in the file
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    cell, lm = evaluate(tmp_path, monkeypatch, "humor", data, by_key(REAL_HUMOR))
    assert cell.n == 11 and len(lm.seen) == 2 * 11  # two choices per item
    assert [item.score for item in cell.items] == [1.0] * 11 and cell.primary_value == 1.0
    assert sum(row[1] == "True" for row in rows[1:]) == 7  # the file's own labels: 7 jokes
    cell, _ = evaluate(tmp_path, monkeypatch, "humor", data, lambda text: "yes")
    assert cell.primary_value == pytest.approx(7 / 11, abs=1e-12)


def test_humor_target_on_the_demo_fixture(tmp_path, monkeypatch, demo_fixtures):
    cell, _ = evaluate(tmp_path, monkeypatch, "humor", demo_fixtures["humor"], by_key(DEMO_HUMOR))
    assert cell.n == 48 and all(item.score == 1.0 for item in cell.items)  # every item, all keyed
    cell, _ = evaluate(tmp_path, monkeypatch, "humor", demo_fixtures["humor"], lambda text: "no")
    assert cell.primary_value == 0.5  # half the fixture rows are jokes


def test_sentiment_target_on_the_demo_fixture(tmp_path, monkeypatch, demo_fixtures):
    cell, lm = evaluate(tmp_path, monkeypatch, "sentiment", demo_fixtures["sentiment"], by_key(DEMO_SENTIMENT))
    assert cell.n == 48 and len(lm.seen) == 3 * cell.n  # every item; three choices per item
    assert all(item.score == 1.0 for item in cell.items)
    cell, _ = evaluate(tmp_path, monkeypatch, "sentiment", demo_fixtures["sentiment"], lambda text: "neutral")
    assert cell.primary_value == pytest.approx(1 / 3, abs=1e-12)  # the three classes come equally often


def test_sentiment_target_on_hand_written_msad_rows(tmp_path, monkeypatch):
    """Rows in MSAD's published layout (id, text, label, sentiment: 0 negative, 1 neutral, 2 positive)."""
    rows = [("a1", "This is the worst phone I have ever owned, it broke in a day.", 0, "negative"),
            ("a2", "The meeting is scheduled for three o'clock on Thursday.", 1, "neutral"),
            ("a3", "Best birthday ever, thank you all so much!", 2, "positive"),
            ("a4", "I hate waiting in this endless line.", 0, "negative")]
    data = tmp_path / "test_df.csv"
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows([("id", "text", "label", "sentiment"), *rows])
    key = {"worst phone": "negative", "scheduled for three": "neutral", "Best birthday": "positive",
           "endless line": "negative"}
    cell, _ = evaluate(tmp_path, monkeypatch, "sentiment", data, by_key(key))
    assert [item.score for item in cell.items] == [1.0] * 4
