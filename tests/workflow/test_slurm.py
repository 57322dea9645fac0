"""The SLURM profile against a real one-node SLURM (munged, MariaDB, slurmdbd, slurmctld, slurmd).

What is checked: jobs really go through sbatch (their SLURM ids are in snakemake's log, sacct
knows them, with our account, as COMPLETED; each job saw its own SLURM_JOB_ID), failures come back
as failures instead of a silent hang, and the demo's data stage run through SLURM gives the same
files as a local run. The profile used is profiles/slurm/config.yaml with only the site-specific
entries replaced (partition, account, GPU requests dropped, small memory), so a broken key in
the real profile breaks this test.

Skips only where a cluster cannot exist (not root, or packages missing and no apt-get), loudly;
with CI set, those cases fail instead.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from slurm_cluster import ClusterUnavailable, LocalSlurmCluster, ensure_packages

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
DEMO_CONFIG = REPO / "config" / "config.yaml"
GPU_RULES = ("train_reward_model", "train_policy", "evaluate_policy", "evaluate_cell", "evaluate_reward")
GPU_KEYS = ("gpu", "gpu_model", "gres", "cpus_per_gpu", "tasks_per_gpu")
SNAKEMAKE_TIMEOUT_S = 300
SUBMITTED = re.compile(
    r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\."
)


# ---- the real profile, without a cluster ----------------------------------------------------


def load_profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


def test_profile_asks_one_a100_per_gpu_job_and_requeues():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    assert profile["configfile"] == "config/paper.yaml"
    assert profile["slurm-requeue"] is True and profile["retries"] >= 1
    defaults = profile["default-resources"]
    assert {"slurm_account", "slurm_partition", "runtime", "mem_mb"} <= defaults.keys()
    for rule in GPU_RULES:
        resources = profile["set-resources"][rule]
        assert resources["gpu"] == 1 and resources["gpu_model"] == "a100", rule
        assert resources["slurm_partition"] != defaults["slurm_partition"], rule
        assert resources["cpus_per_gpu"] >= 1, rule
        # model-size-dependent: supplied by the rules' resource functions, not the profile
        assert "mem_mb" not in resources and "runtime" not in resources, rule


def test_workflow_profile_does_not_mask_the_slurm_profile():
    """`snakemake --profile profiles/slurm` also loads profiles/default (the workflow profile),
    and a top-level key set there replaces the SLURM profile's key whole: a `default-resources`
    there drops slurm_account and slurm_partition for every job."""
    local_path = REPO / "profiles" / "default" / "config.yaml"
    if not local_path.exists():
        return
    local, slurm = yaml.safe_load(local_path.read_text()) or {}, load_profile()
    masked = {
        key: (local[key], slurm[key]) for key in local.keys() & slurm.keys()
        if local[key] != slurm[key]
    }
    assert not masked, (
        "profiles/default overrides these profiles/slurm entries under "
        f"`snakemake --profile profiles/slurm` (default value, SLURM value): {masked}; move them "
        "out of profiles/default (e.g. into rule resources) or make them agree"
    )


def workflow_rules(configfile: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", str(configfile),
         "--workflow-profile", "none"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_profile_names_only_rules_of_the_workflow():
    """A typo in set-resources is silently ignored by snakemake; catch it here. Some rules exist
    under one config only (evaluate_cell on the paper's, evaluate_policy on the demo's)."""
    rules = workflow_rules(REPO / "config" / "paper.yaml") | workflow_rules(
        REPO / "config" / "config.yaml")
    named = set(load_profile()["set-resources"])
    assert set(GPU_RULES) <= rules, f"GPU rules missing from the workflow: {set(GPU_RULES) - rules}"
    missing = named - rules
    assert not missing, f"profiles/slurm names rules the workflow lacks: {missing}"


# ---- the cluster ---------------------------------------------------------------------------


def unavailable(reason: str) -> None:
    message = f"SLURM TEST NOT RUN: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
    warnings.warn(message)
    print(f"\n!!! {message} !!!", file=sys.stderr)
    pytest.skip(message)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        unavailable("not root: the test cluster's daemons and apt-get need root")
    try:
        ensure_packages()
    except ClusterUnavailable as error:
        unavailable(str(error))
    with LocalSlurmCluster(root=tmp_path_factory.mktemp("slurm")) as running:
        yield running


def derive_test_profile(cluster: LocalSlurmCluster, configfile: str) -> dict:
    """profiles/slurm with its site-specific parts swapped for the local cluster's."""
    profile = load_profile()
    profile["configfile"] = configfile
    profile["default-resources"].update(
        slurm_account=cluster.account, slurm_partition=cluster.partition, mem_mb=500, runtime=10
    )
    for resources in profile["set-resources"].values():
        for key in GPU_KEYS:
            resources.pop(key, None)
        resources["slurm_partition"] = cluster.partition
        if "mem_mb" in resources:
            resources["mem_mb"] = 500      # the demo is tiny; the node may be small
        if "runtime" in resources:
            resources["runtime"] = 10
    profile.update({
        "retries": 0,                                     # fail fast in a test
        "latency-wait": 5,                                # one local file system
        "slurm-init-seconds-before-status-checks": 5,     # poll soon: jobs take seconds here
        "slurm-keep-successful-logs": True,               # the test reads them
    })
    return profile


