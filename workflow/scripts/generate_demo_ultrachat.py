from pathlib import Path

from karma.demo.ultrachat import write_demo_ultrachat
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
write_demo_ultrachat(
    Path(snakemake.output[0]),
    seed=snakemake.params.seed,
    n_prompts=snakemake.params.n_prompts,
)
