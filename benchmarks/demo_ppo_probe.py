"""Demo PPO probe: one policy x variant trained with given PPO values, held-out karma reward before/after.

Runs the code the workflow runs (karma.ppo.trl_backend.run_ppo, karma.evaluation.karma_reward.score_items)
on a finished demo's warm-started policy and reward models, without the DAG, so PPO values can be
compared in minutes (docs/demo-data.md, "PPO in the demo"). Needs results/demo up to the reward models
(`snakemake --cores 2 --until train_reward_model pretrain_policy build_heldout_prompts`).

usage: python benchmarks/demo_ppo_probe.py POLICY VARIANT UPDATES LR KL_COEF KL_TARGET|none HORIZON [json overrides]
e.g.   python benchmarks/demo_ppo_probe.py tiny-falcon benign 40 3e-4 0.05 4 40 '{"batch_size": 32}'
The overrides are ppo.ppo keys; batch_size sets the episodes per update (total = UPDATES x batch_size).
PROBE_SAMPLES (default 4) sets the held-out replies per prompt (benchmarks.reward.samples_per_prompt).
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path
import numpy as np
import torch
from scipy.stats import wilcoxon

from karma.backbones import load_causal_lm, load_tokenizer
from karma.evaluation.karma_reward import RewardBenchmarkConfig, score_items
from karma.ppo.settings import PolicyTrainingConfig
from karma.ppo.state import read_prompts
from karma.ppo.trl_backend import run_ppo
from karma.reward.model import RewardScorer

torch.set_num_threads(1)
policy, variant, updates, lr, kl_coef, kl_target, horizon = sys.argv[1:8]
extra = json.loads(sys.argv[8]) if len(sys.argv) > 8 else {}
R = Path(__file__).resolve().parents[1] / "results" / "demo"
rm = {"benign": "generalized", "toxic": "generalized", "control": "generalized-permuted"}[variant]
src = {"benign": "ultrachat", "toxic": "reddit", "control": "ultrachat"}[variant]
policy_dir = R / f"models/{policy}/pretrained"
scorer = RewardScorer.from_pretrained(R / f"reward/{rm}/model", device="cpu")
gen = scorer if rm == "generalized" else RewardScorer.from_pretrained(R / "reward/generalized/model", device="cpu")
prompts = read_prompts(R / f"data/prompts/{src}.parquet")
ppo = {"batch_size": 8, "mini_batch_size": 4, "micro_batch_size": 4,
       "rollout_batch_size": 8, "ppo_epochs": 1, "learning_rate": float(lr), "kl_coef": float(kl_coef),
       "kl_target": None if kl_target == "none" else float(kl_target), "kl_horizon": int(horizon),
       "response_length": 16, "temperature": 0.7, "max_prompt_tokens": 192, "seed": 0}
ppo.update(extra)
ppo["total_episodes"] = ppo["batch_size"] * int(updates)
config = PolicyTrainingConfig.from_mapping({"ppo": ppo, "device": "cpu"})
rows = []
t0 = time.perf_counter(); c0 = time.process_time()
out = Path(tempfile.mkdtemp(prefix=f"ppo-probe-{policy}-{variant}-"))
result = run_ppo(policy_dir=policy_dir, scorer=scorer, prompts=prompts, setting="generalized", config=config,
                 scratch_dir=out, resume=None, on_update=rows.append, on_checkpoint=lambda s: None)
train_s = time.perf_counter() - t0; train_cpu = time.process_time() - c0
r = [x.mean_reward for x in rows]; k = [x.kl for x in rows]; c = [x.kl_coef for x in rows]
held = read_prompts(R / "data/prompts/heldout.parquet")
samples = int(os.environ.get("PROBE_SAMPLES", "4"))
bench = RewardBenchmarkConfig(samples_per_prompt=samples, max_new_tokens=16, temperature=0.7, max_prompt_tokens=192, seed=0, device="cpu")
t1 = time.perf_counter(); c1 = time.process_time()
base, _ = score_items(load_causal_lm(policy_dir), load_tokenizer(policy_dir), held, {"generalized": gen}, bench)
after, ex = score_items(result.model, result.tokenizer, held, {"generalized": gen}, bench)
eval_s = time.perf_counter() - t1; eval_cpu = time.process_time() - c1
b = np.array([i.score for i in base]); a = np.array([i.score for i in after])
p = wilcoxon(a, b).pvalue
w = lambda xs: " ".join(f"{x:.3f}" for x in xs)
print(f"RESULT {policy} {variant} upd={updates} lr={lr} kl0={kl_coef} target={kl_target} H={horizon} {extra}")
print(f"  train {train_s:.0f}s (cpu {train_cpu:.0f}s) eval {eval_s:.0f}s (cpu {eval_cpu:.0f}s, base+PPO); reward first5 {np.mean(r[:5]):.3f} last5 {np.mean(r[-5:]):.3f}; "
      f"kl last5 {np.mean(k[-5:]):.2f} max {max(k):.2f}; coef last {c[-1]:.4f}")
print(f"  heldout ({samples} replies/prompt) base {b.mean():.4f} after {a.mean():.4f} diff {a.mean()-b.mean():+.4f} p={p:.2g} n={len(a)}")
source = {q.prompt_id: q.source for q in held}
for src_name in ("reddit", "ultrachat"):
    keep = np.array([source[i.id] == src_name for i in base])
    if keep.any():
        print(f"  {src_name}: n={keep.sum()} base {b[keep].mean():.4f} diff {(a - b)[keep].mean():+.4f} "
              f"p={wilcoxon(a[keep], b[keep]).pvalue:.2g}")
print("  rewards", w(r[::max(1, len(r)//10)]))
print("  kls    ", w(k[::max(1, len(k)//10)]))
print("  samples", [s["response"] for s in rows[-1].samples[:4]])
