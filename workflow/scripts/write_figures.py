from karma.job_logging import setup_job_logging
from karma.report.figures import write_all_figures
from karma.report.significance import SignificanceOptions

setup_job_logging(snakemake.log[0])
params = snakemake.params
write_all_figures(
    snakemake.input.cells,
    params.out_dir,
    SignificanceOptions.from_config(params.statistics),
    reward_metrics=dict(zip(params.settings, snakemake.input.reward)),
    train_logs=snakemake.input.train_logs,
    policy_order=params.policy_order,
)
