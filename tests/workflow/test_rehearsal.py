"""config/rehearsal.yaml is config/paper.yaml shrunk, and it runs end to end offline (issue 16).

The rehearsal exists to run the code paths only the paper config takes (hub-layout models and
tokenizers, LoRA and bf16 policies, one job per cell, Detoxify, the paper's statistics). Two things
keep it honest: it may differ from the paper config only in keys that size things, and it must run
every rule the paper config plans, except the downloads, whose outputs it pre-places. The run itself
(`make rehearsal`) happens once per session; the tests assert on its outputs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from workflow_runner import ROOT, SNAKEMAKE

# Seconds `make rehearsal` may take: ~180 jobs; a CPU shared with other work may need more.
REHEARSAL_TIMEOUT_S = int(os.environ.get("KARMA_TEST_REHEARSAL_TIMEOUT_S", "5400"))

# Every key rehearsal.yaml may set to another value than paper.yaml, and why it sizes the run.
SIZING_KEYS = {
    "reddit.max_posts": "posts kept from the dumps",
    "prompts.reddit.max_prompts": "Reddit prompts for the toxic variant",
    "prompts.ultrachat.max_prompts": "UltraChat prompts for the benign and eroded variants",
    "reward.training.max_length": "tokens per reward-model example",
    "reward.training.checkpoint_every_steps": "scaled with the number of steps, so a checkpoint is written",
    "ppo.ppo.total_episodes": "PPO episodes (the number of updates)",
    "ppo.ppo.batch_size": "episodes per update",
    "ppo.ppo.mini_batch_size": "episodes per optimizer step",
    "ppo.ppo.micro_batch_size": "episodes per forward pass",
    "ppo.ppo.rollout_batch_size": "episodes generated at once",
    "ppo.ppo.response_length": "tokens per PPO response",
    "ppo.checkpoint_every": "scaled with the number of updates, so a checkpoint is written",
    "ppo.sample_every": "scaled with the number of updates, so samples are logged",
    "benchmarks.limits": "items per benchmark",
    "benchmarks.toxicity.continuations_per_prompt": "continuations per RealToxicityPrompts prompt",
    "benchmarks.toxicity.max_new_tokens": "tokens per continuation",
    "prompts.heldout.reddit": "held-out Reddit prompts, reward benchmark items",
    "prompts.heldout.ultrachat": "held-out UltraChat prompts, reward benchmark items",
    "benchmarks.reward.samples_per_prompt": "sampled replies per held-out prompt",
    "benchmarks.reward.max_new_tokens": "tokens per sampled reply",
}
# Written by the generator over rehearsal.yaml: the generated checkpoint's digest replaces the released one's.
OVERLAY_KEYS = {"benchmarks.toxicity.detoxify_sha256"}
JOB_LINE = re.compile(r"^(?:local)?rule (\w+):$")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def leaves(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value; an empty mapping is a leaf (``limits: {}``), lists are leaves."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out |= leaves(value, f"{name}.")
        else:
            out[name] = value
    return out


def non_sizing_differences(paper: Mapping[str, Any], rehearsal: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ, or that only one config has, outside :data:`SIZING_KEYS`."""
    def sizing(key: str) -> bool:
        return any(key == allowed or key.startswith(f"{allowed}.") for allowed in SIZING_KEYS)

    a, b = leaves(paper), leaves(rehearsal)
    return sorted(key for key in a.keys() | b.keys()
                  if (key not in a or key not in b or a[key] != b[key]) and not sizing(key))


def test_rehearsal_differs_from_paper_only_in_sizing_keys():
    paper, rehearsal = load("paper.yaml"), load("rehearsal.yaml")
    assert non_sizing_differences(paper, rehearsal) == []
    changed = {key for key, value in leaves(rehearsal).items() if leaves(paper).get(key) != value}
    assert changed, "the rehearsal sizes nothing down"


@pytest.mark.parametrize("change", [
    ("ppo", "finetune", "lora"),
    ("benchmarks", "job_per", "policy"),
    ("statistics", "holm", True),
    ("reward", "backbone", "pythia-70m"),
])
def test_a_non_sizing_difference_is_caught(change):
    section, key, value = change
    rehearsal = load("rehearsal.yaml")
    rehearsal[section][key] = value
    assert non_sizing_differences(load("paper.yaml"), rehearsal) == [f"{section}.{key}"]


def test_a_removed_or_added_key_is_caught():
    rehearsal = load("rehearsal.yaml")
    del rehearsal["policies"]["pythia-6.9b"]["finetune"]
    rehearsal["variants"]["extra"] = {"policies": ["pythia-70m"]}
    assert non_sizing_differences(load("paper.yaml"), rehearsal) == [
        "policies.pythia-6.9b.finetune", "variants.extra.policies"]


def test_sizing_keys_name_keys_of_the_paper_config():
    """A stale allow-list entry would let a renamed key through unchecked."""
    paper = leaves(load("paper.yaml"))
    assert [key for key in SIZING_KEYS | dict.fromkeys(OVERLAY_KEYS) if key not in paper] == []


