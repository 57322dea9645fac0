"""Through real Snakemake: config errors stop the parse, and a run missing its inputs stops before its
first job with one summary (issue 14 defects 4, 5, 6 and 9; issue 15's preflight).

Every run here happens in a scratch directory, with no Hugging Face token, the hub switched
offline (HF_HUB_OFFLINE, so a real run never probes the network) and KARMA_LOGIN_NODE=0.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from workflow_runner import ROOT, SNAKEMAKE, planned_jobs

PAPER = str(ROOT / "config" / "paper.yaml")
DEMO = str(ROOT / "config" / "config.yaml")
PAPER_JOBS = 222  # 201 + the karma reward benchmark: held-out prompts (1) and 20 reward cells


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    # Other tests set HF_*_OFFLINE in this process (the lm-eval runner does): start from a clean slate.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGING_FACE", "SLURM_", "KARMA_", "PERSPECTIVE_"))}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1", KARMA_LOGIN_NODE="0", **extra)
    return env


def run(tmp_path: Path, *args: str, configfiles=(PAPER,), env=None, timeout=300):
    """snakemake in ``tmp_path`` (working directory); returns (exit code, all output, seconds)."""
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), *args,
           "--configfile", *map(str, configfiles)]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                            env=env or environment(tmp_path))
    return result.returncode, result.stdout + result.stderr, time.perf_counter() - started


def overrides(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(text)
    return path


def total_jobs(output: str) -> int:
    return int(re.search(r"^total\s+(\d+)$", output, flags=re.MULTILINE).group(1))


def problem_titles(output: str) -> list[str]:
    """The numbered problem titles of a preflight summary (a title may wrap onto more lines)."""
    titles: list[str] = []
    open_title = False
    for line in output.splitlines():
        match = re.match(r"^  (\d+)\. (.*)$", line)
        if match:
            titles.append(match.group(2))
            open_title = not line.endswith(":")
        elif open_title and line.startswith("     ") and not line.startswith("     - "):
            titles[-1] += " " + line.strip()
            open_title = not line.endswith(":")
        else:
            open_title = False
    return [title.removesuffix(":") for title in titles]


# ---- issue 15: the paper run with nothing present ----------------------------------------------


def test_paper_run_with_nothing_present_stops_in_seconds_with_one_summary(tmp_path):
    code, out, seconds = run(tmp_path, "--cores", "2")
    assert code == 1 and seconds < 60, out[-3000:]
    assert out.count("Preflight: 4 problem(s); no job was started:") == 1, out[-3000:]
    assert problem_titles(out) == [
        "Pushshift dumps missing (reddit.submissions / reddit.comments)",
        "Gated models need a Hugging Face token, and none is set",
        "HF_HUB_OFFLINE set, but 19 downloads are planned",
        "52.7 GB of model weights to download on a machine that is not a login node",
    ]
    assert "academictorrents.com" in out and "resources/pushshift/RC_2023-03.zst" in out
    assert "Traceback" not in out and "Error in rule" not in out
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()

    # The dry run plans the whole matrix and says the same.
    code, dry, _ = run(tmp_path, "-n")
    assert code == 0, dry[-3000:]
    assert planned_jobs(dry) >= {"pushshift_dump", "fetch_model", "train_policy", "evaluate_cell"}
    assert total_jobs(dry) == PAPER_JOBS
    assert "This dry run plans the whole DAG anyway" in dry
    assert problem_titles(dry) == problem_titles(out)


def test_a_targeted_run_is_checked_for_what_its_jobs_need(tmp_path):
    code, out, _ = run(tmp_path, "--cores", "1", "results/paper/data/threads/manifest.json")
    assert code == 1
    assert problem_titles(out) == ["Pushshift dumps missing (reddit.submissions / reddit.comments)"]


def test_slurm_profile_stops_before_submitting_anything(tmp_path):
    """The account placeholder, at plan time (dry run) and before submission (real run)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch-calls"
    fake = bin_dir / "sbatch"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = environment(tmp_path, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    profile = str(ROOT / "profiles" / "slurm")

    code, dry, _ = run(tmp_path, "--profile", profile, "-n", env=env)
    assert code == 0, dry[-3000:]
    assert "SLURM account left at CHANGE_ME (profiles/slurm/config.yaml)" in problem_titles(dry)
    assert "slurm_account of default-resources" in dry

    code, out, seconds = run(tmp_path, "--profile", profile, env=env)
    assert code == 1 and seconds < 60, out[-3000:]
    assert problem_titles(out)[-1] == "SLURM account left at CHANGE_ME (profiles/slurm/config.yaml)"
    assert "Traceback" not in out and not calls.exists()


def test_a_job_that_cannot_succeed_fails_once_with_its_instructions(tmp_path):
    """Even past the preflight (--no-hooks), the dump placeholder is not retried."""
    code, out, _ = run(tmp_path, "--cores", "1", "--no-hooks", "--retries", "2",
                       "resources/pushshift/RS_2023-01.zst")
    assert code == 1
    assert out.count("Pushshift dump RS_2023-01.zst is missing") == 1, out[-3000:]
    assert "Trying to restart" not in out


# ---- issue 14: config errors stop the parse, before the DAG ------------------------------------


def test_defect4_a_missing_dump_no_rule_makes_is_an_error_despite_earlier_outputs(tmp_path):
    """The dumps moved: outputs built from the old ones must not be silently kept."""
    extra = overrides(tmp_path, "run: moved\nreddit:\n  submissions: [new-disk/RS_2019-01.zst]\n"
                                "  comments: [new-disk/RC_2019-01.zst]\n")
    data = tmp_path / "results" / "moved" / "data"
    for path in ["posts/RS_2019-01.parquet", "posts/RS_2019-01.counts.json",
                 "comments/RC_2019-01.parquet", "comments/RC_2019-01.counts.json",
                 *[f"threads/shard-{k}.parquet" for k in range(4)], "threads/manifest.json"]:
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).touch()
    code, out, _ = run(tmp_path, "-n", "results/moved/data/threads/manifest.json", configfiles=(DEMO, extra))
    assert code == 1, out[-3000:]
    assert "reddit.submissions: new-disk/RS_2019-01.zst does not exist and no rule makes it" in out
    assert "reddit.comments: new-disk/RC_2019-01.zst does not exist and no rule makes it" in out
    assert "Traceback" not in out


