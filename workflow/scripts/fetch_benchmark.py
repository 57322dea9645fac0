from karma.hub_fetch import fetch_benchmark_source
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
fetch_benchmark_source(snakemake.params.source, snakemake.output[0])
