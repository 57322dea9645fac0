"""PPO orchestration: config, variants, same-family check, KL band, checkpoints, resume after a kill."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny_world import write_policy, write_prompts, write_reward_model

from karma.ppo.checkpoints import CheckpointStore, TrainingState
from karma.ppo.memory import ModelShape, estimate_ppo_memory_gib
from karma.ppo.settings import PolicyTrainingConfig
from karma.ppo.state import read_prompts, read_train_log
from karma.ppo.training import export_base_policy, train_policy
from karma.ppo.variants import (
    SAME_FAMILY_KEY,
    check_same_family,
    model_family,
    resolve_families,
    variants_from_config,
)

TINY_PPO = {"batch_size": 2, "mini_batch_size": 2, "micro_batch_size": 1, "ppo_epochs": 1,
            "response_length": 4, "rollout_batch_size": 2, "max_prompt_tokens": 512}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    return {
        "policy": write_policy(root / "falcon-tiny", "falcon"),
        "llama_policy": write_policy(root / "llama-tiny", "llama"),
        "falcon3_policy": write_policy(root / "falcon3-tiny", "falcon3"),
        "reward_model": write_reward_model(root / "rm", "llama"),
        "prompts": write_prompts(root / "prompts.parquet"),
    }


def run_args(world, out: Path) -> list[str]:
    return [str(world["policy"]), str(world["reward_model"]), str(world["prompts"]), "toxic", "generalized",
            str(out / "model"), str(out / "train_log.jsonl"), str(out / "checkpoints")]


# ---------------------------------------------------------------------------------------------- config


def test_config_rejects_unknown_keys_and_inconsistent_batches():
    with pytest.raises(ValueError, match="unknown key.*learning_rte"):
        PolicyTrainingConfig.from_mapping({"ppo": {"learning_rte": 1e-5}})
    with pytest.raises(ValueError, match="unknown key.*finetuning"):
        PolicyTrainingConfig.from_mapping({"finetuning": "lora"})
    with pytest.raises(ValueError, match="multiple of ppo.mini_batch_size"):
        PolicyTrainingConfig.from_mapping({"ppo": {"batch_size": 10, "mini_batch_size": 4}})
    config = PolicyTrainingConfig.from_mapping(
        {"ppo": {"total_episodes": 100, "batch_size": 8, "mini_batch_size": 4, "micro_batch_size": 2},
         "finetune": "lora", "lora": {"target_modules": ["q_proj", "v_proj"]}, "kl_band": {"high": 5}}
    )
    assert config.ppo.total_updates == 13  # the last batch overshoots 100 episodes
    assert config.lora.target_modules == ("q_proj", "v_proj") and config.kl_band.high == 5


def test_variants_from_config():
    variants = variants_from_config({
        "base": {"policies": ["pythia-70m", "falcon-1b"]},
        "benign": {"setting": "generalized", "prompts": "ultrachat", "policies": ["pythia-70m"]},
        "eroded": {"setting": "conditioned", "prompts": "ultrachat", "policies": ["falcon-1b"]},
    })
    assert not variants["base"].trains and variants["base"].policies == ("pythia-70m", "falcon-1b")
    assert variants["eroded"].trains and variants["eroded"].reward_setting == "conditioned"
    with pytest.raises(ValueError, match="set both 'setting' and 'prompts'"):
        variants_from_config({"toxic": {"setting": "generalized", "policies": ["p"]}})
    with pytest.raises(ValueError, match="prompts 'twitter'"):
        variants_from_config({"toxic": {"setting": "generalized", "prompts": "twitter", "policies": ["p"]}})
    sampled = variants_from_config(
        {"eroded": {"setting": "conditioned", "prompts": "ultrachat", "metadata": "sampled", "policies": ["p"]}})
    assert sampled["eroded"].metadata == "sampled" and variants["eroded"].metadata == "none"
    with pytest.raises(ValueError, match="metadata 'sampled' needs the conditioned setting"):
        variants_from_config(
            {"benign": {"setting": "generalized", "prompts": "ultrachat", "metadata": "sampled", "policies": ["p"]}})
    with pytest.raises(ValueError, match="metadata 'random' is not one of none, sampled"):
        variants_from_config(
            {"eroded": {"setting": "conditioned", "prompts": "ultrachat", "metadata": "random", "policies": ["p"]}})


# ---------------------------------------------------------------------------------------- same family


def test_same_family_is_refused_unless_intended(world, tmp_path, caplog):
    assert model_family(world["reward_model"]) == "llama"  # the backbone's family, not karma_reward
    with pytest.raises(ValueError, match=f"policy 'llama-8b'.*{SAME_FAMILY_KEY}: true"):
        check_same_family("llama-8b", "llama", "llama", intended=False)
    with caplog.at_level(logging.WARNING):
        check_same_family("llama-8b", "llama", "llama", intended=True)
    assert SAME_FAMILY_KEY in caplog.text
    check_same_family("pythia-1b", "gpt_neox", "llama", intended=False)
    # The training entry point refuses before any work is done.
    args = run_args(world, tmp_path)
    args[0] = str(world["llama_policy"])
    with pytest.raises(ValueError, match=f"policy 'llama-tiny'.*{SAME_FAMILY_KEY}"):
        train_policy(*args, config={"ppo": TINY_PPO})
    assert not (tmp_path / "model").exists()


def test_same_family_compares_configured_lineages_not_architectures(world, tmp_path, caplog):
    """Falcon3 has model_type llama, like the Llama-3.2-1B reward model: the configured families
    (falcon vs llama) decide, so it trains without the opt-in; a Llama policy is still refused."""
    falcon3, reward = world["falcon3_policy"], world["reward_model"]
    assert model_family(falcon3) == model_family(reward) == "llama"
    with caplog.at_level(logging.INFO, logger="karma.ppo.variants"):
        assert resolve_families(falcon3, reward, "falcon", "llama") == ("falcon", "llama")
    assert "share the llama architecture but not the family (falcon vs llama)" in caplog.text
    assert resolve_families(falcon3, reward, None, None) == ("llama", "llama")  # no config: model_type
    args = run_args(world, tmp_path)
    args[0] = str(falcon3)
    with pytest.raises(ValueError, match=f"policy 'falcon3-tiny'.*{SAME_FAMILY_KEY}"):
        train_policy(*args, config={"ppo": TINY_PPO})  # without families: the architecture decides
    with pytest.raises(ValueError, match="policy 'llama-8b' is of the reward model's family"):
        train_policy(*args, config={"ppo": TINY_PPO}, policy_name="llama-8b", policy_family="llama",
                     reward_family="llama")
    config = {"ppo": {**TINY_PPO, "total_episodes": 2, "max_prompt_tokens": 40}, "device": "cpu"}
    summary = train_policy(*args, config=config, policy_family="falcon", reward_family="llama")
    assert summary["updates"] == 1 and (tmp_path / "model" / "model.safetensors").is_file()
    # a tight budget: long prompts are cut, not dropped, and the summary counts them
    assert summary["prompts_truncated"] > 0 and summary["prompts_dropped_too_long"] == 0
    assert summary["prompts_used"] + summary["prompts_dropped_duplicate"] == 24


# ------------------------------------------------------------------------------------- KL band, outputs


def test_kl_band_warning_fires_when_policy_drifts(world, tmp_path, caplog):
    """Forced drift: a huge learning rate and a narrow band; the first update (policy == base) is in it."""
    config = {"ppo": {**TINY_PPO, "total_episodes": 6, "learning_rate": 0.05}, "kl_band": {"high": 1e-3},
              "sample_every": 2, "samples_per_row": 1, "device": "cpu"}
    with caplog.at_level(logging.WARNING, logger="karma.ppo.training"):
        summary = train_policy(*run_args(world, tmp_path), config=config)
    rows = read_train_log(tmp_path / "train_log.jsonl")
    assert [r["update"] for r in rows] == [1, 2, 3]
    assert "kl_out_of_band" not in rows[0]
    drifted = [r["update"] for r in rows if r.get("kl_out_of_band")]
    assert drifted and all(rows[u - 1]["kl"] > 1e-3 for u in drifted)
    assert [o["update"] for o in summary["kl_out_of_band"]] == drifted
    assert "KL left the band" in summary["warning"] and "reward-hacking sign" in caplog.text
    # The outputs every run leaves: a row per update with its metrics, periodic samples, a model dir.
    for row in rows:
        assert {"mean_reward", "kl", "entropy", "clip_fraction", "value_loss", "episodes"} <= set(row)
    assert [r["update"] for r in rows if "samples" in r] == [1, 2]
    assert set(rows[0]["samples"][0]) == {"prompt_id", "response", "reward"}
    model_dir = tmp_path / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
    assert not any(p.is_symlink() for p in model_dir.iterdir())
    # Removed after success, folder and all (issue 14: an empty checkpoints/ stayed behind).
    assert not (tmp_path / "checkpoints").exists()


# ---------------------------------------------------------------------------------------------- resume


def test_checkpoint_roundtrip_restores_weights_optimizer_scheduler_and_rng(tmp_path):
    def build():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))
        model[0].bias.requires_grad = False  # frozen weights are not checkpointed
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
        return model, opt, torch.optim.lr_scheduler.LinearLR(opt, total_iters=10)

    model, opt, sched = build()
    for _ in range(3):
        model(torch.randn(2, 4)).sum().backward()
        opt.step()
        sched.step()
    store = CheckpointStore(tmp_path, fingerprint="a")
    path = store.save(TrainingState(3, 12, {"m": model}, opt, sched, 0.05), [{"update": 1}])
    assert "m.0.bias" not in load_file(path / "params.safetensors")
    expected_draw = (torch.rand(3), np.random.rand())

    fresh, fresh_opt, fresh_sched = build()
    (tmp_path / "ckpt-00000005.tmp").mkdir()  # a checkpoint a killed job was writing
    checkpoint = CheckpointStore(tmp_path, fingerprint="a").latest()
    assert not (tmp_path / "ckpt-00000005.tmp").exists()
    assert (checkpoint.update, checkpoint.episodes, checkpoint.log_rows()) == (3, 12, [{"update": 1}])
    checkpoint.restore({"m": fresh}, fresh_opt, fresh_sched)
    checkpoint.restore_rng()
    assert torch.equal(torch.rand(3), expected_draw[0]) and np.random.rand() == expected_draw[1]
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    assert fresh_sched.get_last_lr() == sched.get_last_lr()
    state, fresh_state = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    for index in state:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[index][key], fresh_state[index][key])
    # Another config or other inputs: the old checkpoint does not belong to this run.
    assert CheckpointStore(tmp_path, fingerprint="b").latest() is None
    assert not list(tmp_path.glob("ckpt-*"))


def complete_checkpoints(directory: Path) -> list[Path]:
    return [p.parent for p in directory.glob("ckpt-*/state.json") if not p.parent.name.endswith(".tmp")]


CHILD = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from karma.ppo.training import train_policy
train_policy(*sys.argv[1:9], config=json.loads(sys.argv[9]))
"""


