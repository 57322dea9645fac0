"""Tiny demo models: a causal LM built from a config spec for a demo tokenizer, saved as a model directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karma.backbones import build_causal_lm, load_tokenizer


def write_tiny_model(
    spec: Mapping[str, Any], tokenizer_dir: str | Path, out_dir: str | Path, *, seed: int = 0
) -> Path:
    """Build a model for the tokenizer in ``tokenizer_dir`` and save both to ``out_dir`` (safetensors)."""
    tokenizer = load_tokenizer(tokenizer_dir)
    model = build_causal_lm(spec, tokenizer, seed=seed)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
