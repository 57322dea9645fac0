"""Every TRL-specific line of the project: PPO with ``trl.experimental.ppo`` (TRL 0.26-1.12 only).

How the pieces meet TRL's ``PPOTrainer`` (read against trl 1.12.0):

* **Reward.** The trainer scores rollouts with ``trl.experimental.utils.get_reward(model, ids, pad,
  context_length)``, which runs ``getattr(model, model.base_model_prefix)(input_ids=..., attention_mask=...,
  output_hidden_states=True)``, applies ``model.score`` to ``hidden_states[-1]`` and reads the value at
  the last response token. :class:`AdapterRewardModel` honours exactly that contract: its backbone
  decodes the *policy's* ids, finds each row's prompt, rebuilds the reward-model text in the variant's
  setting (:class:`karma.ppo.cross_tokenizer.CrossTokenizerReward`) and returns the probability at every
  position, so wherever TRL reads, it reads the reward. No TRL function is patched or copied.
* **Context length.** The adapter must know where the prompt ends; prompts are left-padded to one
  fixed length (the longest kept prompt), so the boundary is the same for every batch.
* **Pad vs eos.** TRL masks pad tokens; a pad equal to eos would hide the eos and read the reward one
  token early. A policy without its own pad token gets a new one (embeddings resized). ``stop_token``
  is ``"eos"`` and ``sft_model_path``/``reward_model_path`` are set to our directories, never hub names.
* **Mini-batches.** TRL's accelerator accumulates gradients over the whole batch (one optimizer step
  per PPO epoch, more in the update that exhausts the data loader); we set its accumulation to one
  mini-batch so there are ``ppo_epochs * batch_size / mini_batch_size`` steps per update, as in PPO.
* **Resume.** TRL's ``train()`` always counts from update 0 and has no resume. We own optimizer and
  scheduler (passed in through ``optimizers=``) and build the trainer for the *remaining* updates
  from the *base* policy (its constructor copies the policy as the frozen KL reference), then load
  weights, optimizer and scheduler from the checkpoint in place and restore the RNG after the trainer
  has reseeded it; a callback checkpoints every N updates (with the KL coefficient). Prompts come
  from :func:`prompt_order`, so a resumed run continues the uninterrupted run's prompts: on CPU it
  reproduces it exactly (tested).
* **KL coefficient.** TRL reads ``args.kl_coef`` each update; with ``kl_target`` set, the update
  callback sets it from :class:`karma.ppo.kl_control.KLController` after every update.
* **Value model**: ``AutoModelForSequenceClassification`` (one label) from the policy directory, its
  ``score`` head set to zero (:func:`zero_value_head`); TRL reads its ``base_model_prefix`` backbone
  and ``score`` head. **LoRA**: the policy becomes a
  ``PeftModel`` (TRL then uses the adapter-disabled policy as reference, no second copy); the value
  model gets LoRA layers injected in place and keeps a trainable ``score``.
"""

from __future__ import annotations

import gc
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from torch.utils.data import DataLoader
from transformers import (
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PrinterCallback,
    TrainerCallback,
    get_scheduler,
    set_seed,
)

from karma.backbones import load_causal_lm, load_tokenizer, pick_device
from karma.formats import Setting, fit_prompt, render_prompt
from karma.ppo.checkpoints import Checkpoint, TrainingState
from karma.ppo.cross_tokenizer import CrossTokenizerReward, TextScorer
from karma.ppo.kl_control import KLController
from karma.ppo.settings import PolicyTrainingConfig
from karma.ppo.state import Prompt, UpdateStats

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # TRLExperimentalWarning: we pin trl==1.12.0 on purpose
    from trl.experimental.ppo import PPOConfig, PPOTrainer

if TYPE_CHECKING:
    from peft import LoraConfig

log = logging.getLogger(__name__)

ADDED_PAD_TOKEN = "<|karma_pad|>"