def test_defect5_and_9_every_section_is_checked_before_the_dag(tmp_path):
    extra = overrides(tmp_path, """
reward: {backbone: tiny-llama-r}
policies:
  tiny-pythia: {ppo: {lerning_rate: 1.0e-5}}
models:
  tiny-falcon: {spec: {hiden_size: 64}}
benchmarks:
  toxicity: {max_tokens: 20}
""")
    code, out, _ = run(tmp_path, "-n", configfiles=(DEMO, extra))
    assert code == 1, out[-3000:]
    assert "Config error (4 problems; nothing was run):" in out
    for named in ["reward.backbone: 'tiny-llama-r' is not a key of models",
                  "policies.tiny-pythia.ppo: unknown key(s) 'lerning_rate'",
                  "models.tiny-falcon.spec: key(s) hiden_size are not fields of the falcon config",
                  "benchmarks.toxicity: unknown key(s) 'max_tokens'"]:
        assert named in out, named
    assert "KeyError" not in out and "Traceback" not in out


def test_defect9_numbers_yaml_reads_as_text_are_accepted(tmp_path):
    extra = overrides(tmp_path, "reward:\n  training: {learning_rate: 1e-5, max_steps: 1e3}\n"
                                "ppo:\n  ppo: {learning_rate: 3e-4}\n"
                                "reddit: {candidate_fraction: 1e-0}\n")
    assert yaml.safe_load(extra.read_text())["reward"]["training"]["learning_rate"] == "1e-5"
    code, out, _ = run(tmp_path, "-n", configfiles=(DEMO, extra))
    assert code == 0, out[-3000:]
    assert total_jobs(out) == 72


@pytest.mark.parametrize("name", ["..", "../../../../tmp/x"])
def test_defect6_a_run_name_cannot_leave_results(tmp_path, name):
    extra = overrides(tmp_path, yaml.safe_dump({"run": name}))
    code, out, _ = run(tmp_path, "-n", configfiles=(DEMO, extra))
    assert code == 1 and "run" in out and "does not match" in out, out[-3000:]
