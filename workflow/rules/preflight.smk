# Preflight: what no rule can make, and what the run needs from this machine, checked before any job.
# - A configured input that does not exist and that no rule can make stops the workflow at parse
#   time (dry runs too): the DAG could not be complete, and with earlier outputs present Snakemake
#   would silently keep data built from other files.
# - Everything else a run needs from outside (Pushshift dumps, an HF token for gated models, the
#   download hosts, the SLURM account, disk for large downloads on a laptop) is one summary: printed
#   as a warning by a dry run, which still plans the whole DAG, and stopping a real run in `onstart`
#   before its first job. The real run looks only at the jobs it will run (so `snakemake <target>`
#   is not blocked by what other targets need) and contacts the download hosts, with a short timeout,
#   only when it plans downloads. See README.md, "Checks before anything runs".
import dataclasses

from snakemake.logging import logger

from karma.config_checks import ConfigError, stop_on_config_errors
from karma.evaluation.toxicity import DETOXIFY_CHECKPOINT_URL, PERSPECTIVE_KEY_VARIABLE
from karma.preflight import (
    BYTES_PER_PARAMETER,
    Download,
    Machine,
    Plan,
    format_summary,
    hf_endpoint,
    hf_token,
    plan_note,
    preflight_problems,
    probe_url,
)

# Rules that "make" an input only to fail with instructions: the input counts as missing.
PLACEHOLDER_RULES = {"pushshift_dump"}
EVALUATION_RULES = {"evaluate_cell", "evaluate_policy"}


def configured_inputs():
    """(config key, path) of every input file the config names that the DAG will read."""
    inputs = [("reddit.submissions", path) for path in SUBMISSION_DUMPS.values()]
    inputs += [("reddit.comments", path) for path in COMMENT_DUMPS.values()]
    inputs.append(
        ("prompts.ultrachat.source", config["prompts"]["ultrachat"]["source"])
    )
    for name in BENCHMARKS:
        value = config["benchmarks"]["data"][name]
        entries = value.items() if isinstance(value, dict) else [(None, value)]
        for subset, path in entries:
            key = f"benchmarks.data.{name}" + (f".{subset}" if subset else "")
            inputs.append((key, path))
    for path in _scorer_inputs(BENCHMARKS):
        inputs.append(("benchmarks.toxicity", path))
    return inputs


def _missing_inputs():
    """Missing dumps only a placeholder rule 'makes'; raises for inputs that no rule makes."""
    unmakeable, placeholders = [], []
    for key, path in configured_inputs():
        if os.path.exists(path):
            continue
        producers = {rule.name for rule in workflow.rules if rule.is_producer(path)}
        if not producers:
            hint = (
                " (how to get dumps: config/README.md, reddit)"
                if key.startswith("reddit.")
                else ""
            )
            unmakeable.append(
                f"{key}: {path} does not exist and no rule makes it; put the file there or "
                f"fix the path{hint}"
            )
        elif producers <= PLACEHOLDER_RULES:
            placeholders.append(path)
    if unmakeable:
        raise ConfigError(unmakeable)
    return placeholders


def _model_download(name):
    model = config["models"][name]
    params_b = model.get("params_b")
    return Download(
        output=model_dir(name),
        what=f"model {name} ({model['hub']})",
        url=f"{hf_endpoint()}/{model['hub']}",
        gated_repo=model["hub"] if model.get("gated") else None,
        revision=model.get("revision"),
        size_gb=params_b * BYTES_PER_PARAMETER if params_b else None,
    )


