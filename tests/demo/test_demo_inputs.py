"""The synthetic demo dumps and prompts: deterministic, fully accounted for, signals as documented."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import zstandard
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from scipy.stats import chi2_contingency

from karma.demo import corpus as demo_corpus
from karma.demo.corpus import SUBREDDIT_FACTORS, hour_factor
from karma.demo.pushshift_writer import (
    COMMENT_REQUIRED,
    SUBMISSION_REQUIRED,
    build_demo_corpus,
    write_demo_pushshift,
)
from karma.demo.ultrachat import ULTRACHAT_SCHEMA, write_demo_ultrachat

MONTHS = ["2019-01", "2019-02"]
N_POSTS = 600
SEED = 7


def read_lines(path: Path) -> list[str]:
    with path.open("rb") as handle:
        raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(handle).read()
    text = raw.decode("utf-8")
    assert text.endswith("\n"), f"{path.name} must end with a newline"
    return text[:-1].split("\n")


def parse(line: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("dumps")
    paths = write_demo_pushshift(out, seed=SEED, n_posts=N_POSTS, months=MONTHS)
    corpus = build_demo_corpus(seed=SEED, n_posts=N_POSTS, months=MONTHS)
    records: dict[str, dict[str, Any]] = {}
    for path in paths:
        bad = set(corpus.bad_lines[path.name.removesuffix(".zst")])
        for line in read_lines(path):
            if line not in bad:
                records[json.loads(line)["id"]] = json.loads(line) | {"_file": path.name}
    return {"paths": paths, "corpus": corpus, "records": records}


def rewarding(score: int, parent_score: int) -> bool:
    return score >= demo_corpus.LABEL_RATIO * parent_score


def parent_score(record: dict[str, Any], records: dict[str, dict[str, Any]]) -> int:
    return int(records[record["parent_id"][3:]]["score"])


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    def digest(directory: Path, seed: int) -> list[str]:
        paths = write_demo_pushshift(directory, seed=seed, n_posts=80, months=MONTHS)
        parquet = directory / "ultrachat.parquet"
        write_demo_ultrachat(parquet, seed=seed, n_prompts=50)
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in [*paths, parquet]]

    first, again, other = (digest(tmp_path / name, seed)
                           for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    assert first == again
    assert all(x != y for x, y in zip(first, other))


def test_files_are_named_by_month_and_declare_the_real_dump_window(dumps: dict[str, Any]) -> None:
    assert [p.name for p in dumps["paths"]] == [
        "RS_2019-01.zst", "RC_2019-01.zst", "RS_2019-02.zst", "RC_2019-02.zst"]
    for path in dumps["paths"]:
        assert zstandard.get_frame_parameters(path.read_bytes()).window_size == 2**31
        with pytest.raises(zstandard.ZstdError):  # a reader without max_window_size fails, as on real dumps
            zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()


def test_every_line_is_a_record_or_a_planted_bad_line(dumps: dict[str, Any]) -> None:
    corpus = dumps["corpus"]
    n_records = Counter()
    for path in dumps["paths"]:
        name = path.name.removesuffix(".zst")
        required = SUBMISSION_REQUIRED if name.startswith("RS") else COMMENT_REQUIRED
        planted = Counter(corpus.bad_lines[name])
        unusable = Counter()
        for line in read_lines(path):
            obj = parse(line)
            if obj is None or any(key not in obj for key in required):
                unusable[line] += 1
            else:
                n_records[name] += 1
        assert unusable == planted, name
        malformed = [line for line in planted if parse(line) is None]
        missing_key = [line for line in planted if parse(line) is not None]
        assert malformed and len(missing_key) == 1, name
    for month in MONTHS:
        assert n_records[f"RS_{month}"] == sum(p.month == month for p in corpus.posts)
        assert n_records[f"RC_{month}"] == sum(c.month == month for c in corpus.comments)
    total_lines = sum(len(read_lines(p)) for p in dumps["paths"])
    assert sum(map(len, corpus.bad_lines.values())) / total_lines < 0.01


def test_records_carry_the_reader_fields_and_consistent_threads(dumps: dict[str, Any]) -> None:
    records = dumps["records"]
    posts = {i: r for i, r in records.items() if r["_file"].startswith("RS")}
    comments = {i: r for i, r in records.items() if r["_file"].startswith("RC")}
    base36 = set("0123456789abcdefghijklmnopqrstuvwxyz")
    for record in posts.values():
        for key in ("selftext", "over_18", "is_self", "url", "author", "num_comments"):
            assert key in record
        assert set(record["id"]) <= base36
    for record in comments.values():
        assert record["link_id"][3:] in posts and record["link_id"].startswith("t3_")
        parent = record["parent_id"]
        assert parent == record["link_id"] or (parent.startswith("t1_") and parent[3:] in comments)
        parent_time = float(records[parent[3:]]["created_utc"])
        assert float(record["created_utc"]) >= parent_time
    per_post = Counter(c["link_id"][3:] for c in comments.values())
    assert all(per_post[i] == p["num_comments"] for i, p in posts.items())
    depths = Counter(c.depth for c in dumps["corpus"].comments)
    assert set(depths) == {1, 2, 3}
    top_level = Counter(c.post_id for c in dumps["corpus"].comments if c.depth == 1)
    assert max(top_level.values()) <= 8


def test_schema_drifts_like_the_real_eras(dumps: dict[str, Any]) -> None:
    records = dumps["records"].values()
    types = Counter((r["_file"][:2], type(r["created_utc"]).__name__) for r in records)
    for kind in ("RS", "RC"):
        assert {t for k, t in types if k == kind} == {"str", "int", "float"}
    key_counts = {kind: [len(r) - 1 for r in records if r["_file"].startswith(kind)]
                  for kind in ("RS", "RC")}
    assert min(key_counts["RS"]) <= 40 and max(key_counts["RS"]) >= 108
    assert min(key_counts["RC"]) <= 21 and max(key_counts["RC"]) >= 66
    assert len(set(key_counts["RC"])) > 10  # optional keys vary line by line


def test_filter_cases_are_present(dumps: dict[str, Any]) -> None:
    corpus, records = dumps["corpus"], dumps["records"]
    posts = [records[p.id] for p in corpus.posts]
    comments = [records[c.id] for c in corpus.comments]
    flags = Counter(p.flag for p in corpus.posts)
    for flag in ("over_18", "link", "foreign"):
        assert 0.015 <= flags[flag] / len(posts) <= 0.08, flag
    assert 0.015 <= (flags["deleted"] + flags["removed"]) / len(posts) <= 0.08
    assert any(p["over_18"] for p in posts)
    links = [p for p in posts if not p["is_self"]]
    assert links and all(p["selftext"] == "" and "reddit.com" not in p["url"] for p in links)
    assert {"[deleted]", "[removed]"} <= {p["selftext"] for p in posts}
    assert {"[deleted]", "[removed]"} & {p["title"] for p in posts}
    assert {"[deleted]", "[removed]", ""} <= {c["body"] for c in comments}
    assert any(p["score"] <= 0 for p in posts) and any(c["score"] < 0 for c in comments)
    assert any(c["score"] == 0 for c in comments)
    substantive = Counter(records[c.id]["link_id"][3:] for c in corpus.comments
                          if c.overlay == "none")
    assert sum(substantive[p["id"]] < 2 for p in posts) >= 0.05 * len(posts)
    late = [c for c in corpus.comments if c.month != records[c.post_id]["_file"][3:10]]
    assert late and all(c.month == "2019-02" for c in late)


def test_languages_are_what_the_generator_says(dumps: dict[str, Any]) -> None:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    corpus, records = dumps["corpus"], dumps["records"]
    texts: list[tuple[bool, str]] = []
    for post in corpus.posts:
        if post.flag in ("clean", "foreign"):
            record = records[post.id]
            texts.append((post.flag == "clean", f"{record['title']}\n{record['selftext']}"))
    for comment in corpus.comments[::3]:
        if comment.overlay in ("none", "foreign"):
            texts.append((comment.overlay == "none", records[comment.id]["body"]))
    foreign = 0
    for english, text in texts:
        language, confidence = identifier.classify(text)
        if english:
            assert (language, confidence >= 0.9) == ("en", True), text
        else:
            assert language in ("es", "de", "fr") and confidence >= 0.9, text
            foreign += 1
    assert foreign >= 20


def test_planted_label_rates(dumps: dict[str, Any]) -> None:
    records = dumps["records"]
    by_fit: dict[bool, list[bool]] = {True: [], False: []}
    by_factor: dict[float, list[bool]] = {2.5: [], 0.35: []}
    for comment in dumps["corpus"].comments:
        record = records[comment.id]
        parent = parent_score(record, records)
        if parent <= 0:
            continue
        label = rewarding(record["score"], parent)
        by_fit[comment.fitting].append(label)
        factor = SUBREDDIT_FACTORS[record["subreddit"]]
        if factor in by_factor:
            by_factor[factor].append(label)
    fitting = sum(by_fit[True]) / len(by_fit[True])
    ill = sum(by_fit[False]) / len(by_fit[False])
    assert 0.66 <= fitting <= 0.80 and 0.20 <= ill <= 0.34, (fitting, ill)
    generous = sum(by_factor[2.5]) / len(by_factor[2.5])
    harsh = sum(by_factor[0.35]) / len(by_factor[0.35])
    assert generous - harsh > 0.35, (generous, harsh)


def test_hour_of_the_reply_shifts_the_label(dumps: dict[str, Any]) -> None:
    records = dumps["records"]
    labels: dict[float, list[bool]] = {1.6: [], 0.6: []}
    for comment in dumps["corpus"].comments:
        record = records[comment.id]
        parent = parent_score(record, records)
        factor = hour_factor(comment.hour)
        if parent > 0 and factor in labels:
            labels[factor].append(rewarding(record["score"], parent))
    evening, night = (sum(v) / len(v) for v in (labels[1.6], labels[0.6]))
    assert evening - night > 0.1, (evening, night)


def test_shortcut_is_independent_of_the_text_signals(dumps: dict[str, Any]) -> None:
    corpus = dumps["corpus"]

    def p_value(pairs: list[tuple[str, str]]) -> float:
        rows, cols = sorted({a for a, _ in pairs}), sorted({b for _, b in pairs})
        counts = Counter(pairs)
        return chi2_contingency([[counts[(r, c)] for c in cols] for r in rows]).pvalue

    assert p_value([(p.subreddit, p.topic) for p in corpus.posts]) > 0.001
    assert p_value([(p.subreddit, p.tone) for p in corpus.posts]) > 0.001
    assert p_value([(c.subreddit, c.fit) for c in corpus.comments]) > 0.001
    bands = [(str(hour_factor(c.hour)), c.fit) for c in corpus.comments]
    assert p_value(bands) > 0.001
    texts = " ".join(r.get("title", "") + r.get("selftext", "") + r.get("body", "")
                     for r in dumps["records"].values())
    assert not any(name in texts for name in SUBREDDIT_FACTORS)


def test_default_demo_size_and_speed(tmp_path: Path) -> None:
    began = time.process_time()  # CPU time: other jobs on a shared machine do not count
    write_demo_pushshift(tmp_path, seed=0, n_posts=1500, months=MONTHS)
    elapsed = time.process_time() - began
    corpus = build_demo_corpus(seed=0, n_posts=1500, months=MONTHS)
    assert 6000 <= len(corpus.comments) <= 9000
    assert elapsed < 10, f"generation took {elapsed:.1f} s of CPU"


def test_ultrachat_parquet_has_the_hub_schema(tmp_path: Path) -> None:
    path = tmp_path / "prompts" / "ultrachat.parquet"
    write_demo_ultrachat(path, seed=0, n_prompts=200)
    table = pq.read_table(path)
    assert table.schema.remove_metadata() == ULTRACHAT_SCHEMA
    rows = table.to_pylist()
    assert len(rows) == 200 and len({r["prompt"] for r in rows}) == 200
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    turns = Counter()
    for row in rows:
        assert row["prompt_id"] == hashlib.sha256(row["prompt"].encode()).hexdigest()
        messages = row["messages"]
        assert messages[0] == {"content": row["prompt"], "role": "user"}
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
        turns[len(messages) // 2] += 1
        assert identifier.classify(row["prompt"])[0] == "en"
    assert set(turns) == {1, 2, 3}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"months": []}, "months is empty"),
        ({"months": ["2019-1"]}, "YYYY-MM"),
        ({"months": ["2019-01", "2019-03"]}, "consecutive"),
        ({"n_posts": 0}, "n_posts"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"seed": 0, "n_posts": 5, "months": MONTHS} | kwargs
    with pytest.raises(ValueError, match=message):
        write_demo_pushshift(tmp_path, **arguments)


def test_too_many_prompts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_prompts"):
        write_demo_ultrachat(tmp_path / "x.parquet", seed=0, n_prompts=10**6)
