from karma.demo.pretraining import pretrain_policy
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
pretrain_policy(
    snakemake.input.init,
    snakemake.input.train,
    snakemake.input.test,
    snakemake.output.model,
    snakemake.output.report,
    snakemake.params.checkpoints,
    snakemake.params.config,
    threads=snakemake.threads,
    run_config=snakemake.config,
)