def configured_downloads():
    """Every download a local rule may run for this config, with the path that rule writes."""
    if config["demo"]["enabled"]:
        return []
    hub = hf_endpoint()
    used = [*POLICIES, config["reward"]["backbone"]]
    downloads = [
        _model_download(name)
        for name in dict.fromkeys(used)
        if "hub" in config["models"][name]
    ]
    downloads.append(
        Download(
            output=config["prompts"]["ultrachat"]["source"],
            what=f"dataset {ULTRACHAT_REPO}",
            url=f"{hub}/datasets/{ULTRACHAT_REPO}",
        )
    )
    data_paths = set(_benchmark_inputs(BENCHMARKS))
    for file, source in config["benchmarks"].get("downloads", {}).items():
        if f"resources/benchmarks/{file}" in data_paths:
            downloads.append(
                Download(
                    output=f"resources/benchmarks/{file}",
                    what=f"benchmark file {file} ({source['repo']})",
                    url=f"{hub}/datasets/{source['repo']}",
                )
            )
    if _scorer_inputs(BENCHMARKS):
        toxicity = config["benchmarks"]["toxicity"]
        downloads.append(
            Download(
                output=toxicity["detoxify_checkpoint"],
                what="Detoxify checkpoint",
                url=DETOXIFY_CHECKPOINT_URL,
            )
        )
        downloads.append(
            Download(
                output=toxicity["detoxify_config_dir"],
                what=f"model files of {DETOXIFY_CONFIG_REPO}",
                url=f"{hub}/{DETOXIFY_CONFIG_REPO}",
            )
        )
    return downloads


def configured_secrets():
    toxicity = config["benchmarks"]["toxicity"]
    if "toxicity" in BENCHMARKS and toxicity.get("scorer") == "perspective":
        return {PERSPECTIVE_KEY_VARIABLE: "benchmarks.toxicity.scorer: perspective"}
    return {}


def _configured_accounts():
    """slurm_account of the profile's default-resources and set-resources (a dry run's view)."""
    settings = workflow.resource_settings
    accounts = {}
    for where, resources in [
        ("default-resources", settings.default_resources),
        *(
            (f"set-resources: {rule}", res)
            for rule, res in settings.overwrite_resources.items()
        ),
    ]:
        account = resources.get("slurm_account") if resources is not None else None
        if account is not None and account.raw is not None:
            accounts[where] = account.raw
    return accounts


def _judge(plan, *, dry_run):
    machine = Machine.detect()
    problems = preflight_problems(
        plan,
        machine,
        token=hf_token(),
        probe=None if dry_run else probe_url,
    )
    if problems:
        return format_summary(problems, dry_run=dry_run)
    logger.info(plan_note(plan, machine, probed=not dry_run))
    return None


# Everything the config may need from outside; a dry run and a real run each take their part.
with stop_on_config_errors():
    CONFIGURED_NEEDS = Plan(
        missing_dumps=_missing_inputs(),
        downloads=configured_downloads(),
        secrets=configured_secrets(),
    )
    if workflow.is_main_process and workflow.output_settings.dryrun:
        # The dry run's view: downloads whose output is missing, accounts as configured.
        summary = _judge(
            dataclasses.replace(
                CONFIGURED_NEEDS,
                downloads=[
                    d
                    for d in CONFIGURED_NEEDS.downloads
                    if not os.path.exists(d.output)
                ],
                slurm_accounts=_configured_accounts(),
            ),
            dry_run=True,
        )
        if summary:
            logger.warning(summary)


def preflight_before_first_job():
    """The real run's check, on the jobs it will run; stops it (exit 1) with the summary."""
    if workflow.touch or not workflow.is_main_process:
        return
    jobs = list(workflow.dag.needrun_jobs())
    outputs = {str(path) for job in jobs for path in job.output}
    toxicity_planned = any(
        job.rule.name in EVALUATION_RULES
        and job.wildcards.get("benchmark", "toxicity") == "toxicity"
        for job in jobs
    )
    accounts = {
        job.rule.name: job.resources.get("slurm_account")
        for job in jobs
        if not job.is_local and job.resources.get("slurm_account") is not None
    }
    plan = dataclasses.replace(
        CONFIGURED_NEEDS.restricted_to(outputs, secrets_needed=toxicity_planned),
        slurm_accounts=accounts,
    )
    with stop_on_config_errors():
        summary = _judge(plan, dry_run=False)
    if summary:
        raise SystemExit(summary)


onstart:
    preflight_before_first_job()
