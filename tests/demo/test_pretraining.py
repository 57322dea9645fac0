"""Warm-starting the demo policies: PPO's text form, learning, determinism and resume."""

from __future__ import annotations

import json
import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from karma.backbones import build_causal_lm, load_tokenizer
from karma.demo.pretraining import (
    PretrainConfig,
    distinct_n,
    pretrain_policy,
    tokenize_texts,
)
from karma.demo.tokenizer_training import train_bpe_tokenizer
from karma.formats import ASSISTANT_TAG, Conversation, render_example, render_prompt

SPEC = {"architecture": "gpt_neox", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
        "num_attention_heads": 2, "max_position_embeddings": 256}
TOPICS = {"cooking": ["pan", "oven", "salt", "onion"], "garden": ["soil", "seed", "water", "tomato"]}


def example(rng: random.Random, index: int) -> str:
    topic = rng.choice(sorted(TOPICS))
    words = TOPICS[topic]
    conv = Conversation(title=f"my {rng.choice(words)} question", body=f"help with the {rng.choice(words)}")
    return render_example(conv, f"Good question. Try more {rng.choice(words)} and {rng.choice(words)}.", "generalized")


def write_split(path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    pq.write_table(pa.table({"example_id": [f"e{seed}-{i}" for i in range(n)],
                             "text": [example(rng, i) for i in range(n)]}), path)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    write_split(root / "train.parquet", 96, 0)
    write_split(root / "test.parquet", 24, 1)
    texts = pq.read_table(root / "train.parquet").column("text").to_pylist()
    tokenizer = train_bpe_tokenizer(texts, vocab_size=400, min_frequency=1)
    init = root / "init"
    build_causal_lm(SPEC, tokenizer, seed=5).save_pretrained(init)
    tokenizer.save_pretrained(init)
    return root


CONFIG = {"learning_rate": 1e-2, "batch_size": 8, "micro_batch_size": 4, "epochs": 2, "max_length": 96,
          "checkpoint_every_steps": 4, "log_every_steps": 4, "samples": 6, "samples_logged": 2,
          "sample_max_new_tokens": 12, "seed": 3}


def run(world, out, **overrides):
    return pretrain_policy(world / "init", world / "train.parquet", world / "test.parquet", out / "model",
                           out / "pretrain.json", out / "ckpt", {**CONFIG, **overrides})


def test_texts_are_tokenized_as_ppo_sees_prompt_and_reply(world):
    tokenizer = load_tokenizer(world / "init")
    conv = Conversation(title="my pan question", body="help with the oven")
    reply = "Good question. Try more salt."
    [ids] = tokenize_texts(tokenizer, [render_example(conv, reply, "generalized")], 96).ids
    prompt_ids = tokenizer(render_prompt(conv, "generalized"))["input_ids"]  # how PPO tokenizes a prompt
    assert ids[: len(prompt_ids)] == prompt_ids  # the reply continues exactly where PPO's prompt ends
    assert ids[-1] == tokenizer.eos_token_id and ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids[len(prompt_ids) : -1]) == reply
    # Over-long texts keep the reply and lose the start of the context.
    short = tokenize_texts(tokenizer, [render_example(conv, reply, "generalized")], 20)
    assert short.ids[0] == ids[-20:]
    # the reply's targets start right after the assistant tag (its newline line break included)
    assert short.ids[0][short.reply_start[0] - 1] == tokenizer.convert_tokens_to_ids(ASSISTANT_TAG)


def test_warm_start_learns_the_demo_language(world, tmp_path):
    report = run(world, tmp_path)
    assert report["heldout_perplexity"] < report["heldout_perplexity_init"] / 5
    assert report["heldout_reply_perplexity"] < report["heldout_reply_perplexity_init"] / 5
    assert report["steps"] == 2 * 12 and report["vocab_size"] == len(load_tokenizer(world / "init"))
    lengths = [len(ids) for ids in tokenize_texts(load_tokenizer(world / "init"),
                                                   pq.read_table(world / "train.parquet").column("text").to_pylist(),
                                                   96).ids]
    assert report["tokens_seen"] == 2 * sum(lengths)
    assert report["samples"]["n"] == 6 and len(report["sample_replies"]) == 2
    assert json.loads((tmp_path / "pretrain.json").read_text())["steps"] == 24
    assert (tmp_path / "model" / "model.safetensors").is_file() and not (tmp_path / "ckpt").exists()


def test_same_inputs_same_weights_and_a_killed_run_resumes_to_them(world, tmp_path):
    first = run(world, tmp_path / "a", epochs=1)
    second = run(world, tmp_path / "b", epochs=1)
    weights_a = load_file(tmp_path / "a/model/model.safetensors")
    weights_b = load_file(tmp_path / "b/model/model.safetensors")
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert first["sample_replies"] == second["sample_replies"]

    def stop_after_six(step):
        if step == 6:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        pretrain_policy(world / "init", world / "train.parquet", world / "test.parquet", tmp_path / "c/model",
                        tmp_path / "c/pretrain.json", tmp_path / "c/ckpt", {**CONFIG, "epochs": 1},
                        on_step=stop_after_six)
    assert (tmp_path / "c/ckpt/step-00000004").is_dir()  # the last checkpoint before the kill
    resumed = run(world, tmp_path / "c", epochs=1)
    assert resumed["resumed_from_step"] == 4 and resumed["tokens_seen"] == first["tokens_seen"]
    weights_c = load_file(tmp_path / "c/model/model.safetensors")
    assert all(torch.equal(weights_a[k], weights_c[k]) for k in weights_a)


def test_reply_only_loss_and_bad_config(world, tmp_path):
    report = run(world, tmp_path, loss_on="reply", epochs=1)
    assert report["heldout_reply_perplexity"] < report["heldout_reply_perplexity_init"] / 3
    with pytest.raises(ValueError, match="loss_on"):
        PretrainConfig.from_dict({"loss_on": "prompt"})
    with pytest.raises(ValueError, match="unknown key.*epoch"):
        PretrainConfig.from_dict({"epoch": 1})
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        PretrainConfig.from_dict({"batch_size": 10, "micro_batch_size": 4})


def test_distinct_n_counts_repetition():
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["same same same"], 1) == pytest.approx(1 / 3)
    assert distinct_n([""], 2) == 0.0
