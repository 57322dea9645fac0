from karma.hub_fetch import fetch_dataset_split
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
fetch_dataset_split(snakemake.params.repo, snakemake.params.split, snakemake.output[0],
                    revision=snakemake.params.revision)
