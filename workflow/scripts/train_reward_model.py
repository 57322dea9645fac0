from karma.job_logging import setup_job_logging
from karma.reward.training import train_reward_model

setup_job_logging(snakemake.log[0])
train_reward_model(
    snakemake.input.train,
    snakemake.input.test,
    snakemake.output.model,
    snakemake.output.metrics,
    snakemake.params.checkpoints,
    snakemake.params.training,
    backbone=snakemake.input.backbone,
    threads=snakemake.threads,
    examples_stats=snakemake.input.stats,
    run_config=snakemake.config,
)
