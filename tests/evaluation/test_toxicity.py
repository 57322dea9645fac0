"""Toxicity scorers and settings: the demo lexicon, summaries, Detoxify/Perspective failure modes."""

from __future__ import annotations

import io
import json
import os
import sys
import urllib.error
from pathlib import Path

import pytest

from karma.evaluation import toxicity
from karma.evaluation.toxicity import (
    TOXICITY_LABELS,
    LexiconScorer,
    PerspectiveScorer,
    ToxicityConfig,
    make_scorer,
    summarize_continuations,
)


def test_lexicon_scores_every_label_and_counts_matches() -> None:
    clean, insult, mixed = LexiconScorer().score(
        ["The recipe calls for flour.", "You stupid idiot.", "I will kill you, you damn moron."]
    )
    for row in (clean, insult, mixed):
        assert set(row) == set(TOXICITY_LABELS)
        assert all(0.0 <= value <= 1.0 for value in row.values())
    assert all(value == 0.0 for value in clean.values())
    assert insult["insult"] == pytest.approx(0.75)  # two insult words: 1 - 0.5**2
    assert insult["threat"] == 0.0
    assert mixed["threat"] == 0.5 and mixed["obscene"] == 0.5 and mixed["insult"] == 0.5
    assert mixed["toxicity"] == pytest.approx(1 - 0.5**3)
    assert mixed["severe_toxicity"] == pytest.approx(mixed["toxicity"] ** 2)
    # whole words only: "hello" must not match anything, "Stupid!" must
    assert LexiconScorer().score(["hello skill"])[0]["toxicity"] == 0.0
    assert LexiconScorer().score(["Stupid!"])[0]["insult"] == 0.5


def test_summarize_continuations_means_max_and_threshold() -> None:
    low = dict.fromkeys(TOXICITY_LABELS, 0.1)
    high = dict.fromkeys(TOXICITY_LABELS, 0.1) | {"toxicity": 0.7, "threat": 0.5}
    summary = summarize_continuations([low, high])
    assert summary["toxicity"] == pytest.approx(0.4)
    assert summary["threat"] == pytest.approx(0.3)
    assert summary["max_toxicity"] == pytest.approx(0.7)
    assert summary["toxic"] == 1.0
    assert summarize_continuations([low])["toxic"] == 0.0
    with pytest.raises(ValueError, match="continuations"):
        summarize_continuations([])


def test_config_from_mapping_validates() -> None:
    cfg = ToxicityConfig.from_mapping({"scorer": "lexicon", "detoxify_checkpoint": "resources/x.ckpt"})
    assert cfg.detoxify_checkpoint == Path("resources/x.ckpt")
    assert cfg.continuations_per_prompt == 25 and cfg.max_new_tokens == 20 and cfg.prompt_subset == "challenging"
    with pytest.raises(ValueError, match="benchmarks.toxicity: unknown key.*max_tokens"):
        ToxicityConfig.from_mapping({"max_tokens": 5})
    with pytest.raises(ValueError, match="scorer 'bert'"):
        ToxicityConfig(scorer="bert")
    with pytest.raises(ValueError, match="prompt_subset"):
        ToxicityConfig(prompt_subset="toxic")
    with pytest.raises(ValueError, match="continuations_per_prompt"):
        ToxicityConfig(continuations_per_prompt=0)
    with pytest.raises(ValueError, match="top_p"):
        ToxicityConfig(top_p=1.5)


def test_detoxify_fails_with_instructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="detoxify_checkpoint and toxicity.detoxify_config_dir.*toxic_original"):
        make_scorer(ToxicityConfig(scorer="detoxify"))
    ckpt = tmp_path / "toxic_original-c1212f89.ckpt"
    with pytest.raises(ValueError, match="detoxify_config_dir"):
        make_scorer(ToxicityConfig(scorer="detoxify", detoxify_checkpoint=ckpt))
    with pytest.raises(FileNotFoundError, match="toxic_original-c1212f89.ckpt does not exist"):
        make_scorer(ToxicityConfig(scorer="detoxify", detoxify_checkpoint=ckpt, detoxify_config_dir=tmp_path))
    monkeypatch.setitem(sys.modules, "detoxify", None)  # import fails whether or not it is installed
    with pytest.raises(RuntimeError, match="pip install detoxify"):
        make_scorer(ToxicityConfig(scorer="detoxify", detoxify_checkpoint=ckpt, detoxify_config_dir=tmp_path))


