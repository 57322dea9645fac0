"""The tiny offline "world" the PPO, evaluation and workflow-free tests build on: two different
tokenizers (the policy's and the reward model's, so ids never line up), tiny policies of each
architecture, a tiny reward model and a prompt file."""

from __future__ import annotations

import os
import random
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pyarrow as pa
import pyarrow.parquet as pq

from karma.backbones import build_causal_lm
from karma.demo.tokenizer_training import SpecialTokens, train_bpe_tokenizer
from karma.reward.model import KarmaRewardModel, save_reward_model

WORDS = (
    "the cat dog runs fast slow happy sad reddit karma post reply funny good bad why how what is "
    "are you me we they upvote thread joke story"
).split()

SPECS = {
    "llama": {"architecture": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
              "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 512},
    "gpt_neox": {"architecture": "gpt_neox", "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 512},
    "falcon": {"architecture": "falcon", "hidden_size": 32, "num_hidden_layers": 1,
               "num_attention_heads": 2, "max_position_embeddings": 512},
    # Falcon3's shape (tiiuae/Falcon3-1B-Base config.json): the Llama architecture with grouped-query
    # attention, a head_dim wider than hidden_size / heads, untied embeddings and rope_theta 1000042.
    "falcon3": {"architecture": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "tie_word_embeddings": False,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000042.0}, "max_position_embeddings": 512},
}


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def policy_tokenizer():
    texts = [sentence(random.Random(i), 12) for i in range(200)]
    return train_bpe_tokenizer(texts, vocab_size=360, min_frequency=1)


def reward_tokenizer():
    """Other vocabulary size, other merges, other special-token names: ids never line up."""
    texts = [sentence(random.Random(1000 + i), 7) for i in range(120)]
    special = SpecialTokens(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>")
    return train_bpe_tokenizer(texts, vocab_size=300, min_frequency=1, special=special)


def write_policy(out: Path, architecture: str, seed: int = 1) -> Path:
    tokenizer = policy_tokenizer()
    build_causal_lm(SPECS[architecture], tokenizer, seed=seed).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def write_reward_model(out: Path, architecture: str = "llama") -> Path:
    tokenizer = reward_tokenizer()
    backbone = build_causal_lm(SPECS[architecture], tokenizer, seed=2).base_model  # without the LM head
    save_reward_model(KarmaRewardModel.from_backbone(backbone, max_input_tokens=384, seed=3), tokenizer, out)
    return out


def write_prompts(path: Path, n: int = 24) -> Path:
    rng = random.Random(7)
    rows = [
        {
            "prompt_id": f"p{i}",
            "source": "reddit",
            "title": sentence(rng, 4),
            "body": sentence(rng, 6),
            "parents": [sentence(rng, 3)] if i % 3 == 0 else [],
            "siblings": [sentence(rng, 3)],
            "subreddit": "jokes" if i % 2 else None,
            "created_utc": 1_600_000_000 + 3600 * i if i % 2 else None,
        }
        for i in range(n)
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
