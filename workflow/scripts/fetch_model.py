from karma.hub_fetch import fetch_model
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
fetch_model(snakemake.params.repo, snakemake.output[0], revision=snakemake.params.revision)
