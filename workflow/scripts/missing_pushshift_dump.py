from karma.preflight import missing_dump_message
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
raise SystemExit(missing_dump_message(snakemake.output[0]))