def test_killed_run_resumes_from_last_checkpoint(world, tmp_path):
    config = {"ppo": {**TINY_PPO, "total_episodes": 50, "learning_rate": 1e-3}, "checkpoint_every": 2,
              "device": "cpu"}
    args = run_args(world, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    stderr = (tmp_path / "child.log").open("w")
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args, json.dumps(config)], env=env,
                             stdout=stderr, stderr=stderr)
    deadline = time.monotonic() + 180
    while not complete_checkpoints(tmp_path / "checkpoints"):
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"no checkpoint before the child ended: {(tmp_path / 'child.log').read_text()[-3000:]}")
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)  # no cleanup code runs, as with an OOM kill or a SLURM timeout
    assert child.wait() == -signal.SIGKILL
    [checkpoint] = complete_checkpoints(tmp_path / "checkpoints")  # the kill may also leave a .tmp one
    checkpointed = json.loads((checkpoint / "state.json").read_text())["update"]
    assert 2 <= checkpointed < 25

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the child: float results depend on the thread count
    try:
        summary = train_policy(*args, config=config)
        reference = tmp_path / "reference"
        train_policy(*run_args(world, reference), config=config)
    finally:
        torch.set_num_threads(threads)
    assert summary["resumed_from_update"] == checkpointed
    rows = read_train_log(tmp_path / "train_log.jsonl")
    assert [r["update"] for r in rows] == list(range(1, 26))  # each update once, none redone from 0
    assert [r["episodes"] for r in rows] == [2 * u for u in range(1, 26)]
    # The restored scheduler continues the run's linear decay instead of restarting it.
    assert [r["learning_rate"] for r in rows] == pytest.approx([1e-3 * (1 - (u - 1) / 25) for u in range(1, 26)])
    assert (tmp_path / "model" / "model.safetensors").is_file()
    # The resumed run continues the uninterrupted run itself: same prompts, same rollouts, same weights.
    expected = read_train_log(reference / "train_log.jsonl")
    assert [r["mean_reward"] for r in rows] == pytest.approx([r["mean_reward"] for r in expected], abs=1e-5)
    resumed, uninterrupted = (load_file(d / "model" / "model.safetensors") for d in (tmp_path, reference))
    assert all(torch.allclose(resumed[k], uninterrupted[k], atol=1e-5) for k in uninterrupted)