# --------------------------------------------------------------------------------------------------
# Prompts as the trainer sees them


@dataclass(frozen=True)
class PromptTable:
    """Tokenized prompts and the way back from a row's prompt ids to its (possibly shortened) prompt."""

    input_ids: list[list[int]]
    by_ids: dict[tuple[int, ...], Prompt]
    context_length: int
    truncated: int
    dropped_too_long: int
    dropped_duplicate: int


def tokenize_prompts(
    prompts: Sequence[Prompt],
    tokenizer: PreTrainedTokenizerBase,
    setting: Setting,
    max_tokens: int,
) -> PromptTable:
    """Render each prompt as the policy sees it, within ``max_tokens`` policy tokens.

    A longer prompt is cut from the left (:func:`karma.formats.fit_prompt`: oldest turns first, the
    post and the newest turn kept) and kept *as cut*, so the reward model later scores exactly the
    text the policy saw; it is dropped only if nothing fits. Token-identical duplicates are dropped
    too (their reward text would be ambiguous).
    """
    input_ids: list[list[int]] = []
    by_ids: dict[tuple[int, ...], Prompt] = {}
    truncated = too_long = duplicate = 0

    def fits(text: str) -> bool:
        return len(tokenizer(text)["input_ids"]) <= max_tokens

    for prompt in prompts:
        conversation = fit_prompt(prompt.conversation, setting, fits)
        if conversation is None:
            too_long += 1
            continue
        if conversation != prompt.conversation:
            truncated += 1
            prompt = Prompt(prompt.prompt_id, conversation)
        ids = tokenizer(render_prompt(conversation, setting))["input_ids"]
        key = _prompt_key(ids, tokenizer.pad_token_id)
        if key in by_ids:
            duplicate += 1
            continue
        by_ids[key] = prompt
        input_ids.append(list(ids))
    if not input_ids:
        raise ValueError(
            f"no prompt fits in ppo.max_prompt_tokens={max_tokens} policy tokens, even cut to its post "
            f"({too_long} too long); raise ppo.max_prompt_tokens"
        )
    if truncated or too_long or duplicate:
        log.warning("prompts: %d cut from the left to fit %d tokens, %d dropped as too long even then, "
                    "%d duplicates dropped; %d remain", truncated, max_tokens, too_long, duplicate, len(input_ids))
    return PromptTable(input_ids, by_ids, max(len(i) for i in input_ids), truncated, too_long, duplicate)


def _prompt_key(ids: Sequence[int], pad_token_id: int) -> tuple[int, ...]:
    return tuple(int(t) for t in ids if int(t) != pad_token_id)


# --------------------------------------------------------------------------------------------------
# The reward model TRL calls


@dataclass(frozen=True)
class RecordedRollout:
    prompt_id: str
    response: str
    reward: float


class _AdapterBackbone(nn.Module):
    """What ``get_reward`` runs as the backbone: ids in, the rollout's reward at every position out."""

    def __init__(self, reward: CrossTokenizerReward, prompts: PromptTable) -> None:
        super().__init__()
        self.reward = reward
        self.prompts = prompts
        self.recorded: list[RecordedRollout] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: object) -> SimpleNamespace:
        context = self.prompts.context_length
        if input_ids.shape[1] < context:
            raise ValueError(
                f"reward call with {input_ids.shape[1]} tokens, shorter than the prompt length {context}: "
                "the trainer did not pad prompts to the fixed length"
            )
        pad = self.reward.policy_tokenizer.pad_token_id
        ids = input_ids.masked_fill(~attention_mask.bool(), pad).tolist()
        conversations, responses, prompt_ids = [], [], []
        for row in ids:
            key = _prompt_key(row[:context], pad)
            prompt = self.prompts.by_ids.get(key)
            if prompt is None:
                raise KeyError(
                    "a rollout's prompt ids match no PPO prompt: the prompt table and the trainer's "
                    "dataset disagree (were prompts tokenized with another tokenizer?)"
                )
            conversations.append(prompt.conversation)
            prompt_ids.append(prompt.prompt_id)
            responses.append(row[context:])
        scored = self.reward.score(conversations, responses)
        self.recorded.extend(
            RecordedRollout(pid, s.response, s.reward) for pid, s in zip(prompt_ids, scored, strict=True)
        )
        rewards = torch.tensor([s.reward for s in scored], dtype=torch.float32, device=input_ids.device)
        hidden = rewards[:, None, None].expand(-1, input_ids.shape[1], 1)
        return SimpleNamespace(hidden_states=(hidden,))


