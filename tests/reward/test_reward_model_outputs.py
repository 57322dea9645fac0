"""A trained reward model directory is a standard transformers model with a card and provenance.

The loading test runs in a fresh interpreter that imports nothing of ours but the documented
``import karma.reward.model``, then uses transformers' Auto classes and pipeline only, and must give
the scores :class:`RewardScorer` (the PPO reward) gives.
"""

import json
import logging
import os
import subprocess
import sys
import textwrap

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch
from test_reward_training import SPEC, split, write_world

from karma.formats import Conversation, chat_messages, render_example
from karma.reward.model import RewardScorer
from karma.reward.training import train_reward_model

CONFIG = {"learning_rate": 3e-3, "epochs": 1, "batch_size": 8, "micro_batch_size": 8, "max_length": 40,
          "checkpoint_every_steps": 50, "eval_batch_size": 4, "seed": 3, "device": "cpu"}
RUN_CONFIG = {"run": "unit", "seed": 3, "label": {"ratio": 0.4, "nonpositive_parent": "drop"}}
STATS = {"setting": "conditioned", "label_rule": {"ratio": 0.4, "nonpositive_parent": "drop"},
         "train": {"examples": 32, "posts": 11, "positive_rate": 0.5}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("rm-outputs")
    train, test = split(32, 0), split(12, 1)
    write_world(root, train, test)
    (root / "stats.json").write_text(json.dumps(STATS))
    threads = torch.get_num_threads()
    metrics = train_reward_model(
        root / "train.parquet", root / "test.parquet", root / "model", root / "metrics.json",
        root / "checkpoints", CONFIG, backbone=SPEC, tokenizer_dir=root / "tok", threads=1,
        examples_stats=root / "stats.json", run_config=RUN_CONFIG,
    )
    torch.set_num_threads(threads)
    return root, metrics, list(test.text)


def test_config_says_format_label_and_one_rewarding_label(trained):
    root, _, _ = trained
    config = json.loads((root / "model/config.json").read_text())
    assert config["model_type"] == "karma_reward" and "auto_map" not in config
    assert config["id2label"] == {"0": "rewarding"} and config["architectures"] == ["KarmaRewardModel"]
    assert config["input_format"] == "conditioned" and config["label_rule"] == STATS["label_rule"]
    tokenizer = json.loads((root / "model/tokenizer_config.json").read_text())
    assert tokenizer["truncation_side"] == "left" and tokenizer["model_max_length"] == CONFIG["max_length"]
    conversation = Conversation(title="a post", parents=("a reply",), siblings=("another",))
    messages = chat_messages(conversation, "generalized") + [{"role": "assistant", "content": "ha"}]
    assert RewardScorer.from_pretrained(root / "model", device="cpu").tokenizer.apply_chat_template(
        messages, tokenize=False) == render_example(conversation, "ha", "generalized")


def test_model_card_and_provenance(trained):
    root, metrics, _ = trained
    card = (root / "model/README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag: text-classification" in card
    for heading in ("How to load", "Label rule", "Limits", "Data", "Training", "Held-out metrics",
                    "Provenance"):
        assert f"\n## {heading}\n" in card, heading
    assert "at least 0.4 times its parent's score" in card and "not used as an example" in card
    assert "shortcuts" in card  # the conditioned format's limit
    assert f'"roc_auc": {json.dumps(metrics["roc_auc"])}' in card
    assert '"learning_rate": 0.003' in card and '"examples": 32' in card
    provenance = json.loads((root / "model/provenance.json").read_text())
    assert provenance["config"] == RUN_CONFIG
    assert provenance["packages"]["transformers"] == "5.24.0"
    assert set(provenance["git"]) == {"commit", "dirty"}
    assert f"`{provenance['git']['commit']}`" in card or provenance["git"]["commit"] is None


LOADER = textwrap.dedent("""
    import json, sys
    import karma.reward.model  # the one documented import
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model_dir, texts = sys.argv[1], json.loads(sys.argv[2])
    assert AutoConfig.from_pretrained(model_dir).model_type == "karma_reward"
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, trust_remote_code=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    one_by_one = [model(**tokenizer([t], truncation=True, return_tensors="pt")).logits.item() for t in texts]
    batch = tokenizer(texts, truncation=True, padding=True, return_tensors="pt")
    batched = model(**batch).logits.sigmoid()
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer)
    piped = classify(texts, truncation=True)
    print(json.dumps({
        "one_by_one": one_by_one, "batched": batched.view(-1).tolist(), "shape": list(batched.shape),
        "pipeline": piped, "karma_modules": sorted(m for m in sys.modules if m.startswith("karma")),
    }))
""")


STAGE_PACKAGES = {f"karma.{s}" for s in ("data", "reward", "ppo", "evaluation", "report", "demo")}


def test_plain_transformers_loads_and_scores_like_the_ppo_scorer(trained):
    root, _, texts = trained
    texts = texts + ["<|user|>\n" + "a very long post " * 40 + "\n<|assistant|>\nha funny"]
    result = subprocess.run([sys.executable, "-c", LOADER, str(root / "model"), json.dumps(texts)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    # the documented import pulls in only the model's own module and the small core it builds on
    stage_modules = [m for m in got["karma_modules"] if m.count(".") > 1 or m in STAGE_PACKAGES]
    assert stage_modules == ["karma.reward", "karma.reward.model"], got["karma_modules"]
    scorer = RewardScorer.from_pretrained(root / "model", device="cpu")
    # identical logits, the long text truncated from the left as in training
    assert got["one_by_one"] == [float(scorer.logits([t])[0]) for t in texts]
    ours = [float(scorer.score([t])[0]) for t in texts]
    assert got["shape"] == [len(texts), 1]
    np.testing.assert_allclose(got["batched"], scorer.score(texts, batch_size=len(texts)), rtol=0, atol=1e-6)
    assert [p["label"] for p in got["pipeline"]] == ["rewarding"] * len(texts)
    np.testing.assert_allclose([p["score"] for p in got["pipeline"]], ours, rtol=0, atol=1e-6)


def test_without_the_import_transformers_names_the_unknown_model_type(trained):
    root, _, _ = trained
    code = ("import sys; from transformers import AutoModelForSequenceClassification as A\n"
            "A.from_pretrained(sys.argv[1])")
    result = subprocess.run([sys.executable, "-c", code, str(root / "model")], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode != 0 and "karma_reward" in result.stderr


def test_trl_get_reward_reads_the_same_logit(trained):
    from trl.experimental.utils import get_reward

    root, _, texts = trained
    scorer = RewardScorer.from_pretrained(root / "model", device="cpu")
    batch = scorer.tokenizer(texts[:4], truncation=True, padding=True, return_tensors="pt")
    _, rewards, _ = get_reward(scorer.model, batch["input_ids"], scorer.tokenizer.pad_token_id, 0)
    np.testing.assert_allclose(rewards.detach().numpy(), scorer.logits(texts[:4], batch_size=4),
                               rtol=0, atol=1e-5)


def test_training_logs_percentage_and_eta(tmp_path, caplog):
    root = tmp_path
    write_world(root, split(24, 0), split(8, 1))
    threads = torch.get_num_threads()
    with caplog.at_level(logging.INFO, logger="karma.reward.training"):
        train_reward_model(root / "train.parquet", root / "test.parquet", root / "model",
                           root / "metrics.json", root / "ckpt", CONFIG, backbone=SPEC,
                           tokenizer_dir=root / "tok", threads=1)
    torch.set_num_threads(threads)
    lines = [r.getMessage() for r in caplog.records if r.name == "karma.reward.training"]
    assert any(line.startswith("reward training: 0.0% (0 of 3 steps)") and "ETA" in line for line in lines)
    assert any(line.startswith("reward training: 100.0% (3 of 3 steps)") and "(done)" in line
               for line in lines)
    assert any(line.startswith("held-out scoring: 100.0% (8 of 8 examples)") for line in lines)
    card = (root / "model/README.md").read_text()
    assert "karma reward model (not recorded)" in card and "Not recorded" in card
