"""Loaders of local benchmark files, one per benchmark, each returning records in one fixed schema.

Evaluation jobs run offline, so every benchmark is read from local files: the demo's fixtures, the real
files a test reads, or what the download rules fetched from the hub into ``resources/``. The same
benchmark comes in several published layouts (MMLU as per-subject CSVs with or without a header, or as
the hub's table with a ``subject`` column; TruthfulQA's ``mc_task.json`` maps answers to labels where
the hub has ``choices``/``labels`` lists), so each loader accepts them all and returns the layout the
lm-eval task in ``karma/evaluation/tasks`` reads: the fields of the hub dataset that lm-eval's built-in task uses,
plus ``item_id``, a stable id the per-item statistics pair variants on.

A path is a file (``.csv``, ``.jsonl``, ``.json`` list, ``.parquet``) or a directory whose data files
are read in name order. Item ids are the row number in a file (``"17"``), or ``"<file stem>:<row>"``
when a directory is read, so they do not depend on a limit or on a subset filter.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
# The nine types of the original release (Nangia et al. 2020). The revised English file that lm-eval's
# crows_pairs_english reads from the hub (Névéol et al. 2022) adds "autre" (other); any type a file
# carries is accepted and becomes a category of its own.
CROWS_PAIRS_BIAS_TYPES = (
    "race-color",
    "socioeconomic",
    "gender",
    "disability",
    "nationality",
    "sexual-orientation",
    "physical-appearance",
    "religion",
    "age",
)
SYCOPHANCY_SUBSETS = ("nlp_survey", "philpapers2020", "political_typology_quiz")
# Subsets whose questions list several non-matching answers (a list in the released files).
SYCOPHANCY_MULTI_ANSWER_SUBSETS = ("philpapers2020",)
RTP_PROMPT_SUBSETS = ("all", "challenging")
MMLU_HEADER = ["question", "choice0", "choice1", "choice2", "choice3", "answer"]
MMLU_LETTERS = "ABCD"
_MMLU_SPLIT_SUFFIXES = ("_test", "_dev", "_val")


def data_files(path: Path, what: str) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES)
        if not files:
            raise FileNotFoundError(
                f"{what}: directory {path} holds no {'/'.join(DATA_SUFFIXES)} files; "
                "point the benchmark's data path at the file or folder of the split to evaluate"
            )
        return files
    raise FileNotFoundError(
        f"{what}: {path} does not exist; write the demo fixtures or run the download rule first"
    )


def _read_file(path: Path, what: str) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        csv.field_size_limit(sys.maxsize)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError(f"{what}: {path} holds a JSON {type(rows).__name__}, expected a list of records")
        return rows
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raise ValueError(f"{what}: cannot read {path}; use one of {', '.join(DATA_SUFFIXES)}")


def iter_rows(path: str | Path, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(item id, raw record) for every row of a file or of a directory's data files."""
    path = Path(path)
    files = data_files(path, what)
    for file in files:
        for row, record in enumerate(_read_file(file, what)):
            yield (f"{file.stem}:{row}" if path.is_dir() else str(row)), record


def _require(record: Mapping[str, Any], fields: tuple[str, ...], what: str, item_id: str) -> None:
    missing = [name for name in fields if name not in record]
    if missing:
        raise ValueError(
            f"{what}: row {item_id} lacks field(s) {', '.join(missing)} (has {', '.join(record)}); "
            "is this the right file for this benchmark?"
        )


def _as_bool(value: Any, what: str, item_id: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "1"):
        return True
    if str(value).strip().lower() in ("false", "0"):
        return False
    raise ValueError(f"{what}: row {item_id} has {value!r} where True/False was expected")


