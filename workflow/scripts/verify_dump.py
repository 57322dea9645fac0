from karma.file_digest import verify_and_record
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
verify_and_record(snakemake.input[0], snakemake.params.sha256, snakemake.output[0],
                  f"reddit.sha256 of {snakemake.wildcards.dump}")
