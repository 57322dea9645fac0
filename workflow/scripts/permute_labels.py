from karma.data.examples import permute_labels
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
permute_labels(snakemake.input[0], snakemake.output[0], seed=snakemake.params.seed)