def _log_loaded(what: str, path: str | Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not records:
        raise ValueError(f"{what}: {path} holds no items")
    log.info("%s: %d items from %s", what, len(records), path)
    return records


def load_humor(path: str | Path) -> list[dict[str, Any]]:
    """ColBERT humor (``text``, ``humor`` True/False), as in ``dataset.csv`` and its ``dev.csv`` split."""
    what = "humor (ColBERT)"
    records = []
    for item_id, row in iter_rows(path, what):
        _require(row, ("text", "humor"), what, item_id)
        records.append({"item_id": item_id, "text": row["text"], "humor": _as_bool(row["humor"], what, item_id)})
    return _log_loaded(what, path, records)


def load_sentiment(path: str | Path) -> list[dict[str, Any]]:
    """Sp1786 MSAD (``id``, ``text``, ``label``, ``sentiment``); ``label`` must code ``sentiment`` as
    0 negative, 1 neutral, 2 positive, which is checked on every row so a recoded file cannot slip by.
    Item ids are row numbers: the file's own ``id`` column is not known to be unique."""
    what = "sentiment (MSAD)"
    records = []
    for item_id, row in iter_rows(path, what):
        _require(row, ("text", "label", "sentiment"), what, item_id)
        name = str(row["sentiment"]).strip().lower()
        if name not in SENTIMENT_LABELS or int(row["label"]) != SENTIMENT_LABELS.index(name):
            raise ValueError(
                f"{what}: row {item_id} has label {row['label']!r} with sentiment {row['sentiment']!r}; "
                f"expected labels 0..2 for {', '.join(SENTIMENT_LABELS)}"
            )
        records.append({"item_id": item_id, "text": row["text"], "label": int(row["label"]), "sentiment": name})
    return _log_loaded(what, path, records)


def load_crows_pairs(path: str | Path) -> list[dict[str, Any]]:
    """CrowS-Pairs (``sent_more``, ``sent_less``, ``stereo_antistereo``, ``bias_type``).

    The original CSV (``crows_pairs_anonymized.csv``) and the hub's revised English table both load.
    Every bias type a file carries is kept (the revised file adds ``autre``); a blank or non-text type
    is an error, since its pair would silently fall out of the per-type results. The CSV's unnamed
    first column is its row index; when present it becomes the item id.
    """
    what = "bias (CrowS-Pairs)"
    records = []
    for item_id, row in iter_rows(path, what):
        _require(row, ("sent_more", "sent_less", "stereo_antistereo", "bias_type"), what, item_id)
        bias_type = row["bias_type"]
        if not isinstance(bias_type, str) or not bias_type.strip():
            raise ValueError(
                f"{what}: row {item_id} has bias_type {bias_type!r}; every pair needs a named bias type "
                f"(the original release has {', '.join(CROWS_PAIRS_BIAS_TYPES)}; the revised one adds autre)"
            )
        index = row.get("")
        records.append(
            {
                "item_id": str(index) if index not in (None, "") else item_id,
                "sent_more": row["sent_more"],
                "sent_less": row["sent_less"],
                "stereo_antistereo": row["stereo_antistereo"],
                "bias_type": bias_type.strip(),
            }
        )
    types = sorted({r["bias_type"] for r in records})
    unusual = [t for t in types if t not in CROWS_PAIRS_BIAS_TYPES]
    if unusual:
        log.info("%s: bias types beyond the original nine kept as categories: %s", what, ", ".join(unusual))
    return _log_loaded(what, path, records)


def _mc_targets(value: Any, what: str, item_id: str) -> dict[str, list[Any]]:
    """``{answer: label}`` (mc_task.json) or ``{"choices": [...], "labels": [...]}`` (hub) as lists."""
    if isinstance(value, Mapping) and set(value) == {"choices", "labels"}:
        choices, labels = list(value["choices"]), [int(label) for label in value["labels"]]
    elif isinstance(value, Mapping):
        choices, labels = list(value), [int(label) for label in value.values()]
    else:
        raise ValueError(f"{what}: row {item_id} has targets of type {type(value).__name__}")
    if len(choices) != len(labels) or 1 not in labels or 0 not in labels or set(labels) - {0, 1}:
        raise ValueError(f"{what}: row {item_id} needs 0/1 labels with at least one true and one false answer")
    return {"choices": choices, "labels": labels}


def _true_answer_first(targets: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The one true answer moved to the front, the others in their order: lm-eval's truthfulqa_mc1
    takes choice 0 as the answer, as the published files list it."""
    true = targets["labels"].index(1)
    order = [true, *(k for k in range(len(targets["labels"])) if k != true)]
    return {key: [values[k] for k in order] for key, values in targets.items()}


def load_truthfulqa(path: str | Path) -> list[dict[str, Any]]:
    """TruthfulQA multiple choice: ``mc_task.json`` of the TruthfulQA repository, or the hub's
    ``multiple_choice`` config; mc1 must have exactly one true answer, which comes first."""
    what = "truthfulqa (multiple choice)"
    records = []
    for item_id, row in iter_rows(path, what):
        _require(row, ("question", "mc1_targets", "mc2_targets"), what, item_id)
        mc1 = _mc_targets(row["mc1_targets"], what, item_id)
        if sum(mc1["labels"]) != 1:
            raise ValueError(f"{what}: row {item_id} has {sum(mc1['labels'])} true mc1 answers, expected 1")
        mc1 = _true_answer_first(mc1)
        records.append(
            {
                "item_id": item_id,
                "question": row["question"],
                "mc1_targets": mc1,
                "mc2_targets": _mc_targets(row["mc2_targets"], what, item_id),
            }
        )
    return _log_loaded(what, path, records)


def _mmlu_subject(file: Path) -> str:
    stem = file.stem
    for suffix in _MMLU_SPLIT_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _mmlu_csv_rows(file: Path, what: str) -> Iterator[tuple[str, list[str], int]]:
    """(question, choices, answer index) from a per-subject CSV, with the header-and-0..3 layout or
    the original headerless layout with answers A..D."""
    csv.field_size_limit(sys.maxsize)
    with file.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if rows and rows[0] == MMLU_HEADER:
        rows = rows[1:]
        decode = int
    else:
        decode = MMLU_LETTERS.index
    for number, row in enumerate(rows):
        if len(row) != 6:
            raise ValueError(f"{what}: {file} row {number} has {len(row)} columns, expected 6")
        try:
            answer = decode(row[5].strip())
        except ValueError as err:
            raise ValueError(f"{what}: {file} row {number} has answer {row[5]!r}") from err
        yield row[0], row[1:5], answer


def load_mmlu(path: str | Path) -> list[dict[str, Any]]:
    """MMLU (``question``, ``subject``, ``choices``, ``answer`` 0..3).

    A directory of per-subject CSVs (``<subject>_test.csv``; the subject comes from the file name), or a
    table with a ``subject`` column such as the hub's ``all`` config. Ids are ``"<subject>:<row>"``.
    """
    what = "mmlu"
    path = Path(path)
    records = []
    csv_files = [p for p in data_files(path, what) if p.suffix == ".csv"] if path.is_dir() else []
    if csv_files:
        for file in csv_files:
            subject = _mmlu_subject(file)
            for row, (question, choices, answer) in enumerate(_mmlu_csv_rows(file, what)):
                records.append(
                    {"item_id": f"{subject}:{row}", "question": question, "subject": subject,
                     "choices": choices, "answer": answer}
                )
        return _log_loaded(what, path, records)
    rows_per_subject: dict[str, int] = {}
    for item_id, row in iter_rows(path, what):
        _require(row, ("question", "subject", "choices", "answer"), what, item_id)
        choices = list(row["choices"])
        answer = row["answer"]
        answer = MMLU_LETTERS.index(answer) if isinstance(answer, str) and answer in MMLU_LETTERS else int(answer)
        if len(choices) != 4 or not 0 <= answer < 4:
            raise ValueError(f"{what}: row {item_id} needs 4 choices and an answer in 0..3")
        subject = row["subject"]
        number = rows_per_subject.get(subject, 0)
        rows_per_subject[subject] = number + 1
        records.append(
            {"item_id": f"{subject}:{number}", "question": row["question"], "subject": subject,
             "choices": choices, "answer": answer}
        )
    return _log_loaded(what, path, records)


def load_sycophancy(path: str | Path, subset: str) -> list[dict[str, Any]]:
    """Anthropic sycophancy in the released schema (``question``, ``answer_matching_behavior``,
    ``answer_not_matching_behavior``), as lm-eval's built-in tasks read it: the non-matching answer is
    one string in nlp_survey and political_typology_quiz, a list in philpapers2020 (a one-answer list
    in the former becomes its string, a string in the latter a one-answer list). Ids are
    ``"<subset>:<row>"``."""
    if subset not in SYCOPHANCY_SUBSETS:
        raise ValueError(f"unknown sycophancy subset {subset!r}: use one of {', '.join(SYCOPHANCY_SUBSETS)}")
    what = f"sycophancy ({subset})"
    records = []
    for item_id, row in iter_rows(path, what):
        _require(row, ("question", "answer_matching_behavior", "answer_not_matching_behavior"), what, item_id)
        others = row["answer_not_matching_behavior"]
        others = [others] if isinstance(others, str) else [str(answer) for answer in others]
        if not others:
            raise ValueError(f"{what}: row {item_id} has no non-matching answer")
        if subset not in SYCOPHANCY_MULTI_ANSWER_SUBSETS and len(others) > 1:
            raise ValueError(
                f"{what}: row {item_id} lists {len(others)} non-matching answers, but {subset} has one per "
                "question (only philpapers2020 lists several); is this another subset's file?"
            )
        records.append(
            {
                "item_id": f"{subset}:{item_id}",
                "question": row["question"],
                "answer_matching_behavior": row["answer_matching_behavior"],
                "answer_not_matching_behavior": others if subset in SYCOPHANCY_MULTI_ANSWER_SUBSETS else others[0],
            }
        )
    return _log_loaded(what, path, records)


def load_realtoxicityprompts(path: str | Path, prompt_subset: str = "all") -> list[dict[str, Any]]:
    """RealToxicityPrompts ``prompts.jsonl`` records (``prompt.text``, ``challenging``); ``prompt_subset``
    ``challenging`` keeps the prompts flagged challenging. Ids are row numbers before filtering."""
    if prompt_subset not in RTP_PROMPT_SUBSETS:
        raise ValueError(
            f"unknown toxicity prompt subset {prompt_subset!r}: use one of {', '.join(RTP_PROMPT_SUBSETS)}"
        )
    what = "toxicity (RealToxicityPrompts)"
    records = []
    for item_id, row in iter_rows(path, what):
        _require(row, ("prompt", "challenging"), what, item_id)
        if not isinstance(row["prompt"], Mapping) or "text" not in row["prompt"]:
            raise ValueError(f"{what}: row {item_id} has no prompt.text")
        challenging = _as_bool(row["challenging"], what, item_id)
        if prompt_subset == "challenging" and not challenging:
            continue
        records.append({"item_id": item_id, "prompt": {"text": row["prompt"]["text"]}, "challenging": challenging})
    return _log_loaded(f"{what}, {prompt_subset} prompts", path, records)
