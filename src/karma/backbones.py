"""Causal-LM backbones: tiny ones built from a config for the demo, local directories for the paper.

Reward, PPO and evaluation stages all get their language models here, so there is one place that
decides how a model directory is read (offline, safetensors, never remote code) and how a demo model
is made from a mapping such as ``{"architecture": "llama", "hidden_size": 64, ...}`` with the vocabulary
and special-token ids taken from the tokenizer it will be used with.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    FalconConfig,
    GPTNeoXConfig,
    LlamaConfig,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from karma.backbone_specs import checked_spec

log = logging.getLogger(__name__)

ARCHITECTURES: dict[str, type[PreTrainedConfig]] = {
    "llama": LlamaConfig,
    "gpt_neox": GPTNeoXConfig,
    "falcon": FalconConfig,
}


@dataclasses.dataclass(frozen=True)
class VocabInfo:
    """What a backbone must know about its tokenizer: embedding rows and special-token ids."""

    vocab_size: int
    bos_token_id: int | None
    eos_token_id: int | None
    pad_token_id: int | None

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> VocabInfo:
        # len() counts added special tokens, which vocab_size alone may not.
        return cls(
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )


def causal_lm_config(
    spec: Mapping[str, Any], vocab: VocabInfo | PreTrainedTokenizerBase
) -> PreTrainedConfig:
    """The transformers config for ``spec``: ``architecture`` picks the family, other keys are fields.

    The spec is checked by :func:`karma.backbone_specs.checked_spec` (unknown keys, keys the
    tokenizer decides, numbers written as strings).
    """
    if isinstance(vocab, PreTrainedTokenizerBase):
        vocab = VocabInfo.from_tokenizer(vocab)
    architecture, fields = checked_spec(spec)
    return ARCHITECTURES[architecture](**fields, **dataclasses.asdict(vocab))


def build_causal_lm(
    spec: Mapping[str, Any], vocab: VocabInfo | PreTrainedTokenizerBase, *, seed: int = 0
) -> PreTrainedModel:
    """A randomly initialised causal LM; the same spec, vocabulary and seed give the same weights."""
    config = causal_lm_config(spec, vocab)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("built %s causal LM with %d parameters", config.model_type, n_params)
    return model


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` (the configs' ``device`` keys) is the GPU when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _model_dir(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a {what} directory (no config.json); build it first "
            "(karma.demo.tiny_models.write_tiny_model for the demo, the download rule for hub models)"
        )
    return path


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """A tokenizer directory, offline; a missing pad token falls back to eos (Llama ships none)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"tokenizer directory {path} does not exist; train or download it first"
        )
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer in {path} has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str | Path, *, dtype: torch.dtype | None = None) -> PreTrainedModel:
    """A causal LM with its LM head (policies, evaluation), offline and without remote code."""
    path = _model_dir(path, "causal LM")
    return AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, local_files_only=True, trust_remote_code=False
    )


def load_backbone(path: str | Path, *, dtype: torch.dtype | None = None) -> PreTrainedModel:
    """The base transformer of a causal-LM directory, without its LM head (reward-model backbone)."""
    path = _model_dir(path, "causal LM")
    return AutoModel.from_pretrained(
        path, dtype=dtype, local_files_only=True, trust_remote_code=False
    )