def test_the_detoxify_checkpoint_is_verified_before_it_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14, defect 7: the checkpoint is a pickle; a file whose SHA-256 differs from the one
    configured, or from the prefix its published name carries, is never unpickled."""
    import hashlib

    import torch

    from karma.file_digest import ChecksumError

    loaded: list[bytes] = []

    class Unpickled(Exception):
        pass

    def fake_load(handle: io.BytesIO, **_: object) -> None:
        loaded.append(handle.read())
        raise Unpickled

    monkeypatch.setattr(torch, "load", fake_load)
    config_dir = tmp_path / "bert-base-uncased"
    config_dir.mkdir()
    (config_dir / "config.json").write_text("{}")
    payload = b"a pickled model"
    digest = hashlib.sha256(payload).hexdigest()

    def scorer(checkpoint: Path, sha256: str | None = None) -> None:
        make_scorer(ToxicityConfig(scorer="detoxify", detoxify_checkpoint=checkpoint,
                                   detoxify_config_dir=config_dir, detoxify_sha256=sha256))

    tampered = tmp_path / "toxic_original-c1212f89.ckpt"
    tampered.write_bytes(payload)
    with pytest.raises(ChecksumError, match="requires c1212f89"):
        scorer(tampered)
    renamed = tmp_path / "model.ckpt"
    renamed.write_bytes(payload)
    with pytest.raises(ValueError, match="no hash prefix.*detoxify_sha256"):
        scorer(renamed)
    with pytest.raises(ChecksumError):
        scorer(renamed, "0" * 64)
    assert loaded == []
    with pytest.raises(Unpickled):
        scorer(renamed, digest)
    named = tmp_path / f"toxic_original-{digest[:8]}.ckpt"
    named.write_bytes(payload)
    with pytest.raises(Unpickled):
        scorer(named)
    assert loaded == [payload, payload]  # the bytes verified are the bytes unpickled


# Runs in a fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE and HF_HOME when first imported,
# and this test process has imported it long before. HF_ENDPOINT points nowhere, so a hub request
# fails even if offline mode were ignored.
_OFFLINE_SCORING = """
import json, sys
from pathlib import Path
from karma.evaluation.toxicity import DetoxifyScorer
checkpoint, config_dir, sha256 = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
texts = json.loads(sys.argv[4])
try:
    from detoxify import Detoxify
    Detoxify("original", checkpoint=str(checkpoint), huggingface_config_path=str(config_dir))
    upstream = "loaded"
except Exception as err:
    upstream = type(err).__name__
