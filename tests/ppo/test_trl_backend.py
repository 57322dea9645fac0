"""The TRL side of PPO: TRL's own reward call goes through our adapter, pad/eos, LoRA, PPO mini-batches."""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from tiny_world import (
    SPECS,
    policy_tokenizer,
    write_policy,
    write_prompts,
    write_reward_model,
)
from torch.optim.optimizer import register_optimizer_step_post_hook

from karma.backbones import build_causal_lm
from karma.formats import render_example, render_prompt
from karma.ppo.cross_tokenizer import CrossTokenizerReward
from karma.ppo.settings import PolicyTrainingConfig, PPOSettings
from karma.ppo.state import read_prompts
from karma.ppo.trl_backend import (
    ADDED_PAD_TOKEN,
    AdapterRewardModel,
    _ppo_config,
    build_models,
    ensure_distinct_pad,
    export_policy,
    run_ppo,
    tokenize_prompts,
)
from karma.reward.model import RewardScorer


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    return {
        "policy": write_policy(root / "policy", "gpt_neox"),
        "scorer": RewardScorer.from_pretrained(write_reward_model(root / "rm", "llama"), device="cpu"),
        "prompts": read_prompts(write_prompts(root / "prompts.parquet")),
        "root": root,
    }


def test_trl_get_reward_scores_the_formatted_text(world):
    from trl.experimental.utils import get_reward

    tok = policy_tokenizer()
    setting = "conditioned"
    prompts = world["prompts"][:3]
    table = tokenize_prompts(prompts, tok, setting, max_tokens=512)
    assert len({len(ids) for ids in table.input_ids}) > 1, "prompts of different lengths test left padding"
    context = table.context_length
    texts = ["funny cat story", "sad dog", "why are you happy"]
    rows = []
    for index, (ids, text) in enumerate(zip(table.input_ids, texts)):
        response = tok(text, add_special_tokens=False)["input_ids"]
        if index < 2:  # stopped: eos then padding; the third ran to the length limit
            response = response + [tok.eos_token_id] + [tok.pad_token_id] * (6 - len(response))
        rows.append([tok.pad_token_id] * (context - len(ids)) + ids + response[:7])
    width = max(len(r) for r in rows)
    query_responses = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    model = AdapterRewardModel(CrossTokenizerReward(world["scorer"], tok, setting), table)
    _, scores, _ = get_reward(model, query_responses, tok.pad_token_id, context)
    expected = world["scorer"].score(
        [render_example(p.conversation, t, setting) for p, t in zip(prompts, texts)]
    )
    torch.testing.assert_close(scores, torch.tensor(expected, dtype=torch.float32), atol=1e-6, rtol=0)
    assert [r.prompt_id for r in model.drain()] == [p.prompt_id for p in prompts]
    assert model.drain() == []


def test_long_prompts_are_cut_from_the_left_and_scored_as_cut(world):
    """Over the token budget a prompt loses its oldest turns and is shortened, not dropped; the reward
    model then scores exactly the cut prompt the policy saw, metadata included (conditioned)."""
    from dataclasses import replace

    from trl.experimental.utils import get_reward

    from karma.ppo.state import Prompt

    tok = policy_tokenizer()
    setting = "conditioned"
    base = world["prompts"][:6]
    long = [Prompt(f"long{i}", replace(p.conversation, body=p.conversation.body * 8,
                                       parents=("the first turn",) * 3 + p.conversation.parents))
            for i, p in enumerate(base)]
    budget = max(len(tok(render_prompt(p.conversation, setting))["input_ids"]) for p in base)
    table = tokenize_prompts(base + long, tok, setting, max_tokens=budget)
    assert table.truncated == 6 and table.dropped_too_long == 0 and len(table.input_ids) == 12
    assert table.context_length <= budget
    by_id = {p.prompt_id: p for p in table.by_ids.values()}
    for original in long:
        cut = by_id[original.prompt_id].conversation
        assert cut.title == original.conversation.title and cut.subreddit == original.conversation.subreddit
        assert cut.parents == original.conversation.parents[-1:]  # the oldest turns went first
        assert original.conversation.body.startswith(cut.body.rstrip("…"))
    for key, prompt in table.by_ids.items():  # the stored prompt renders to exactly the ids the policy gets
        assert tuple(tok(render_prompt(prompt.conversation, setting))["input_ids"]) == key
    context = table.context_length
    rows = [[tok.pad_token_id] * (context - len(ids)) + ids + tok("funny cat", add_special_tokens=False)["input_ids"]
            for ids in table.input_ids]
    model = AdapterRewardModel(CrossTokenizerReward(world["scorer"], tok, setting), table)
    _, scores, _ = get_reward(model, torch.tensor(rows), tok.pad_token_id, context)
    prompts = list(table.by_ids.values())
    expected = world["scorer"].score([render_example(p.conversation, "funny cat", setting) for p in prompts])
    torch.testing.assert_close(scores, torch.tensor(expected, dtype=torch.float32), atol=1e-6, rtol=0)
    with_metadata = [p for p in prompts if p.conversation.subreddit]
    assert with_metadata and all("r/jokes" in render_prompt(p.conversation, setting) for p in with_metadata)
    with pytest.raises(ValueError, match="no prompt fits in ppo.max_prompt_tokens=3"):
        tokenize_prompts(base, tok, setting, max_tokens=3)


