"""The karma reward model: a causal-LM backbone with an MLP head on the last real token, one logit.

``sigmoid(logit)`` is the probability that a response is rewarding (earns at least the configured
fraction of its parent's karma). The paper's MLP head has no equivalent among transformers' own
``*ForSequenceClassification`` classes (theirs is one linear layer), so the model is our class,
registered with transformers' ``AutoConfig``, ``AutoModel`` and ``AutoModelForSequenceClassification``
when this module is imported. A saved model then loads with plain transformers after that one import,
never with ``trust_remote_code``::

    import karma.reward.model  # registers model_type "karma_reward" with the Auto classes
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    p = model(**tokenizer(texts, truncation=True, padding=True, return_tensors="pt")).logits.sigmoid()

It follows the conventions of transformers' sequence classifiers and TRL's reward models: one label
(``num_labels=1``), ``logits`` of shape (batch, 1), the backbone under ``base_model_prefix`` and the
head as ``score`` applied to the final hidden states, so ``trl.experimental.utils.get_reward`` and
``pipeline("text-classification")`` work on it. The saved tokenizer truncates from the left at the
training length, so ``truncation=True`` keeps the candidate response as training did. The PPO stage
uses :class:`RewardScorer` (texts in, probabilities out) and does not touch tensors or tokenizers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.configuration_utils import SubConfigSpec
from transformers.modeling_outputs import SequenceClassifierOutput

from karma.backbones import load_backbone, load_tokenizer, pick_device
from karma.formats import CHAT_TEMPLATE
from karma.progress import Progress

log = logging.getLogger(__name__)


class KarmaRewardConfig(PreTrainedConfig):
    """Backbone config (``text_config``, any causal-LM family) plus the head's shape.

    ``max_input_tokens`` is the training truncation length, kept with the model so scoring truncates
    exactly as training did (from the left: the candidate response is at the end of the text).
    ``input_format`` (generalized or conditioned, see :mod:`karma.formats`) and ``label_rule`` say
    what texts the model expects and what its one label, ``rewarding``, meant in training.
    """

    model_type = "karma_reward"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama")
    }

    text_config: dict | PreTrainedConfig | None = None
    head_hidden_size: int | None = None
    head_dropout: float = 0.0
    max_input_tokens: int = 512
    input_format: str | None = None
    label_rule: dict | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        # One logit, P(rewarding) = sigmoid(logit): the label map says so to pipelines and readers.
        if self.id2label is None and kwargs.get("num_labels") in (None, 1):
            kwargs.pop("num_labels", None)
            self.id2label = {0: "rewarding"}
            self.label2id = {"rewarding": 0}
        super().__post_init__(**kwargs)


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position of the last non-padding token in each row, for left or right padding alike."""
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be (batch, length), got shape {tuple(attention_mask.shape)}"
        )
    mask = attention_mask.to(torch.long)
    if bool((mask.sum(dim=-1) == 0).any()):
        raise ValueError(
            "a row of the batch has no tokens (all-zero attention_mask); drop empty inputs"
        )
    positions = torch.arange(mask.shape[-1], device=mask.device)
    return (positions * mask).argmax(dim=-1)