def run_snakemake(cluster: LocalSlurmCluster, workdir: Path, profile: dict,
                  *args: str) -> tuple[int, str]:
    """Snakemake in its own process group, so a hang ends by that group's id, not by name."""
    profile_dir = workdir / "test-profile"
    profile_dir.mkdir(exist_ok=True)
    (profile_dir / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    log_path = workdir / "snakemake.out"
    env = {**cluster.env, "HF_HUB_OFFLINE": "1"}
    with open(log_path, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--profile", str(profile_dir), *args],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=SNAKEMAKE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(
                f"snakemake --executor slurm did not finish in {SNAKEMAKE_TIMEOUT_S} s (the "
                f"sacct-without-accounting hang?); its output ends:\n"
                f"{log_path.read_text()[-4000:]}"
            )
    return returncode, log_path.read_text()


def submitted_jobs(output: str) -> dict[str, Path]:
    """SLURM job id -> its log file, from the plugin's 'submitted with SLURM jobid' lines."""
    return {slurm_id: Path(log) for _, slurm_id, log in SUBMITTED.findall(output)}


def sacct(cluster: LocalSlurmCluster, job_ids) -> dict[str, dict[str, str]]:
    result = cluster.run(
        "sacct", "-X", "--parsable2", "--noheader", "--jobs", ",".join(job_ids),
        "--format=JobIdRaw,State,Account,JobName,ExitCode",
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line]
    return {
        row[0]: dict(zip(("state", "account", "name", "exit_code"), row[1:])) for row in rows
    }


def rule_of(log: Path) -> str:
    """The plugin writes .snakemake/slurm_logs/rule_<name>/[<wildcards>/]<jobid>.log."""
    return next(p.name.removeprefix("rule_") for p in log.parents if p.name.startswith("rule_"))


# ---- through sbatch: a two-rule workflow that also fails on purpose -------------------------

TOY_SNAKEFILE = """
rule all:
    input: expand("out/{name}.txt", name=["a", "b"]), "out/broken.txt"

rule hello:
    output: "out/{name}.txt"
    shell: "echo $SLURM_JOB_ID > {output}"

rule broken:
    output: "out/broken.txt"
    shell: "exit 3"
"""


def test_jobs_go_through_sbatch_and_failures_come_back(cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE)
    (tmp_path / "config.yaml").write_text("{}\n")
    profile = derive_test_profile(cluster, "config.yaml")

    returncode, output = run_snakemake(
        cluster, tmp_path, profile, "--workflow-profile", "none", "--verbose"
    )

    assert returncode != 0, "a job exited 3 but snakemake reported success"
    sbatch_calls = [line for line in output.splitlines() if "sbatch call: sbatch" in line]
    assert len(sbatch_calls) == 3, output[-4000:]
    for call in sbatch_calls:  # the profile's settings reached sbatch
        for flag in (f"-A {cluster.account}", f"-p {cluster.partition}", "--requeue",
                     "-t 10", "--mem 500"):
            assert f" {flag} " in call, (flag, call)
    jobs = submitted_jobs(output)
    rules = {job_id: rule_of(log) for job_id, log in jobs.items()}
    assert sorted(rules.values()) == ["broken", "hello", "hello"], output[-4000:]
    accounting = sacct(cluster, jobs)
    for job_id, rule in rules.items():
        assert accounting[job_id]["account"] == cluster.account
        expected = "FAILED" if rule == "broken" else "COMPLETED"
        assert accounting[job_id]["state"] == expected, (job_id, rule, accounting[job_id])
    for name in ("a", "b"):
        seen_id = (tmp_path / "out" / f"{name}.txt").read_text().strip()
        assert rules.get(seen_id) == "hello", f"out/{name}.txt was not written by a SLURM job"
    broken_id = next(j for j, r in rules.items() if r == "broken")
    assert f"SLURM-job '{broken_id}' failed, SLURM status is: 'FAILED'" in output
    assert not (tmp_path / "out" / "broken.txt").exists()


# ---- the demo's data stage: dumps -> posts/comments per dump -> threads ---------------------


def demo_workdir(path: Path) -> Path:
    """A fresh working directory that sees the repository's workflow, so the run's
    resources/, results/ and .snakemake/ stay out of the checkout."""
    path.mkdir()
    for name in ("Snakefile", "config", "workflow"):
        (path / name).symlink_to(REPO / name)
    return path


# profiles/default is left out on purpose (--workflow-profile none): what it may override is
# checked by test_workflow_profile_does_not_mask_the_slurm_profile.
THREADS_TARGET = "results/slurmtest/data/threads/manifest.json"
DEMO_ARGS = ("--workflow-profile", "none", "--config", "run=slurmtest", "--", THREADS_TARGET)


def assert_same_parquet(left: Path, right: Path) -> None:
    assert pq.read_table(left).equals(pq.read_table(right)), f"{left} differs from {right}"


def test_demo_data_stage_through_slurm_matches_a_local_run(cluster, tmp_path):
    if not (REPO / "Snakefile").exists():
        pytest.fail("no Snakefile in the repository")
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    on_slurm = demo_workdir(tmp_path / "slurm")
    locally = demo_workdir(tmp_path / "local")

    started = time.monotonic()
    returncode, output = run_snakemake(
        cluster, on_slurm, derive_test_profile(cluster, "config/config.yaml"), *DEMO_ARGS
    )
    assert returncode == 0, output[-6000:]
    print(f"demo data stage through SLURM: {time.monotonic() - started:.0f} s")

    jobs = submitted_jobs(output)
    rules = sorted(rule_of(log) for log in jobs.values())
    expected = sorted(
        ["generate_demo_pushshift", "build_threads"]
        + ["select_posts"] * len(config["reddit"]["submissions"])
        + ["collect_comments"] * len(config["reddit"]["comments"])
    )
    assert rules == expected, output[-6000:]
    accounting = sacct(cluster, jobs)
    assert {row["state"] for row in accounting.values()} == {"COMPLETED"}, accounting
    assert {row["account"] for row in accounting.values()} == {cluster.account}
    assert len({row["name"] for row in accounting.values()}) == 1, "one run, one job name"
    for log in jobs.values():
        assert (on_slurm / log if not log.is_absolute() else log).stat().st_size > 0, log
    print("SLURM job ids:", ", ".join(f"{j} ({rule_of(l)})" for j, l in sorted(jobs.items())))

    local = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/config.yaml",
         *DEMO_ARGS],
        cwd=locally, capture_output=True, text=True, timeout=SNAKEMAKE_TIMEOUT_S,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert local.returncode == 0, local.stderr[-6000:]
    threads_dir = Path("results/slurmtest/data/threads")
    manifest = json.loads((on_slurm / threads_dir / "manifest.json").read_text())
    assert manifest == json.loads((locally / threads_dir / "manifest.json").read_text())
    shards = sorted((on_slurm / threads_dir).glob("shard-*.parquet"))
    assert len(shards) == config["reddit"]["shards"]
    for shard in shards:
        assert_same_parquet(shard, locally / threads_dir / shard.name)
    assert sum(pq.read_metadata(s).num_rows for s in shards) > 0
