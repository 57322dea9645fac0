"""Preflight: what a run is missing, judged against a machine, in one short summary."""

import json
import os
import subprocess
import sys

import pytest

from karma.config_checks import ConfigError
from karma.preflight import (
    Download,
    Machine,
    Plan,
    Problem,
    format_summary,
    hf_token,
    missing_dump_message,
    plan_note,
    preflight_problems,
    probe_url,
)

LLAMA = Download("resources/models/llama", "model llama (meta-llama/Llama-3.2-1B)",
                 "https://huggingface.co/meta-llama/Llama-3.2-1B", gated_repo="meta-llama/Llama-3.2-1B",
                 size_gb=2.5)
PYTHIA = Download("resources/models/pythia", "model pythia (EleutherAI/pythia-6.9b)",
                  "https://huggingface.co/EleutherAI/pythia-6.9b", size_gb=13.8)
DETOXIFY = Download("resources/detoxify/x.ckpt", "Detoxify checkpoint",
                    "https://github.com/unitaryai/detoxify/releases/download/v0.1-alpha/x.ckpt")
LOGIN = Machine(True, "sbatch is on PATH")
LAPTOP = Machine(False, "no sbatch on PATH: a laptop or workstation")


class FakeProbe:
    """Answers by URL prefix and records every call (no test touches the network)."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.calls = []

    def __call__(self, url, headers):
        self.calls.append((url, dict(headers)))
        return next((status for prefix, status in self.answers.items() if url.startswith(prefix)), 200)


def titles(found):
    return [problem.title for problem in found]


# ---- the machine -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "sbatch", "login", "reason"),
    [
        ({}, "/usr/bin/sbatch", True, "sbatch is on PATH"),
        ({}, None, False, "no sbatch on PATH"),
        ({"SLURM_JOB_ID": "42"}, "/usr/bin/sbatch", False, "inside SLURM job 42"),
        ({"KARMA_LOGIN_NODE": "1", "SLURM_JOB_ID": "42"}, None, True, "KARMA_LOGIN_NODE is set"),
        ({"KARMA_LOGIN_NODE": "no"}, "/usr/bin/sbatch", False, "KARMA_LOGIN_NODE=no"),
    ],
)
def test_login_node_detection(environ, sbatch, login, reason):
    machine = Machine.detect(environ, which=lambda name: sbatch)
    assert machine.login_node is login and reason in machine.reason


def test_download_limit_comes_from_the_environment():
    assert Machine.detect({"KARMA_MAX_DOWNLOAD_GB": "60"}, which=lambda n: None).max_download_gb == 60
    with pytest.raises(ConfigError, match="KARMA_MAX_DOWNLOAD_GB must be a number of GB, got 'lots'"):
        Machine.detect({"KARMA_MAX_DOWNLOAD_GB": "lots"}, which=lambda n: None)


# ---- each kind of problem ----------------------------------------------------------------------


def test_nothing_planned_is_nothing_wrong_and_touches_no_network():
    probe = FakeProbe()
    assert preflight_problems(Plan(), LAPTOP, token=None, probe=probe, environ={}) == []
    assert probe.calls == []


def test_missing_dumps_come_with_the_pushshift_instructions():
    [problem] = preflight_problems(Plan(missing_dumps=["resources/pushshift/RS_2023-01.zst"]), LOGIN,
                                   token=None, environ={})
    assert problem.items == ["resources/pushshift/RS_2023-01.zst"]
    assert "academictorrents.com" in problem.todo and "reddit.submissions" in problem.todo


def test_gated_models_need_a_token():
    [problem] = preflight_problems(Plan(downloads=[LLAMA, PYTHIA]), LOGIN, token=None, environ={})
    assert problem.title == "Gated models need a Hugging Face token, and none is set"
    assert problem.items == ["model llama (meta-llama/Llama-3.2-1B)"] and "HF_TOKEN" in problem.todo


def test_a_token_without_access_to_a_gated_model_is_caught_and_never_shown():
    probe = FakeProbe({"https://huggingface.co/meta-llama": 403})
    plan = Plan(downloads=[LLAMA, PYTHIA])
    [problem] = preflight_problems(plan, LOGIN, token="hf_secret", probe=probe, environ={})
    assert problem.items == ["model llama (meta-llama/Llama-3.2-1B): HTTP 403"]
    assert ("https://huggingface.co/meta-llama/Llama-3.2-1B/resolve/main/config.json",
            {"Authorization": "Bearer hf_secret"}) in probe.calls
    assert "hf_secret" not in format_summary([problem], dry_run=False)
    assert preflight_problems(plan, LOGIN, token="hf_secret", probe=FakeProbe(), environ={}) == []


def test_each_download_host_is_probed_once():
    probe = FakeProbe({"https://github.com": "Name or service not known"})
    [problem] = preflight_problems(Plan(downloads=[PYTHIA, DETOXIFY, PYTHIA]), LOGIN, token=None,
                                   probe=probe, environ={})
    assert [url for url, _ in probe.calls] == ["https://huggingface.co", "https://github.com"]
    assert problem.title == "Download hosts not reachable from this machine"
    assert problem.items == ["https://github.com: Name or service not known (1 planned download)"]


def test_offline_switches_with_planned_downloads_are_named_without_probing():
    probe = FakeProbe()
    [problem] = preflight_problems(Plan(downloads=[PYTHIA]), LOGIN, token=None, probe=probe,
                                   environ={"HF_HUB_OFFLINE": "1"})
    assert problem.title == "HF_HUB_OFFLINE set, but 1 downloads are planned" and probe.calls == []


def test_large_downloads_off_a_login_node():
    plan = Plan(downloads=[LLAMA, PYTHIA])
    found = preflight_problems(plan, LAPTOP, token="t", environ={})
    assert titles(found) == ["16.3 GB of model weights to download on a machine that is not a login node"]
    assert found[0].items == ["this machine: no sbatch on PATH: a laptop or workstation; allowed off a "
                              "login node: 10.0 GB",
                              "model pythia (EleutherAI/pythia-6.9b): ~13.8 GB",
                              "model llama (meta-llama/Llama-3.2-1B): ~2.5 GB"]
    assert preflight_problems(plan, LOGIN, token="t", environ={}) == []
    roomy = Machine(False, "KARMA_LOGIN_NODE=0", max_download_gb=20)
    assert preflight_problems(plan, roomy, token="t", environ={}) == []


def test_the_slurm_account_placeholder():
    plan = Plan(slurm_accounts={"train_policy": "CHANGE_ME", "default-resources": "CHANGE_ME", "x": "lab42"})
    [problem] = preflight_problems(plan, LOGIN, token=None, environ={})
    assert problem.items == ["slurm_account of default-resources, train_policy"]
    assert "slurm-no-account" in problem.todo


def test_secrets_are_checked_by_name_only():
    plan = Plan(secrets={"PERSPECTIVE_API_KEY": "benchmarks.toxicity.scorer: perspective"})
    [problem] = preflight_problems(plan, LOGIN, token=None, environ={})
    assert problem.items == ["PERSPECTIVE_API_KEY (for benchmarks.toxicity.scorer: perspective)"]
    assert preflight_problems(plan, LOGIN, token=None, environ={"PERSPECTIVE_API_KEY": "k"}) == []


def test_a_plan_restricted_to_the_jobs_that_run():
    plan = Plan(missing_dumps=["resources/pushshift/RS_1.zst", "resources/pushshift/RC_1.zst"],
                downloads=[LLAMA, PYTHIA], slurm_accounts={"a": "b"}, secrets={"K": "x"})
    part = plan.restricted_to({"resources/pushshift/RS_1.zst", "resources/models/pythia"}, secrets_needed=False)
    assert part == Plan(missing_dumps=["resources/pushshift/RS_1.zst"], downloads=[PYTHIA],
                        slurm_accounts={"a": "b"}, secrets={})


# ---- what the user reads -----------------------------------------------------------------------


def test_the_summary_is_numbered_wrapped_and_says_what_happens():
    problems = [Problem("First", ["resources/pushshift/RS_2023-01.zst"], "Do this. " * 30),
                Problem("Second", ["x"], "one\ntwo")]
    real = format_summary(problems, dry_run=False)
    assert real.startswith("Preflight: 2 problem(s); no job was started:\n\n  1. First:\n")
    assert "\n  2. Second:\n     - x\n   What to do:\n     one\n     two" in real
    assert max(len(line) for line in real.splitlines()) <= 100
    dry = " ".join(format_summary(problems, dry_run=True).split())
    assert "This dry run plans the whole DAG anyway; a real run stops before its first job" in dry


def test_the_ok_line_says_what_was_checked():
    assert plan_note(Plan(), LOGIN, probed=False) == "Preflight: ok (no downloads planned)."
    note = plan_note(Plan(downloads=[PYTHIA, DETOXIFY]), LOGIN, probed=True)
    assert "2 downloads planned (~13.8 GB" in note and "reachable: https://huggingface.co, https://github.com" in note


def test_the_placeholder_rules_message():
    message = missing_dump_message("resources/pushshift/RC_2023-02.zst")
    assert message.startswith("Pushshift dump RC_2023-02.zst is missing at resources/pushshift/RC_2023-02.zst.")
    assert "https://academictorrents.com/details/" in message


def test_an_unreachable_host_gives_a_reason_not_an_exception():
    status = probe_url("http://127.0.0.1:9/", {}, timeout=2)   # the discard port: nothing listens
    assert isinstance(status, str) and status


@pytest.mark.parametrize("case", ["env", "home", "path", "none"])
def test_the_token_lookup_agrees_with_huggingface_hub(tmp_path, case):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env["HF_HOME"] = str(tmp_path / "home")
    if case == "env":
        env["HF_TOKEN"] = "hf_from_env"
    elif case == "home":
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "token").write_text("hf_from_home\n")
    elif case == "path":
        (tmp_path / "elsewhere").write_text("hf_from_path")
        env["HF_TOKEN_PATH"] = str(tmp_path / "elsewhere")
    theirs = subprocess.run(
        [sys.executable, "-c", "import json; from huggingface_hub import get_token; print(json.dumps(get_token()))"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert hf_token(env) == json.loads(theirs)
