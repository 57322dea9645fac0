"""The reward model's model card: what it scores, how to load it, its data, training and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from karma.data.labels import LABEL_LIMITS, LabelRule
from karma.model_cards import ModelCard, json_block
from karma.reward.model import KarmaRewardModel

LOADING = """```python
import karma.reward.model  # registers model_type "karma_reward" with transformers' Auto classes
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model = AutoModelForSequenceClassification.from_pretrained(model_dir)
tokenizer = AutoTokenizer.from_pretrained(model_dir)
p_rewarding = model(**tokenizer(texts, truncation=True, padding=True, return_tensors="pt")).logits.sigmoid()
```

`karma.reward.model` comes with this repository (`pip install -e .`); no `trust_remote_code` is
needed or used. `logits` has shape (batch, 1); `pipeline("text-classification", model=model_dir)`
(after the same import) returns the label `rewarding` with `sigmoid(logit)` as its score. The saved
tokenizer truncates from the left at the training length, so `truncation=True` keeps the response.
For TRL, the backbone is `model.backbone` (`base_model_prefix`) and the head `model.score`, applied
to the final hidden states, as `trl.experimental.utils.get_reward` expects; that function returns
logits, while this workflow's PPO reward is `sigmoid(logit)`. Texts must be rendered as in training
(`karma.formats.render_example`: the conversation, then the candidate response last). The
tokenizer's chat template does that for chat messages (roles `system` for the metadata block,
`user`/`assistant` for the turns, `context` for other replies, the response as the final `assistant`
message): `tokenizer.apply_chat_template(messages, tokenize=False)`, with
`karma.formats.chat_messages(conversation, setting)` building the messages from a conversation.
Scoring the response of a model with another tokenizer goes through text, as
`karma.ppo.cross_tokenizer` does."""


def reward_model_card(
    model: KarmaRewardModel,
    *,
    backbone: str,
    training_config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    examples: Mapping[str, Any] | None,
) -> ModelCard:
    """``examples`` is the data stage's ``stats.json`` for this setting (None when not given)."""
    config = model.config
    setting = config.input_format or "not recorded"
    rule = LabelRule(**config.label_rule) if config.label_rule else None
    n_params = sum(p.numel() for p in model.parameters())
    head = config.head_hidden_size or config.text_config.hidden_size
    heldout = {
        key: metrics.get(key)
        for key in ("n", "label_positive_rate", "threshold", "accuracy", "precision", "recall", "f1",
                    "roc_auc", "pr_auc", "confusion")
    }
    if examples:
        data = (
            f"Reward-model examples in the **{setting}** format, from the threads the data stage "
            "built out of the configured Pushshift dumps (demo: the workflow's synthetic dumps), split "
            "into train and test by thread, so no thread is on both sides.\n\n"
            + json_block({k: v for k, v in examples.items() if k != "label_rule"})
        )
    else:
        data = "Not recorded (the training call was given no example statistics)."
    return ModelCard(
        title=f"karma reward model ({setting})",
        summary=(
            f"Predicts whether a Reddit-style reply is *rewarding* (see the label rule below) from its "
            f"conversation, rendered in the **{setting}** input format "
            f"({'with' if setting == 'conditioned' else 'without'} subreddit and posting time). "
            f"A {config.text_config.model_type} backbone (`{backbone}`) with an MLP head "
            f"(hidden {head}, GELU, one logit) on the final hidden state of the last real token; "
            f"{n_params:,} parameters; `sigmoid(logit)` is the PPO reward of the karma workflow."
        ),
        sections={
            "How to load": LOADING,
            "Label rule": rule.describe() if rule else "Not recorded with this model.",
            "Limits": LABEL_LIMITS
            + (
                "\n- The conditioned format shows subreddit and time: shortcuts that raise held-out "
                "scores on Reddit but carry no pragmatic signal (the paper's karmaEroded)."
                if setting == "conditioned"
                else ""
            ),
            "Data": data,
            "Training": "Full fine-tuning with binary cross-entropy and AdamW "
            f"(settings below; `max_input_tokens` {config.max_input_tokens}, left truncation).\n\n"
            + json_block(dict(training_config)),
            "Held-out metrics": json_block(heldout),
        },
        metadata={
            "library_name": "transformers",
            "pipeline_tag": "text-classification",
            "tags": ["reward-model", "karma", "reddit", setting],
        },
    )
