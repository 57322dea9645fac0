from karma.job_logging import setup_job_logging
from karma.report.significance import SignificanceOptions
from karma.report.tables import write_all_tables

setup_job_logging(snakemake.log[0])
params = snakemake.params
write_all_tables(
    snakemake.input.cells,
    params.out_dir,
    SignificanceOptions.from_config(params.statistics),
    reward_metrics=dict(zip(params.settings, snakemake.input.reward)),
    policy_order=params.policy_order,
    paper_policy_map=params.paper_policy_map,
    ppo_summaries=snakemake.input.ppo_summaries,
    threads_manifest=snakemake.input.threads_manifest,
    example_stats=dict(zip(params.example_settings, snakemake.input.example_stats, strict=True)),
)