def planned(workdir: Path, *configfiles: Path) -> str:
    result = subprocess.run([SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "-n",
                             "--configfile", *map(str, configfiles)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def jobs(log: str) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of each job a Snakemake run or dry run printed."""
    out: list[tuple[str, list[str]]] = []
    for line in log.splitlines():
        if match := JOB_LINE.match(line):
            out.append((match.group(1), []))
        elif out and line.startswith("    output: "):
            out[-1][1].extend(path.strip() for path in line.removeprefix("    output: ").split(","))
    return out


@pytest.fixture(scope="session")
def paper_plan(tmp_path_factory) -> list[tuple[str, list[str]]]:
    """What ``config/paper.yaml`` plans now, from an empty working directory (nothing pre-placed)."""
    return jobs(planned(tmp_path_factory.mktemp("paper-plan"), ROOT / "config" / "paper.yaml"))


def download_rules(plan: list[tuple[str, list[str]]]) -> set[str]:
    """Rules whose every output lies in ``resources/`` (the inputs from outside a run): the fetches,
    and the placeholder rule of the dumps the user provides. Results go to ``results/``."""
    return {rule for rule, paths in plan if paths and all(path.startswith("resources/") for path in paths)}


@pytest.fixture(scope="session")
def rehearsal(tmp_path_factory) -> dict[str, Any]:
    """``make rehearsal`` once, into a scratch directory, offline with an empty HF_HOME."""
    base = tmp_path_factory.mktemp("rehearsal")
    env = {**os.environ, "REHEARSAL_DIR": str(base)}
    env.pop("HF_TOKEN", None)
    result = subprocess.run(["make", "-o", ".venv/.installed", "rehearsal"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=REHEARSAL_TIMEOUT_S)
    log = result.stdout + result.stderr
    (base / "make-rehearsal.log").write_text(log)
    assert result.returncode == 0, log[-6000:]
    return {"workdir": base / "work", "log": log, "hf_home": base / "hf-home"}


@pytest.mark.rehearsal
def test_rehearsal_runs_every_rule_the_paper_plans_but_the_downloads(paper_plan, rehearsal):
    downloads = download_rules(paper_plan)
    executed = {rule for rule, _ in jobs(rehearsal["log"])}
    assert executed == {rule for rule, _ in paper_plan} - downloads
    assert {"pushshift_dump", "fetch_model", "fetch_benchmark", "fetch_detoxify"} <= downloads


@pytest.mark.rehearsal
def test_the_downloads_outputs_are_pre_placed_as_a_fetch_writes_them(paper_plan, rehearsal):
    workdir = rehearsal["workdir"]
    downloads = download_rules(paper_plan)
    outputs = [path for rule, paths in paper_plan if rule in downloads for path in paths]
    assert outputs and [path for path in outputs if not (workdir / path).exists()] == []
    lock = json.loads((workdir / "resources" / "hub.lock.json").read_text())
    config = load("paper.yaml")
    for name in config["policies"]:
        model = workdir / "resources" / "models" / name
        source = json.loads((model / ".hub-source.json").read_text())
        assert source["repo"] == config["models"][name]["hub"]
        assert source["revision"] == config["models"][name]["revision"]
        assert not (model / "pytorch_model.bin").exists(), "fetch_model takes safetensors only"
    assert "dataset:EleutherAI/sycophancy" in lock  # unpinned in paper.yaml: locked at its first fetch
    # nothing reached a hub cache: the run was offline from its first byte
    assert [path for path in rehearsal["hf_home"].rglob("*") if path.is_file()] == []


@pytest.mark.rehearsal
def test_the_overlay_changes_only_the_detoxify_digest(rehearsal):
    overlay = yaml.safe_load((rehearsal["workdir"] / "rehearsal-downloads.yaml").read_text())
    assert set(leaves(overlay)) == OVERLAY_KEYS


@pytest.mark.rehearsal
def test_rehearsal_writes_every_table_and_figure(paper_plan, rehearsal):
    reports = [path for rule, paths in paper_plan if rule in {"tables", "figures"} for path in paths]
    assert reports and [path for path in reports if not (rehearsal["workdir"] / path).is_file()] == []
    significance = (rehearsal["workdir"] / "results" / "paper" / "tables" / "significance.csv").read_text()
    assert len(significance.splitlines()) > 1


@pytest.mark.rehearsal
def test_toxicity_cells_are_scored_by_detoxify(rehearsal):
    evals = rehearsal["workdir"] / "results" / "paper" / "eval"
    cells = [json.loads(path.read_text()) for path in sorted(evals.glob("*/*/toxicity.json"))]
    config = load("paper.yaml")
    assert len(cells) == sum(len(variant["policies"]) for variant in config["variants"].values())
    for cell in cells:
        assert cell["task_config"]["toxicity"]["scorer_name"] == "detoxify-original"
        assert set(cell["categories"]) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult",
                                           "identity_attack"}


def training_config(model_dir: Path) -> dict[str, Any]:
    """The training settings a policy's model card records (its ```json block)."""
    card = (model_dir / "README.md").read_text()
    return json.loads(card.split("## Training", 1)[1].split("```json", 1)[1].split("```", 1)[0])


@pytest.mark.rehearsal
def test_policies_train_as_the_paper_config_splits_them(rehearsal):
    """LoRA, bf16 and full fine-tuning per policy, as paper.yaml sets them, reached the trained models."""
    config = load("paper.yaml")
    policies = rehearsal["workdir"] / "results" / "paper" / "policy"
    trained = sorted(policies.glob("*/*/summary.json"))
    assert len(trained) == sum(len(v["policies"]) for name, v in config["variants"].items() if name != "base")
    for summary in trained:
        policy = summary.parent.parent.name
        expected = config["policies"][policy]
        settings = training_config(summary.parent / "model")
        assert settings["finetune"] == expected.get("finetune", config["ppo"]["finetune"]), summary
        assert settings["bf16"] == expected.get("bf16", False), summary
        assert json.loads(summary.read_text())["updates"] >= 2
