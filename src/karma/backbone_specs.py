"""Tiny-model specs (``models.<name>.spec``) checked without importing transformers.

The workflow checks every spec when it starts: importing a transformers config class pulls in torch
(about 7 s here), far too slow for Snakemake's parse time, which every job repeats. The fields of
the three config classes are therefore listed below, as transformers 5.24 defines them;
``tests/core/test_backbone_specs.py`` compares the list with the installed classes, so an upgrade
that adds, renames or retypes a field fails that test instead of slipping through.
:func:`karma.backbones.causal_lm_config` builds the real config from the checked spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from karma.settings import NumberKind, parse_number

# Set from the tokenizer the model is built with; a spec that sets them would disagree with it.
VOCAB_KEYS = ("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id")

# PreTrainedConfig's own fields, shared by every architecture.
_BASE_INTS = ("chunk_size_feed_forward",)
_BASE_OTHERS = ("transformers_version", "architectures", "output_hidden_states", "return_dict",
                "dtype", "is_encoder_decoder", "id2label", "label2id", "problem_type")


def _fields(ints: tuple[str, ...], floats: tuple[str, ...],
            others: tuple[str, ...]) -> dict[str, NumberKind | None]:
    kinds: dict[str, NumberKind | None] = dict.fromkeys(_BASE_OTHERS + others)
    kinds.update(dict.fromkeys(_BASE_INTS + ints, "int"))
    kinds.update(dict.fromkeys(floats, "float"))
    return kinds


# architecture -> field -> "int" / "float" (numeric strings accepted) / None (any other type)
SPEC_FIELDS: dict[str, dict[str, NumberKind | None]] = {
    "llama": _fields(
        ints=("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "max_position_embeddings", "pretraining_tp", "head_dim"),
        floats=("initializer_range", "rms_norm_eps", "attention_dropout"),
        others=("hidden_act", "use_cache", "tie_word_embeddings", "rope_parameters",
                "attention_bias", "mlp_bias"),
    ),
    "gpt_neox": _fields(
        ints=("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "max_position_embeddings"),
        floats=("attention_dropout", "hidden_dropout", "classifier_dropout", "initializer_range",
                "layer_norm_eps"),
        others=("hidden_act", "use_cache", "tie_word_embeddings", "use_parallel_residual",
                "rope_parameters", "attention_bias", "is_decoder"),
    ),
    "falcon": _fields(
        ints=("hidden_size", "num_hidden_layers", "num_attention_heads", "num_ln_in_parallel_attn",
              "num_kv_heads", "max_position_embeddings", "ffn_hidden_size"),
        floats=("layer_norm_epsilon", "initializer_range", "hidden_dropout", "attention_dropout"),
        others=("use_cache", "alibi", "new_decoder_architecture", "multi_query", "parallel_attn",
                "bias", "rope_parameters", "activation", "tie_word_embeddings"),
    ),
}


def checked_spec(spec: Mapping[str, Any], where: str = "backbone spec") -> tuple[str, dict[str, Any]]:
    """The architecture and the config fields of ``spec``, numbers parsed.

    Refuses an unknown architecture, keys the tokenizer decides, and keys that are not fields of
    that architecture's transformers config (a typo would otherwise become an unused attribute).
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where} must be a mapping, got {type(spec).__name__}")
    fields = dict(spec)
    architecture = fields.pop("architecture", None)
    if architecture not in SPEC_FIELDS:
        raise ValueError(
            f"{where} has architecture {architecture!r}: set 'architecture' to one of "
            f"{', '.join(SPEC_FIELDS)}"
        )
    clashing = [key for key in VOCAB_KEYS if key in fields]
    if clashing:
        raise ValueError(
            f"{where} sets {', '.join(clashing)}: these come from the tokenizer; remove them"
        )
    known = SPEC_FIELDS[architecture]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ValueError(
            f"{where}: key(s) {', '.join(unknown)} are not fields of the {architecture} config; "
            f"known keys: {', '.join(sorted(known))}"
        )
    return architecture, {
        key: value if known[key] is None else parse_number(value, known[key], f"{where}.{key}")
        for key, value in fields.items()
    }