def test_policy_that_pads_with_eos_gets_its_own_pad_token():
    tok = policy_tokenizer()
    model = build_causal_lm(SPECS["llama"], tok)
    assert not ensure_distinct_pad(tok, model)  # the demo tokenizer has its own pad
    tok.pad_token = tok.eos_token  # what backbones.load_tokenizer does for Pythia/Llama
    assert ensure_distinct_pad(tok, model)
    assert tok.pad_token == ADDED_PAD_TOKEN and tok.pad_token_id != tok.eos_token_id
    assert model.get_input_embeddings().weight.shape[0] == len(tok)


def test_lora_trains_adapters_and_value_head_only_and_exports_merged(world):
    config = PolicyTrainingConfig.from_mapping({"finetune": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}})
    policy, value, _ = build_models(world["policy"], config)
    trainable = [n for n, p in policy.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    value_trainable = {n for n, p in value.named_parameters() if p.requires_grad}
    assert {"score.weight"} < value_trainable
    assert all("lora_" in n or n.startswith("score.") for n in value_trainable)
    merged = export_policy(policy)
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert type(merged).__name__ == "GPTNeoXForCausalLM"


def test_falcon3_shape_loads_and_gets_lora_on_every_projection(tmp_path):
    """Falcon3 is a Llama-architecture model: 'all-linear' LoRA must reach its seven projections in
    policy and value model (not the LM head), and the merged export is a plain LlamaForCausalLM."""
    from karma.backbones import load_causal_lm, load_tokenizer

    policy_dir = write_policy(tmp_path / "falcon3", "falcon3")
    model, tokenizer = load_causal_lm(policy_dir), load_tokenizer(policy_dir)
    assert model.config.model_type == "llama" and model.config.head_dim == 32
    assert model.model.layers[0].self_attn.q_proj.out_features == 64  # 2 heads x head_dim 32 > hidden 32
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()  # untied
    ids = tokenizer("funny cat story", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape == (1, ids.shape[1], len(tokenizer))
    config = PolicyTrainingConfig.from_mapping({"finetune": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}})
    policy, value, _ = build_models(policy_dir, config)
    projections = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    for adapted in (policy, value):
        names = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in adapted.named_parameters() if ".lora_A" in n}
        assert names == projections
    assert not any("lm_head" in n and "lora_" in n for n, _ in policy.named_parameters())
    merged = export_policy(policy)
    assert type(merged).__name__ == "LlamaForCausalLM" and not any("lora_" in n for n, _ in merged.named_parameters())


def test_ppo_steps_once_per_mini_batch_and_optimises_the_adapter_reward(world):
    ppo = PPOSettings(total_episodes=8, batch_size=4, mini_batch_size=2, micro_batch_size=1, ppo_epochs=2,
                      response_length=6, rollout_batch_size=4, learning_rate=1e-4, max_prompt_tokens=512)
    config = PolicyTrainingConfig(ppo=ppo, checkpoint_every=100, device="cpu")
    steps, stats, checkpoints = [], [], []

    def count(optimizer, args, kwargs):
        if type(optimizer) is torch.optim.AdamW:
            steps.append(1)

    handle = register_optimizer_step_post_hook(count)
    try:
        result = run_ppo(
            policy_dir=world["policy"], scorer=world["scorer"], prompts=world["prompts"],
            setting="generalized", config=config, scratch_dir=world["root"] / "scratch", resume=None,
            on_update=stats.append, on_checkpoint=checkpoints.append,
        )
    finally:
        handle.remove()
    assert len(steps) == 2 * ppo.ppo_epochs * (ppo.batch_size // ppo.mini_batch_size)
    assert [s.update for s in stats] == [1, 2] and [s.episodes for s in stats] == [4, 8]
    assert checkpoints == []
    by_id = {p.prompt_id: p.conversation for p in world["prompts"]}
    vocab = len(result.tokenizer)
    for update in stats:
        assert len(update.samples) == ppo.batch_size
        direct = world["scorer"].score(
            [render_example(by_id[s["prompt_id"]], s["response"], "generalized") for s in update.samples]
        )
        assert [s["reward"] for s in update.samples] == pytest.approx(list(direct), abs=1e-6)
        # The trainer optimised exactly these rewards.
        assert update.mean_reward == pytest.approx(sum(direct) / len(direct), abs=1e-5)
        assert 0.0 < update.entropy <= math.log(vocab) + 1e-3
        assert 0.0 <= update.clip_fraction <= 1.0
    assert stats[0].kl == pytest.approx(0.0, abs=1e-4)  # first rollouts come from the base policy
    assert result.resumed_from_update == 0
    assert result.tokenizer.padding_side == "right"  # restored after left-padded training


def test_prompt_order_continues_across_a_resume():
    from karma.ppo.trl_backend import prompt_order

    full = prompt_order(10, 3, seed=7, start_update=0, total_updates=8)
    assert len(full) == 24
    # 3 whole batches per epoch, each epoch a permutation without repeats
    for epoch in range(2):
        assert len(set(full[epoch * 9 : epoch * 9 + 9])) == 9
    assert full[:9] != full[9:18]
    assert prompt_order(10, 3, seed=7, start_update=5, total_updates=8) == full[15:]
    assert prompt_order(10, 3, seed=8, start_update=0, total_updates=8) != full


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_bf16_on_a_machine_without_gpu_runs_on_the_cpu(device, tmp_path, monkeypatch):
    """paper.yaml's bf16 policies with ``device: auto``: transformers refuses bf16 without a GPU
    unless ``use_cpu`` is set, so "auto" must resolve before the PPO config is built."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = PolicyTrainingConfig(bf16=True, device=device)
    args = _ppo_config(config, tmp_path, tmp_path / "scratch", 2, config.ppo.kl_coef)
    assert args.use_cpu and args.bf16
