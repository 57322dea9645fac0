from karma.job_logging import setup_job_logging
from karma.ppo.training import export_base_policy

setup_job_logging(snakemake.log[0])
export_base_policy(snakemake.input.policy, snakemake.output.model,
                   policy_name=snakemake.wildcards.policy, source=snakemake.params.source,
                   run_config=snakemake.config)