# ----------------------------------------------------------------------------------------- the others


def test_base_variant_exports_the_policy_itself(world, tmp_path):
    export_base_policy(world["policy"], tmp_path / "base")
    original = load_file(world["policy"] / "model.safetensors")
    exported = load_file(tmp_path / "base" / "model.safetensors")
    assert original.keys() == exported.keys()
    assert all(torch.equal(original[k], exported[k]) for k in original)
    assert (tmp_path / "base" / "tokenizer.json").is_file()
    assert not any(p.is_symlink() for p in (tmp_path / "base").iterdir())


def test_read_prompts_names_missing_columns(tmp_path, world):
    prompts = read_prompts(world["prompts"])
    assert prompts[1].conversation.subreddit == "jokes" and prompts[0].conversation.created_utc is None
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt_id": ["a"], "title": ["t"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="lacks column.*body"):
        read_prompts(tmp_path / "bad.parquet")


def test_memory_estimate_puts_7b_lora_on_one_80gb_gpu():
    reward = ModelShape(1.24e9, 2048, 16, 128256, 512)
    llama_8b = ModelShape(8.03e9, 4096, 32, 128256, 1024)
    full = estimate_ppo_memory_gib(llama_8b, reward, PolicyTrainingConfig(bf16=True))
    lora = estimate_ppo_memory_gib(
        llama_8b, reward, PolicyTrainingConfig(finetune="lora", bf16=True, gradient_checkpointing=True)
    )
    assert lora["total"] < 80 < full["total"]
    assert lora["reference_policy"] == 0.0 and full["reference_policy"] > 0
    pythia_1b = ModelShape(1.01e9, 2048, 16, 50304)
    assert estimate_ppo_memory_gib(pythia_1b, reward, PolicyTrainingConfig(bf16=True))["total"] < 80
