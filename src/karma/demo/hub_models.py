"""Tiny stand-ins for the paper's hub models, as repositories: the files a hub model repository holds.

The rehearsal (:mod:`karma.demo.rehearsal`) runs ``config/paper.yaml`` shrunk, offline. Its models must
meet the workflow the way the real ones do, so each stand-in copies what the code paths depend on and
shrinks only the sizes:

- **architecture and config quirks**: Llama (Llama-3.x, and Falcon3, which is a Llama-architecture model)
  with grouped-query attention, llama3 RoPE scaling and tied embeddings where Llama-3.2-1B ties them;
  GPT-NeoX (Pythia) with partial rotary embeddings, parallel residuals and an embedding matrix padded
  beyond the tokenizer (50304 rows for 50277 tokens in the real ones);
- **stored dtype**: bfloat16 (Llama, Falcon3) or float16 (Pythia) safetensors;
- **tokenizer conventions**, in hub files (``tokenizer.json``, a hand-written ``tokenizer_config.json``,
  ``special_tokens_map.json``) rather than as saved by this transformers version: Llama-3's
  ``<|begin_of_text|>``/``<|end_of_text|>`` with a bos added to every encoding, no pad token and 256
  special tokens after the regular vocabulary; Pythia's ``<|endoftext|>`` as bos, eos and unk at id 0,
  an unused ``<|padding|>`` at id 1, no pad token in its files (transformers 5's ``GPTNeoXTokenizer``
  then makes ``<|padding|>`` the pad), no bos added; Falcon3's ``>>TITLE<<``-style specials
  first, ``<|endoftext|>`` (id 11) as eos and a pad token of its own;
- **repository clutter** that ``fetch_model``'s file patterns must leave behind (README, ``.bin``
  weights) or take along (``original/params.json``, ``LICENSE.txt``), and ``generation_config.json``.

The byte-level BPE vocabularies are trained on the demo's synthetic texts; the weights are random.
These are details recalled from the public repositories, not read off the hub (unreachable here).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, GPTNeoXConfig, LlamaConfig

log = logging.getLogger(__name__)

LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
LLAMA3_SPECIAL += [f"<|reserved_special_token_{i}|>" for i in range(3, 3 + 256 - len(LLAMA3_SPECIAL))]
FALCON3_SPECIAL = [">>TITLE<<", ">>ABSTRACT<<", ">>INTRODUCTION<<", ">>SUMMARY<<", ">>COMMENT<<", ">>ANSWER<<",
                   ">>QUESTION<<", ">>DOMAIN<<", ">>EMAIL_ADDRESS<<", ">>IP_ADDRESS<<", "<|startoftext|>",
                   "<|endoftext|>", *(f">>IP_ADDRESS_{i}<<" for i in range(10)), ">>PASSWORD<<", ">>KEY<<",
                   "<|pad|>"]
NEOX_SPECIAL = ["<|endoftext|>", "<|padding|>"]
TINY_SIZES = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
              "max_position_embeddings": 512}
LLAMA3_ROPE = {"rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 256}


@dataclass(frozen=True)
class StandIn:
    """How the tiny stand-in of one hub repository is built."""

    tokenizer_style: str  # llama3, falcon3 or gpt_neox
    dtype: str
    config: Mapping[str, Any] = field(default_factory=dict)


STAND_INS: dict[str, StandIn] = {
    "meta-llama/Llama-3.2-1B": StandIn("llama3", "bfloat16", {
        "tie_word_embeddings": True, "rope_theta": 500000.0, "rope_scaling": {**LLAMA3_ROPE, "factor": 32.0}}),
    "meta-llama/Llama-3.1-8B": StandIn("llama3", "bfloat16", {
        "tie_word_embeddings": False, "rope_theta": 500000.0, "rope_scaling": {**LLAMA3_ROPE, "factor": 8.0}}),
    "tiiuae/Falcon3-1B-Base": StandIn("falcon3", "bfloat16", {"tie_word_embeddings": False, "rope_theta": 1000042.0}),
    "tiiuae/Falcon3-7B-Base": StandIn("falcon3", "bfloat16", {"tie_word_embeddings": False, "rope_theta": 1000042.0}),
    "EleutherAI/pythia-70m": StandIn("gpt_neox", "float16"),
    "EleutherAI/pythia-1b": StandIn("gpt_neox", "float16"),
    "EleutherAI/pythia-6.9b": StandIn("gpt_neox", "float16"),
}


def stand_in(repo: str) -> StandIn:
    if repo not in STAND_INS:
        raise ValueError(f"the rehearsal has no tiny stand-in for hub model {repo!r}; it has "
                         f"{', '.join(sorted(STAND_INS))} (add one to karma.demo.hub_models.STAND_INS)")
    return STAND_INS[repo]


def _byte_level_bpe(texts: Iterable[str], vocab_size: int, specials_first: list[str]) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials_first, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tokenizer


def _added_tokens_decoder(tokenizer: Tokenizer, names: list[str]) -> dict[str, dict[str, Any]]:
    return {str(tokenizer.token_to_id(name)): {"content": name, "lstrip": False, "normalized": False,
                                               "rstrip": False, "single_word": False, "special": True}
            for name in names}


def write_hub_tokenizer(style: str, texts: list[str], out_dir: str | Path, vocab_size: int = 2000) -> None:
    """``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json`` in ``style``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if style == "llama3":
        tokenizer = _byte_level_bpe(texts, vocab_size, [])
        tokenizer.add_special_tokens(LLAMA3_SPECIAL)
        bos = "<|begin_of_text|>"
        tokenizer.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B:1",
                                          special_tokens=[(bos, tokenizer.token_to_id(bos))])])
        specials = {"bos_token": bos, "eos_token": "<|end_of_text|>"}
        config = {"added_tokens_decoder": _added_tokens_decoder(tokenizer, LLAMA3_SPECIAL), **specials,
                  "clean_up_tokenization_spaces": True, "model_input_names": ["input_ids", "attention_mask"],
                  "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast"}
    elif style == "falcon3":
        tokenizer = _byte_level_bpe(texts, vocab_size, FALCON3_SPECIAL)
        specials = {"eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}
        config = {"added_tokens_decoder": _added_tokens_decoder(tokenizer, FALCON3_SPECIAL), **specials,
                  "clean_up_tokenization_spaces": True, "model_input_names": ["input_ids", "attention_mask"],
                  "model_max_length": 32768, "tokenizer_class": "PreTrainedTokenizerFast"}
    elif style == "gpt_neox":
        tokenizer = _byte_level_bpe(texts, vocab_size, NEOX_SPECIAL)
        specials = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
        config = {"add_prefix_space": False, **specials, "tokenizer_class": "GPTNeoXTokenizer"}
    else:
        raise ValueError(f"unknown tokenizer style {style!r}: llama3, falcon3 or gpt_neox")
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")


def _model_config(stand: StandIn, tokenizer: Any) -> Any:
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    if stand.tokenizer_style == "gpt_neox":
        # GPT-NeoX pads its embedding matrix to a multiple of 128 rows beyond the tokenizer's tokens.
        rows = -(-len(tokenizer) // 128) * 128
        return GPTNeoXConfig(**TINY_SIZES, vocab_size=rows, rotary_pct=0.25, use_parallel_residual=True,
                             tie_word_embeddings=False, **ids, **stand.config)
    if stand.tokenizer_style == "falcon3":
        ids = {"bos_token_id": tokenizer.eos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id}
    return LlamaConfig(**TINY_SIZES, num_key_value_heads=2, vocab_size=len(tokenizer), **ids, **stand.config)


def write_model_repository(repo: str, texts: list[str], out_dir: str | Path, *, seed: int) -> Path:
    """The tiny stand-in of ``repo`` as its repository's files, in ``out_dir``."""
    stand = stand_in(repo)
    out = Path(out_dir)
    write_hub_tokenizer(stand.tokenizer_style, texts, out)
    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    config = _model_config(stand, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.to(getattr(torch, stand.dtype)).save_pretrained(out)
    GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                     **({"do_sample": True, "temperature": 0.6, "top_p": 0.9}
                        if stand.tokenizer_style == "llama3" else {})).save_pretrained(out)
    (out / "README.md").write_text(f"# {repo} (tiny rehearsal stand-in)\n\nRandom weights; see karma.demo.hub_models.\n")
    (out / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
    (out / "pytorch_model.bin").write_bytes(b"pickled weights that fetch_model must never fetch")
    if stand.tokenizer_style == "llama3":
        (out / "LICENSE.txt").write_text("LLAMA COMMUNITY LICENSE (stand-in text)\n")
        (out / "original").mkdir(exist_ok=True)
        (out / "original" / "params.json").write_text(json.dumps({"dim": config.hidden_size}) + "\n")
    log.info("stand-in for %s: %s, %d parameters, %d tokens (embedding rows %d), %s", repo, config.model_type,
             sum(p.numel() for p in model.parameters()), len(tokenizer), config.vocab_size, stand.dtype)
    return out