class AdapterRewardModel(nn.Module):
    """A stand-in reward model with TRL's reward-model shape (``base_model_prefix`` + ``score``)."""

    base_model_prefix = "backbone"

    def __init__(self, reward: CrossTokenizerReward, prompts: PromptTable) -> None:
        super().__init__()
        self.backbone = _AdapterBackbone(reward, prompts)
        self.score = nn.Identity()

    def drain(self) -> list[RecordedRollout]:
        """Rollouts scored since the last drain (one PPO update's worth when called per update)."""
        recorded, self.backbone.recorded = self.backbone.recorded, []
        return recorded


# --------------------------------------------------------------------------------------------------
# Models


def ensure_distinct_pad(tokenizer: PreTrainedTokenizerBase, *models: PreTrainedModel) -> bool:
    """Give the policy a pad token of its own when it pads with eos; True when the vocabulary grew."""
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return False
    tokenizer.add_special_tokens({"pad_token": ADDED_PAD_TOKEN})
    for model in models:
        model.resize_token_embeddings(len(tokenizer))
    log.info("policy tokenizer padded with eos; added pad token %s (id %d)",
             ADDED_PAD_TOKEN, tokenizer.pad_token_id)
    return True


def _set_pad(model: PreTrainedModel, pad_token_id: int) -> None:
    model.config.pad_token_id = pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = pad_token_id


def _lora_config(config: PolicyTrainingConfig, task_type: str) -> LoraConfig:
    from peft import (
        LoraConfig,  # imported when used: full fine-tuning runs skip its import time
    )

    target = config.lora.target_modules
    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=target if isinstance(target, str) else list(target),
        task_type=task_type,
    )


def build_models(
    policy_dir: Path, config: PolicyTrainingConfig
) -> tuple[nn.Module, PreTrainedModel, PreTrainedTokenizerBase]:
    """Policy (a ``PeftModel`` under LoRA), value model initialised from the policy, and tokenizer."""
    lora = config.finetune == "lora"
    dtype = torch.bfloat16 if (lora and config.bf16) else torch.float32
    tokenizer = load_tokenizer(policy_dir)
    policy = load_causal_lm(policy_dir, dtype=dtype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.ppo.seed)
        value = AutoModelForSequenceClassification.from_pretrained(
            policy_dir, num_labels=1, dtype=dtype, local_files_only=True, trust_remote_code=False
        )
    zero_value_head(value)
    ensure_distinct_pad(tokenizer, policy, value)
    for model in (policy, value):
        _set_pad(model, tokenizer.pad_token_id)
        if config.gradient_checkpointing:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if lora:
        from peft import get_peft_model, inject_adapter_in_model

        policy = get_peft_model(policy, _lora_config(config, "CAUSAL_LM"))
        backbone = getattr(value, value.base_model_prefix)
        inject_adapter_in_model(_lora_config(config, "FEATURE_EXTRACTION"), backbone)
        for name, param in value.named_parameters():
            param.requires_grad = "lora_" in name or name.startswith("score.")
    return policy, value, tokenizer


