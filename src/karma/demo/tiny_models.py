"""Tiny demo models: a causal LM built from a config spec for a demo tokenizer, saved as a model directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karma.backbones import build_causal_lm, load_tokenizer
from karma.model_cards import ModelCard, json_block, write_model_card
from karma.provenance import collect_provenance


def tiny_model_card(name: str, spec: Mapping[str, Any], n_params: int, vocab: int, seed: int) -> ModelCard:
    return ModelCard(
        title=f"{name} (demo backbone)",
        summary=(
            f"A tiny {spec.get('architecture')} causal LM ({n_params:,} parameters, vocabulary "
            f"{vocab}) built from a config spec with seed {seed}, for the workflow's offline demo: "
            "a stand-in for a hub model that needs no download. Its weights are random: it is not a "
            "language model of any quality, and nothing measured on it speaks about real models."
        ),
        sections={
            "Data": "None: randomly initialised. The tokenizer saved with it was trained on the "
            "demo's synthetic corpus (the train splits of the reward examples).",
            "Training": "None. The architecture, as configured:\n\n" + json_block(dict(spec)),
            "Label rule": "Not applicable: this backbone has not seen a karma label. Reward models "
            "and PPO policies built on it state the rule in their own cards.",
        },
        metadata={"library_name": "transformers", "pipeline_tag": "text-generation",
                  "tags": ["karma", "demo", "random-init"]},
    )


def write_tiny_model(
    spec: Mapping[str, Any],
    tokenizer_dir: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    run_config: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Path:
    """Build a model for the tokenizer in ``tokenizer_dir`` and save both to ``out_dir`` (safetensors),
    with a model card and provenance (``run_config``: the workflow config); ``name`` titles the card
    (default: the directory's name)."""
    tokenizer = load_tokenizer(tokenizer_dir)
    model = build_causal_lm(spec, tokenizer, seed=seed)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    card = tiny_model_card(name or out.name, spec, n_params, len(tokenizer), seed)
    write_model_card(out, card, collect_provenance(run_config))
    return out
