"""What each job asks the cluster for, read from real dry runs, and a timing file for every job.

The paper table is the contract: host memory (MB) and runtime (minutes, first attempt) per paper
model for every rule that loads a model, as `snakemake --profile profiles/slurm -n` plans them. A
change to a resource function or to config/paper.yaml's model sizes shows up here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# policy: (params_b, finetune) -> {rule: (mem_mb, runtime)}; the reward model is Llama-3.2-1B (1.24B).
PAPER = {
    #              export_base_policy  train_policy     evaluate_cell (other cells; toxicity)
    "falcon-1b":   {"export": (9000, 15), "ppo": (37000, 1062), "eval": (12000, 130),
                    "eval_toxicity": (12000, 220)},                                      # 1.67B, full
    "falcon-7b":   {"export": (32000, 32), "ppo": (55000, 1402), "eval": (35000, 477),
                    "eval_toxicity": (35000, 567)},                                      # 7.46B, LoRA
    "llama-8b":    {"export": (34000, 34), "ppo": (58000, 1500), "eval": (37000, 510),
                    "eval_toxicity": (37000, 600)},                                      # 8.0B, LoRA
    "pythia-70m":  {"export": (3000, 10), "ppo": (12000, 102), "eval": (6000, 34),
                    "eval_toxicity": (6000, 124)},                                       # 0.07B, full
    "pythia-1b":   {"export": (6000, 13), "ppo": (26000, 660), "eval": (9000, 90),
                    "eval_toxicity": (9000, 180)},                                       # 1.0B, full
    "pythia-6.9b": {"export": (30000, 30), "ppo": (52000, 1302), "eval": (33000, 444),
                    "eval_toxicity": (33000, 534)},                                      # 6.9B, LoRA
}
# The paper scores the full RealToxicityPrompts (prompt_subset: all): a toxicity cell gets 90 more
# minutes plus the model's per-cell time (karma's _cell_minutes; estimate in docs/paper-choices.md).
REWARD = (20000, 804)  # train_reward_model, both settings
RULE_OF = {"export": "export_base_policy", "ppo": "train_policy", "eval": "evaluate_cell",
           "eval_toxicity": "evaluate_cell"}
MODEL_RULES = {"build_tiny_model", "train_reward_model", "export_base_policy", "train_policy",
               "evaluate_policy", "evaluate_cell"}
JOB = re.compile(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


def planned(*args: str) -> list[dict]:
    result = subprocess.run([SNAKEMAKE, "-n", *args], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = []
    for rule, body in JOB.findall(result.stdout):
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", body, flags=re.MULTILINE))
        resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", ") if item)
        wildcards = dict(item.split("=", 1) for item in fields.get("wildcards", "").split(", ") if item)
        jobs.append({"rule": rule, "wildcards": wildcards, "resources": resources})
    return jobs


@pytest.fixture(scope="module")
def paper_jobs() -> list[dict]:
    return planned("--profile", "profiles/slurm")


def asked(job: dict) -> tuple[int, int]:
    return int(job["resources"]["mem_mb"]), int(job["resources"]["runtime"])


@pytest.mark.parametrize("policy", sorted(PAPER))
def test_paper_resources_follow_the_model_size(paper_jobs, policy):
    for kind, expected in PAPER[policy].items():
        jobs = [j for j in paper_jobs if j["rule"] == RULE_OF[kind] and j["wildcards"]["policy"] == policy
                and (kind != "eval" or j["wildcards"]["benchmark"] != "toxicity")
                and (kind != "eval_toxicity" or j["wildcards"]["benchmark"] == "toxicity")]
        assert jobs, f"no {RULE_OF[kind]} job for {policy}"
        for job in jobs:
            assert asked(job) == expected, (kind, job["wildcards"])


def test_paper_reward_model_resources(paper_jobs):
    jobs = [j for j in paper_jobs if j["rule"] == "train_reward_model"]
    assert len(jobs) == 2 and {asked(j) for j in jobs} == {REWARD}


def test_the_table_covers_every_paper_job_that_loads_a_model(paper_jobs):
    model_jobs = [j for j in paper_jobs if j["rule"] in MODEL_RULES]
    assert len(model_jobs) == 2 + 6 + 14 + 140  # reward models, base exports, PPO runs, cells
    expected = {(RULE_OF[kind], policy, kind == "eval_toxicity"): sizes for policy, row in PAPER.items()
                for kind, sizes in row.items()}
    for job in model_jobs:
        key = (job["rule"], job["wildcards"].get("policy"), job["wildcards"].get("benchmark") == "toxicity")
        assert asked(job) == (REWARD if job["rule"] == "train_reward_model" else expected[key]), key


def test_demo_model_jobs_ask_for_little():
    jobs = [j for j in planned() if j["rule"] in MODEL_RULES]
    assert {j["rule"] for j in jobs} == MODEL_RULES - {"evaluate_cell"}
    for job in jobs:
        assert int(job["resources"]["mem_mb"]) == 2000, job


def test_every_rule_that_does_work_writes_a_timing_file():
    no_work = {"all", "pushshift_dump"}  # a target list, and a rule that only explains a missing dump
    sources = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    missing = []
    for path in sources:
        blocks = re.split(r"^\s*(?:rule|checkpoint) (\w+):", path.read_text(), flags=re.MULTILINE)
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
            if name not in no_work and "benchmark:" not in body:
                missing.append(f"{path.name}:{name}")
    assert not missing, f"rules without benchmark: {missing}"