def pool_last_token(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The (batch, hidden) final-layer state of each row's last real token."""
    index = last_token_index(attention_mask).to(hidden_states.device)
    rows = torch.arange(hidden_states.shape[0], device=hidden_states.device)
    return hidden_states[rows, index]


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that count only real tokens, so a left-padded text is encoded as if unpadded."""
    return (attention_mask.to(torch.long).cumsum(dim=-1) - 1).clamp(min=0)


class KarmaRewardModel(PreTrainedModel):
    """Backbone + MLP ``score`` head; ``logits`` (batch, 1), ``loss`` the mean BCE given 0/1 labels."""

    config_class = KarmaRewardConfig
    config: KarmaRewardConfig
    base_model_prefix = "backbone"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True

    def __init__(self, config: KarmaRewardConfig) -> None:
        super().__init__(config)
        self.backbone = AutoModel.from_config(config.text_config)
        hidden = config.text_config.hidden_size
        head_hidden = config.head_hidden_size or hidden
        self.score = nn.Sequential(
            nn.Dropout(config.head_dropout),
            nn.Linear(hidden, head_hidden),
            nn.GELU(),
            nn.Dropout(config.head_dropout),
            nn.Linear(head_hidden, 1),
        )
        self.post_init()

    @classmethod
    def from_backbone(
        cls,
        backbone: str | Path | PreTrainedModel,
        *,
        head_hidden_size: int | None = None,
        head_dropout: float = 0.0,
        max_input_tokens: int = 512,
        seed: int = 0,
    ) -> KarmaRewardModel:
        """A fresh head (seeded) on a pretrained backbone: a causal-LM directory or a loaded model."""
        if not isinstance(backbone, PreTrainedModel):
            backbone = load_backbone(backbone)
        elif backbone.base_model is not backbone:
            # A causal LM (with its LM head): the head is not part of the reward model, and keeping
            # the wrapper would save weights under keys that do not load back into the backbone.
            backbone = backbone.base_model
        config = KarmaRewardConfig(
            text_config=backbone.config,
            head_hidden_size=head_hidden_size,
            head_dropout=head_dropout,
            max_input_tokens=max_input_tokens,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls(config)
        model.backbone = backbone.to(dtype=next(model.score.parameters()).dtype)
        return model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **_: Any,
    ) -> SequenceClassifierOutput:
        """Extra keyword arguments that pipelines and trainers pass (``token_type_ids``,
        ``return_dict``, ...) are accepted and ignored: the output is always the same object."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=positions_from_mask(attention_mask),
            use_cache=False,
        ).last_hidden_state
        pooled = pool_last_token(hidden, attention_mask)
        logits = self.score(pooled.to(self.score[1].weight.dtype))
        loss = None
        if labels is not None:
            loss = F.binary_cross_entropy_with_logits(
                logits.float().view(-1), labels.to(torch.float32).view(-1)
            )
        return SequenceClassifierOutput(loss=loss, logits=logits)


# Registered so that the Auto classes (AutoTokenizer reads config.json too) know our model type;
# this import is the one a user needs (see the module docstring).
AutoConfig.register(KarmaRewardConfig.model_type, KarmaRewardConfig, exist_ok=True)
AutoModel.register(KarmaRewardConfig, KarmaRewardModel, exist_ok=True)
AutoModelForSequenceClassification.register(KarmaRewardConfig, KarmaRewardModel, exist_ok=True)


def encode(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int
) -> dict[str, torch.Tensor]:
    """Tokenize a batch as training and scoring both must: keep the end, pad on the right."""
    tokenizer.truncation_side = "left"
    tokenizer.padding_side = "right"
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def save_reward_model(
    model: KarmaRewardModel, tokenizer: PreTrainedTokenizerBase, out_dir: str | Path
) -> Path:
    """Model (safetensors) and tokenizer in one directory, so the scorer needs nothing else.

    The tokenizer is saved to encode as :func:`encode` does (left truncation at the model's
    training length, right padding), so plain ``tokenizer(texts, truncation=True)`` matches it, and
    with the chat template of the input format (:data:`karma.formats.CHAT_TEMPLATE`), which renders a
    conversation ending in the candidate response exactly as :func:`karma.formats.render_example`.
    """
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.truncation_side = "left"
    tokenizer.padding_side = "right"
    tokenizer.model_max_length = model.config.max_input_tokens
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    return out


def load_reward_model(
    model_dir: str | Path, *, dtype: torch.dtype | None = None
) -> tuple[KarmaRewardModel, PreTrainedTokenizerBase]:
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"{model_dir} is not a reward-model directory (no config.json); run the reward stage first"
        )
    model = KarmaRewardModel.from_pretrained(
        model_dir, dtype=dtype, local_files_only=True, trust_remote_code=False
    )
    return model, load_tokenizer(model_dir)


class RewardScorer:
    """Batched, no-grad scoring of rendered texts (see :mod:`karma.formats`): the PPO reward."""

    def __init__(
        self,
        model: KarmaRewardModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        device: str | torch.device = "auto",
    ) -> None:
        self.device = pick_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.max_length = model.config.max_input_tokens

    @classmethod
    def from_pretrained(
        cls, model_dir: str | Path, *, device: str = "auto", dtype: torch.dtype | None = None
    ) -> RewardScorer:
        model, tokenizer = load_reward_model(model_dir, dtype=dtype)
        return cls(model, tokenizer, device=device)

    @torch.no_grad()
    def logits(
        self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """Raw logits in input order; texts are batched by length so little compute goes to padding.
        ``progress`` is advanced by the texts of each batch."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty(len(texts), dtype=np.float64)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = encode(self.tokenizer, [texts[i] for i in chunk], self.max_length)
            batch = {key: value.to(self.device) for key, value in batch.items()}
            out[chunk] = self.model(**batch).logits.float().squeeze(-1).cpu().numpy()
            if progress is not None:
                progress.advance(len(chunk))
        return out

    def score(
        self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """P(rewarding) for each text, in input order."""
        return expit(self.logits(texts, batch_size, progress))
