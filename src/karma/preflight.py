"""Preflight: inputs no rule can make, and what a run needs from the machine, checked before any job.

A paper run with nothing downloaded used to fail job by job: each failing twice (retries), hub
fetches with long tracebacks, the Pushshift instructions buried hundreds of lines down. This module
turns what a run is missing into one short summary, each item with what to do:

- Pushshift dumps (the workflow cannot download them);
- gated hub models without a Hugging Face token;
- the hosts that planned downloads come from, reachable from this machine (short timeout);
- a SLURM account left at the profile's placeholder;
- large downloads on a machine that does not look like a cluster login node;
- API keys a planned scorer reads from the environment.

The workflow builds a :class:`Plan` (what will be downloaded, which dumps are missing, which SLURM
accounts jobs carry), and :func:`preflight_problems` judges it against this :class:`Machine`.
Nothing here reads or prints a secret's value: only whether it is set.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from karma.config_checks import ConfigError

HF_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 5.0
DEFAULT_MAX_DOWNLOAD_GB = 10.0
ACCOUNT_PLACEHOLDER = "CHANGE_ME"
# bf16/fp16 safetensors: two bytes per parameter.
BYTES_PER_PARAMETER = 2
WIDTH = 100
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

PUSHSHIFT_ARCHIVE = "https://academictorrents.com/details/9c263fc85366c1ef8f5bb9da0203f4c8c8db75f4"
PUSHSHIFT_INSTRUCTIONS = f"""\
Reddit dumps cannot be fetched by the workflow. To obtain them:
1. Download the monthly files (RS_YYYY-MM.zst for submissions, RC_YYYY-MM.zst for comments) from the Pushshift archive on Academic Torrents ("Reddit comments/submissions 2005-06 to 2023-12", {PUSHSHIFT_ARCHIVE}) or your institution's mirror.
2. Place them under resources/pushshift/ (or symlink them there), keeping their file names.
3. List them in your config under reddit.submissions / reddit.comments, then re-run."""  # noqa: E501


def missing_dump_message(path: str | Path) -> str:
    """What the ``pushshift_dump`` rule says if a job ever asks for a dump (preflight stops first)."""
    path = Path(path)
    steps = "\n".join(_wrap(line, "", "   ") for line in PUSHSHIFT_INSTRUCTIONS.splitlines())
    return f"Pushshift dump {path.name} is missing at {path}.\n\n{steps}\n"


@dataclass(frozen=True)
class Download:
    """One download a local rule would run: ``output`` is the path that rule writes."""

    output: str
    what: str
    url: str
    gated_repo: str | None = None
    revision: str | None = None
    size_gb: float | None = None


@dataclass(frozen=True)
class Plan:
    """What a run would do that needs something from outside: a subset of the config, as planned."""

    missing_dumps: Sequence[str] = ()
    downloads: Sequence[Download] = ()
    # where (e.g. "default-resources" or a rule name) -> the slurm_account jobs are submitted with
    slurm_accounts: Mapping[str, str] = field(default_factory=dict)
    # environment variable -> the config setting that needs it
    secrets: Mapping[str, str] = field(default_factory=dict)

    def restricted_to(self, outputs: set[str], secrets_needed: bool) -> Plan:
        """The part of this plan that a set of jobs (their output paths) will actually run."""
        return Plan(
            missing_dumps=[path for path in self.missing_dumps if path in outputs],
            downloads=[d for d in self.downloads if d.output in outputs],
            slurm_accounts=self.slurm_accounts,
            secrets=self.secrets if secrets_needed else {},
        )


@dataclass(frozen=True)
class Machine:
    """Whether this machine is a cluster login node, and why we think so."""

    login_node: bool
    reason: str
    max_download_gb: float = DEFAULT_MAX_DOWNLOAD_GB

    @classmethod
    def detect(cls, environ: Mapping[str, str] = os.environ,
               which: Callable[[str], str | None] = shutil.which) -> Machine:
        """``KARMA_LOGIN_NODE`` (1/0) decides when set; else inside a SLURM job (``SLURM_JOB_ID``) is
        a compute node, ``sbatch`` on PATH a login node, anything else a laptop or workstation.
        ``KARMA_MAX_DOWNLOAD_GB`` sets the size allowed off a login node."""
        limit = _download_limit(environ)
        override = environ.get("KARMA_LOGIN_NODE", "").strip().lower()
        if override in TRUE_WORDS:
            return cls(True, "KARMA_LOGIN_NODE is set", limit)
        if override in FALSE_WORDS:
            return cls(False, f"KARMA_LOGIN_NODE={override}", limit)
        if environ.get("SLURM_JOB_ID"):
            return cls(False, f"inside SLURM job {environ['SLURM_JOB_ID']}, i.e. on a compute node", limit)
        if which("sbatch"):
            return cls(True, "sbatch is on PATH", limit)
        return cls(False, "no sbatch on PATH: a laptop or workstation", limit)


def _download_limit(environ: Mapping[str, str]) -> float:
    raw = environ.get("KARMA_MAX_DOWNLOAD_GB", "").strip()
    if not raw:
        return DEFAULT_MAX_DOWNLOAD_GB
    try:
        return float(raw)
    except ValueError:
        raise ConfigError([f"KARMA_MAX_DOWNLOAD_GB must be a number of GB, got {raw!r}"]) from None


@dataclass(frozen=True)
class Problem:
    """One summary item: what is wrong, the things it concerns, and what to do."""

    title: str
    items: Sequence[str]
    todo: str


Probe = Callable[[str, Mapping[str, str]], int | str]


def probe_url(url: str, headers: Mapping[str, str], timeout: float = PROBE_TIMEOUT_S) -> int | str:
    """The HTTP status of a HEAD request, or a short reason when the host cannot be reached."""
    request = urllib.request.Request(url, method="HEAD", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        text = reason if isinstance(reason, str) else getattr(reason, "strerror", None) or str(reason)
        return text or type(reason).__name__


def hf_token(environ: Mapping[str, str] = os.environ) -> str | None:
    """The token huggingface_hub would send: ``HF_TOKEN``, else the file ``hf auth login`` writes
    (``HF_TOKEN_PATH``, default ``$HF_HOME/token``). Read here, not through huggingface_hub, whose
    import costs half a second of every Snakemake parse."""
    for variable in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if environ.get(variable, "").strip():
            return environ[variable].strip()
    cache = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    home = environ.get("HF_HOME") or os.path.join(cache, "huggingface")
    path = Path(environ.get("HF_TOKEN_PATH") or os.path.join(home, "token"))
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def hf_endpoint(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("HF_ENDPOINT", HF_ENDPOINT).rstrip("/")


def _host(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _gb(size: float) -> str:
    return f"{size:.1f} GB"


def _dump_problems(plan: Plan) -> list[Problem]:
    if not plan.missing_dumps:
        return []
    return [Problem("Pushshift dumps missing (reddit.submissions / reddit.comments)",
                    list(plan.missing_dumps), PUSHSHIFT_INSTRUCTIONS)]


def _token_problems(plan: Plan, token: str | None, probe: Probe | None, environ: Mapping[str, str]) -> list[Problem]:
    gated = [d for d in plan.downloads if d.gated_repo]
    if not gated:
        return []
    if not token:
        return [Problem(
            "Gated models need a Hugging Face token, and none is set",
            [d.what for d in gated],
            "Accept each model's licence on its hub page, create a read token "
            "(https://huggingface.co/settings/tokens), then `export HF_TOKEN=<token>` in the shell "
            "that runs snakemake (or `hf auth login`). Never put the token in a config file.",
        )]
    if probe is None:
        return []
    refused = []
    for download in gated:
        revision = download.revision or "main"
        url = f"{hf_endpoint(environ)}/{download.gated_repo}/resolve/{revision}/config.json"
        status = probe(url, {"Authorization": f"Bearer {token}"})
        if status in (401, 403):
            refused.append(f"{download.what}: HTTP {status}")
    if not refused:
        return []
    return [Problem("The Hugging Face token has no access to these gated models", refused,
                    "Open each model's hub page while logged in with the token's account and "
                    "accept its licence (approval can take a while), then re-run.")]


def _reachability_problems(plan: Plan, probe: Probe | None, environ: Mapping[str, str]) -> list[Problem]:
    if not plan.downloads:
        return []
    offline = [name for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
               if environ.get(name, "").strip().lower() in TRUE_WORDS]
    if offline:
        return [Problem(f"{' and '.join(offline)} set, but {len(plan.downloads)} downloads are planned",
                        [d.what for d in plan.downloads],
                        f"Unset {' and '.join(offline)} in the shell that runs snakemake (downloads run "
                        "as local rules on this machine), or fetch the files elsewhere and copy them "
                        "to the paths listed in config/README.md.")]
    if probe is None:
        return []
    unreachable = []
    for host in dict.fromkeys(_host(d.url) for d in plan.downloads):
        status = probe(host, {})
        if isinstance(status, str):
            needing = sum(_host(d.url) == host for d in plan.downloads)
            unreachable.append(f"{host}: {status} ({needing} planned download{'s' if needing > 1 else ''})")
    if not unreachable:
        return []
    return [Problem("Download hosts not reachable from this machine", unreachable,
                    "Downloads run as local rules where snakemake runs: start it on a login node "
                    "with internet access (compute nodes are often offline), or fetch on a machine "
                    "that has it and copy resources/ here.")]


def _size_problems(plan: Plan, machine: Machine) -> list[Problem]:
    sized = sorted((d for d in plan.downloads if d.size_gb), key=lambda d: -(d.size_gb or 0))
    total = sum(d.size_gb or 0 for d in sized)
    if machine.login_node or total <= machine.max_download_gb:
        return []
    return [Problem(
        f"{_gb(total)} of model weights to download on a machine that is not a login node",
        [f"this machine: {machine.reason}; allowed off a login node: {_gb(machine.max_download_gb)}",
         *(f"{d.what}: ~{_gb(d.size_gb or 0)}" for d in sized)],
        "Run the paper config from your cluster's login node. If this machine is one, or you mean to "
        "download here, set KARMA_LOGIN_NODE=1 or raise KARMA_MAX_DOWNLOAD_GB.",
    )]


def _account_problems(plan: Plan) -> list[Problem]:
    placeholders = sorted(where for where, account in plan.slurm_accounts.items()
                          if str(account).strip() == ACCOUNT_PLACEHOLDER)
    if not placeholders:
        return []
    return [Problem(f"SLURM account left at {ACCOUNT_PLACEHOLDER} (profiles/slurm/config.yaml)",
                    [f"slurm_account of {', '.join(placeholders)}"],
                    "Set default-resources: slurm_account to your account (`sacctmgr show assoc "
                    "user=$USER format=account`), or delete it and add `slurm-no-account: true` if "
                    "your site has no accounts.")]


def _secret_problems(plan: Plan, environ: Mapping[str, str]) -> list[Problem]:
    missing = [f"{variable} (for {setting})" for variable, setting in plan.secrets.items()
               if not environ.get(variable)]
    if not missing:
        return []
    return [Problem("Environment variables that planned jobs need are not set", missing,
                    "Export them in the shell that runs snakemake (jobs inherit its environment); "
                    "never put keys in a config file.")]


def preflight_problems(plan: Plan, machine: Machine, *, token: str | None,
                       probe: Probe | None = None, environ: Mapping[str, str] = os.environ) -> list[Problem]:
    """Everything in ``plan`` that would make a job fail or do what the user did not mean.

    ``probe`` (e.g. :func:`probe_url`) is called only when downloads are planned: once per host,
    and once per gated model when a token is set. Without it (a dry run) nothing touches the network.
    """
    return [
        *_dump_problems(plan),
        *_token_problems(plan, token, probe, environ),
        *_reachability_problems(plan, probe, environ),
        *_size_problems(plan, machine),
        *_account_problems(plan),
        *_secret_problems(plan, environ),
    ]


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    """Wrapped at :data:`WIDTH`; URLs and paths are never split."""
    return textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)


def format_summary(problems: Sequence[Problem], *, dry_run: bool) -> str:
    """One short, readable summary: every problem, the things it concerns, and what to do."""
    if dry_run:
        head = (f"Preflight: {len(problems)} problem(s). This dry run plans the whole DAG anyway; "
                "a real run stops before its first job until they are fixed:")
    else:
        head = f"Preflight: {len(problems)} problem(s); no job was started:"
    blocks = [_wrap(head)]
    for number, problem in enumerate(problems, 1):
        lines = [_wrap(f"{number}. {problem.title}:", "  ", "     ")]
        lines += [_wrap(item, "     - ", "       ") for item in problem.items]
        lines.append("   What to do:")
        # numbered steps hang under their text; prose lines wrap flush
        lines += [_wrap(line, "     ", "        " if line[:1].isdigit() else "     ")
                  for line in problem.todo.splitlines()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def plan_note(plan: Plan, machine: Machine, *, probed: bool) -> str:
    """The one line printed when nothing is wrong (so a user sees the check happened)."""
    if not plan.downloads:
        return "Preflight: ok (no downloads planned)."
    total = sum(d.size_gb or 0 for d in plan.downloads)
    hosts = ", ".join(dict.fromkeys(_host(d.url) for d in plan.downloads))
    checked = f"reachable: {hosts}" if probed else f"not contacted in a dry run: {hosts}"
    return (f"Preflight: ok; {len(plan.downloads)} downloads planned (~{_gb(total)} of model weights; "
            f"{checked}; this machine: {machine.reason}).")