def zero_value_head(value: PreTrainedModel) -> None:
    """Start the value head at zero: every state's value is 0 until the head learns.

    The value model cannot start from the reward model (their tokenizers differ), and a randomly
    initialised head gives each token a random value about as large as the reward differences PPO
    must learn from, drowning the advantage of the first reply tokens in noise. A zero head makes the
    first updates REINFORCE with the batch mean as baseline (TRL whitens advantages).
    """
    head = value.score
    with torch.no_grad():
        head.weight.zero_()
        if getattr(head, "bias", None) is not None:
            head.bias.zero_()


def export_policy(policy: nn.Module) -> PreTrainedModel:
    """The plain causal LM to save: LoRA adapters merged into the weights."""
    if hasattr(policy, "merge_and_unload"):
        return policy.merge_and_unload()
    return policy


def _optimizer_and_scheduler(
    policy: nn.Module, value: nn.Module, config: PolicyTrainingConfig
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW over the trainable weights of both models and a linear decay over the whole run."""
    params = [p for m in (policy, value) for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.ppo.learning_rate, weight_decay=0.0)
    scheduler = get_scheduler(
        "linear", optimizer, num_warmup_steps=0, num_training_steps=config.ppo.total_updates
    )
    return optimizer, scheduler


# --------------------------------------------------------------------------------------------------
# Training


class _UpdateHook(TrainerCallback):
    """Turns TRL's per-update log into :class:`UpdateStats` and writes checkpoints every N updates."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or "objective/kl" not in logs:
            return
        run = self.run
        update = run.start_update + state.global_step
        rollouts = run.reward_model.drain()
        if not rollouts:
            raise RuntimeError(f"PPO update {update} scored no rollouts through the reward adapter")
        now = time.perf_counter()
        # TRL averages these over an (epochs, mini-batches, batch/micro) array of which only
        # mini/micro entries per mini-batch are filled (the rest stay 0): undo that dilution.
        filled = run.config.ppo.batch_size / run.config.ppo.mini_batch_size
        kl = float(logs["objective/kl"])
        used_coef = args.kl_coef
        # TRL reads args.kl_coef afresh when it computes the next update's rewards (trl 1.12
        # PPOTrainer.train: ``non_score_reward = -args.kl_coef * kl``), so setting it here adapts it.
        args.kl_coef = run.kl.update(kl, run.config.ppo.batch_size)
        stats = UpdateStats(
            update=update,
            episodes=run.start_episodes + state.episode,
            mean_reward=float(logs["objective/scores"]),
            kl=kl,
            entropy=filled * float(logs["policy/entropy_avg"]),
            clip_fraction=filled * float(logs["policy/clipfrac_avg"]),
            value_loss=filled * float(logs["loss/value_avg"]),
            policy_loss=filled * float(logs["loss/policy_avg"]),
            approx_kl=filled * float(logs["policy/approxkl_avg"]),
            learning_rate=float(logs["lr"]),
            seconds=now - run.last_time,
            samples=[{"prompt_id": r.prompt_id, "response": r.response, "reward": r.reward}
                     for r in rollouts],
            kl_coef=used_coef,
        )
        run.last_time = now
        run.on_update(stats)

    def on_step_end(self, args, state, control, **kwargs):
        run = self.run
        update = run.start_update + state.global_step
        if update % run.config.checkpoint_every == 0:
            run.on_checkpoint(run.state(update, run.start_episodes + state.episode))


@dataclass
class _Run:
    config: PolicyTrainingConfig
    policy: nn.Module
    value: PreTrainedModel
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    reward_model: AdapterRewardModel
    kl: KLController
    on_update: Callable[[UpdateStats], None]
    on_checkpoint: Callable[[TrainingState], None]
    start_update: int
    start_episodes: int
    last_time: float

    def state(self, update: int, episodes: int) -> TrainingState:
        return TrainingState(update, episodes, {"policy": self.policy, "value": self.value},
                             self.optimizer, self.scheduler, self.kl.value)


@dataclass(frozen=True)
class PPOResult:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    prompts_used: int
    prompts_truncated: int
    prompts_dropped_too_long: int
    prompts_dropped_duplicate: int
    resumed_from_update: int


def _ppo_config(config: PolicyTrainingConfig, policy_dir: Path, scratch_dir: Path, updates: int,
                kl_coef: float) -> PPOConfig:
    ppo = config.ppo
    return PPOConfig(
        output_dir=str(scratch_dir),
        sft_model_path=str(policy_dir),
        reward_model_path=str(policy_dir),  # unused (we pass the model), but never a hub name
        learning_rate=ppo.learning_rate,
        total_episodes=updates * ppo.batch_size,
        per_device_train_batch_size=ppo.micro_batch_size,
        gradient_accumulation_steps=ppo.batch_size // ppo.micro_batch_size,
        num_mini_batches=ppo.batch_size // ppo.mini_batch_size,
        num_ppo_epochs=ppo.ppo_epochs,
        kl_coef=kl_coef,
        kl_estimator="k1",
        response_length=ppo.response_length,
        temperature=ppo.temperature,
        stop_token="eos",
        missing_eos_penalty=ppo.missing_eos_penalty,
        cliprange=ppo.cliprange,
        cliprange_value=ppo.cliprange_value,
        vf_coef=ppo.vf_coef,
        gamma=ppo.gamma,
        lam=ppo.lam,
        local_rollout_forward_batch_size=ppo.rollout_batch_size,
        num_sample_generations=0,
        seed=ppo.seed,
        bf16=config.bf16,
        fp16=False,
        activation_checkpointing=config.gradient_checkpointing,  # we enable it on the models ourselves
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_steps=1,
        # device "auto" on a machine without a GPU is the CPU: transformers refuses bf16 there
        # unless told so ("Your setup doesn't support bf16/gpu"); paper.yaml's bf16 policies hit it.
        use_cpu=pick_device(config.device).type == "cpu",
    )


def prompt_order(n_prompts: int, batch_size: int, seed: int, start_update: int,
                 total_updates: int) -> list[int]:
    """Prompt indices for updates ``start_update`` .. ``total_updates - 1`` of a run.

    Every epoch is a fresh seeded permutation cut into whole batches (the remainder is left out),
    so update ``u`` gets the same prompts whether or not the run was interrupted before it.
    """
    per_epoch = n_prompts // batch_size
    if per_epoch < 1:
        raise ValueError(f"{n_prompts} prompts cannot fill one batch of {batch_size}")
    order: list[int] = []
    permutations: dict[int, np.ndarray] = {}
    for update in range(start_update, total_updates):
        epoch, index = divmod(update, per_epoch)
        if epoch not in permutations:
            permutations = {epoch: np.random.default_rng([seed, epoch]).permutation(n_prompts)}
        order.extend(permutations[epoch][index * batch_size : (index + 1) * batch_size].tolist())
    return order


def run_ppo(
    *,
    policy_dir: Path,
    scorer: TextScorer,
    prompts: Sequence[Prompt],
    setting: Setting,
    config: PolicyTrainingConfig,
    scratch_dir: Path,
    resume: Checkpoint | None,
    on_update: Callable[[UpdateStats], None],
    on_checkpoint: Callable[[TrainingState], None],
) -> PPOResult:
    """PPO-train the policy in ``policy_dir`` against ``scorer`` on ``prompts``; see module docstring."""
    ppo = config.ppo
    set_seed(ppo.seed)  # python, numpy (TRL shuffles mini-batches with it) and torch
    policy, value, tokenizer = build_models(policy_dir, config)
    saved_padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    table = tokenize_prompts(prompts, tokenizer, setting, ppo.max_prompt_tokens)
    if len(table.input_ids) < ppo.batch_size:
        raise ValueError(
            f"{len(table.input_ids)} usable prompts but ppo.batch_size={ppo.batch_size}: "
            "provide more prompts or lower the batch size"
        )
    reward_model = AdapterRewardModel(CrossTokenizerReward(scorer, tokenizer, setting), table)
    optimizer, scheduler = _optimizer_and_scheduler(policy, value, config)
    start_update = start_episodes = 0
    kl = KLController(ppo.kl_coef, ppo.kl_target, ppo.kl_horizon)
    if resume is not None:
        start_update, start_episodes = resume.update, resume.episodes
        kl.value = resume.kl_coef
        log.info("resuming from update %d (%d episodes) in %s", start_update, start_episodes, resume.path)
    remaining = ppo.total_updates - start_update
    if remaining <= 0 and resume is not None:
        resume.restore({"policy": policy, "value": value}, optimizer, scheduler)
    if remaining > 0:
        run = _Run(config, policy, value, optimizer, scheduler, reward_model, kl, on_update, on_checkpoint,
                   start_update, start_episodes, time.perf_counter())
        trainer = PPOTrainer(
            args=_ppo_config(config, policy_dir, scratch_dir, remaining, kl.value),
            processing_class=tokenizer,
            model=policy,
            ref_model=None,
            reward_model=reward_model,
            train_dataset=Dataset.from_dict({"input_ids": table.input_ids}),
            value_model=value,
            data_collator=DataCollatorWithPadding(
                tokenizer, padding="max_length", max_length=table.context_length
            ),
            optimizers=(optimizer, scheduler),
            callbacks=[_UpdateHook(run)],
        )
        trainer.remove_callback(PrinterCallback)  # it prints every metric dict; we log our own line
        trainer.accelerator.gradient_accumulation_steps = ppo.mini_batch_size // ppo.micro_batch_size
        trainer.accelerator.gradient_state.plugin_kwargs["sync_with_dataloader"] = False
        # TRL's own loader reshuffles from its seed in every new trainer, so a resumed run would
        # see the first batches again; ours continues the uninterrupted run's prompt order.
        order = prompt_order(len(table.input_ids), trainer.local_dataloader_batch_size, ppo.seed,
                             start_update, ppo.total_updates)
        trainer.dataloader = DataLoader(
            Dataset.from_dict({"input_ids": [table.input_ids[i] for i in order]}),
            batch_size=trainer.local_dataloader_batch_size,
            shuffle=False,
            collate_fn=trainer.data_collator,
            drop_last=True,
            # Its own generator: a loader draws a seed from the global RNG each time it starts,
            # which would shift the sampling RNG of a resumed run against an uninterrupted one.
            generator=torch.Generator().manual_seed(ppo.seed),
        )
        if resume is not None:
            # Only now: the trainer's KL reference is a frozen copy of the policy it was given, which
            # must be the base policy, not the checkpoint. The modules are restored in place.
            resume.restore({"policy": policy, "value": value}, optimizer, scheduler)
            resume.restore_rng()  # after the trainer, whose constructor reseeds torch
        log.info("PPO: %d updates of %d rollouts (%d to go), %d prompts of <= %d tokens",
                 ppo.total_updates, ppo.batch_size, remaining, len(table.input_ids), table.context_length)
        # TRL calls gc.collect() twice per update; with transformers loaded that is ~0.7 s a call on
        # a CPU. Freezing the objects that exist now (models, modules) leaves it only the new ones.
        gc.freeze()
        try:
            trainer.train()
        finally:
            gc.unfreeze()
        policy = trainer.accelerator.unwrap_model(trainer.model).policy
    tokenizer.padding_side = saved_padding_side
    policy = policy.to("cpu")
    return PPOResult(
        model=export_policy(policy),
        tokenizer=tokenizer,
        prompts_used=len(table.input_ids),
        prompts_truncated=table.truncated,
        prompts_dropped_too_long=table.dropped_too_long,
        prompts_dropped_duplicate=table.dropped_duplicate,
        resumed_from_update=start_update,
    )