scores = DetoxifyScorer(checkpoint, config_dir, sha256=sha256).score(texts)
print(json.dumps({"upstream": upstream, "scores": scores}))
"""


def test_detoxify_scores_offline_with_an_empty_hf_cache(tmp_path: Path) -> None:
    """Issue 16, point 2: Detoxify 0.5.4 loads bert-base-uncased's config by hub name even when given
    the fetched folder, so on an offline compute node every toxicity cell failed. The scorer builds
    on the folder alone, and each label is the sigmoid of the checkpoint's output for that label."""
    import subprocess

    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from karma.demo.detoxify_checkpoint import JIGSAW_CLASSES, write_detoxify_checkpoint

    checkpoint, config_dir = tmp_path / "toxic_original-c1212f89.ckpt", tmp_path / "bert-base-uncased"
    digest = write_detoxify_checkpoint(checkpoint, config_dir, steps=0)
    (tmp_path / "hf-home").mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"),
           "HF_ENDPOINT": "http://127.0.0.1:9", "TRANSFORMERS_OFFLINE": "1"}
    texts = ["The sauce split and turned greasy.", "You stupid idiot, I will hurt you."]
    result = subprocess.run([sys.executable, "-c", _OFFLINE_SCORING, str(checkpoint), str(config_dir), digest,
                             json.dumps(texts)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["upstream"] != "loaded", "Detoxify now loads offline by itself: load_detoxify can go"
    assert list((tmp_path / "hf-home").rglob("*")) == []  # nothing fetched, nothing cached

    payload = torch.load(checkpoint, weights_only=False)
    model = BertForSequenceClassification(BertConfig.from_pretrained(config_dir, num_labels=6)).eval()
    model.load_state_dict(payload["state_dict"])
    encoded = BertTokenizerFast.from_pretrained(config_dir)(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.sigmoid(model(**encoded).logits)
    names = {"toxic": "toxicity", "severe_toxic": "severe_toxicity", "identity_hate": "identity_attack"}
    for row, scores in zip(expected, answer["scores"], strict=True):
        assert set(scores) == set(TOXICITY_LABELS)
        for index, jigsaw in enumerate(JIGSAW_CLASSES):
            assert scores[names.get(jigsaw, jigsaw)] == pytest.approx(float(row[index]), abs=1e-6)


def _answer(values: dict[str, float]) -> dict:
    return {"attributeScores": {name: {"summaryScore": {"value": v}} for name, v in values.items()}}


def test_perspective_request_parsing_and_key_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toxicity.time, "sleep", lambda seconds: None)
    calls = []
    attempts = {"n": 0}

    def transport(url: str, body: bytes, headers: dict) -> dict:
        calls.append((url, json.loads(body), dict(headers)))
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise urllib.error.HTTPError(url, 429, "Too Many Requests", {}, io.BytesIO())
        return _answer({"TOXICITY": 0.9, "SEVERE_TOXICITY": 0.2, "PROFANITY": 0.8, "THREAT": 0.1,
                        "INSULT": 0.7, "IDENTITY_ATTACK": 0.05})

    scorer = PerspectiveScorer("SECRET-KEY", requests_per_second=1000, transport=transport)
    rows = scorer.score(["you fool", "   "])
    assert rows[0] == {"toxicity": 0.9, "severe_toxicity": 0.2, "obscene": 0.8, "threat": 0.1,
                       "insult": 0.7, "identity_attack": 0.05}
    assert rows[1] == dict.fromkeys(TOXICITY_LABELS, 0.0)  # empty text: no request
    assert len(calls) == 2  # one retry after 429, nothing for the blank text
    url, body, headers = calls[-1]
    assert "SECRET-KEY" not in url and headers["X-Goog-Api-Key"] == "SECRET-KEY"
    assert set(body["requestedAttributes"]) == set(toxicity.PERSPECTIVE_ATTRIBUTES.values())
    assert body["comment"] == {"text": "you fool"} and body["doNotStore"] is True
    assert "SECRET-KEY" not in repr(scorer)

    def forbidden(url: str, body: bytes, headers: dict) -> dict:
        raise urllib.error.HTTPError(url, 403, "Forbidden", {}, io.BytesIO())

    with pytest.raises(RuntimeError, match="HTTP 403") as err:
        PerspectiveScorer("SECRET-KEY", transport=forbidden).score(["x"])
    assert "SECRET-KEY" not in str(err.value)


def test_make_scorer_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(toxicity.PERSPECTIVE_KEY_VARIABLE, raising=False)
    with pytest.raises(ValueError, match="PERSPECTIVE_API_KEY"):
        make_scorer(ToxicityConfig(scorer="perspective"))
    monkeypatch.setenv(toxicity.PERSPECTIVE_KEY_VARIABLE, "k")
    assert isinstance(make_scorer(ToxicityConfig(scorer="perspective")), PerspectiveScorer)
    assert isinstance(make_scorer(ToxicityConfig(scorer="lexicon")), LexiconScorer)
    monkeypatch.setenv("KARMA_TOXICITY_SCORER", "lexicon")
    assert isinstance(toxicity.scorer_from_environment(), LexiconScorer)
