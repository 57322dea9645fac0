from karma.evaluation.karma_reward import evaluate_karma_reward
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
evaluate_karma_reward(
    snakemake.input.model,
    snakemake.input.prompts,
    {"generalized": snakemake.input.generalized, "conditioned": snakemake.input.conditioned},
    snakemake.output[0],
    policy=snakemake.wildcards.policy,
    variant=snakemake.wildcards.variant,
    config=snakemake.params.config,
    threads=snakemake.threads,
)
