from pathlib import Path

from karma.evaluation.lm_eval_runner import benchmark_specs, evaluate_policy
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
run = snakemake.params.run
outputs = {Path(path).stem: path for path in snakemake.output}
evaluate_policy(
    snakemake.input.model,
    snakemake.wildcards.policy,
    snakemake.wildcards.variant,
    benchmark_specs(
        {
            name: {"data": run["data"][name], "primary_metric": run["metrics"][name]}
            for name in outputs
        }
    ),
    outputs,
    device=run["device"],
    batch_size=run["batch_size"],
    limits=run["limits"],
    toxicity_cfg=run["toxicity"],
    dtype=run["dtype"],
    threads=snakemake.threads,
    run_config=snakemake.config,
)
