from karma.data.prompts import sample_prompt_metadata
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
sample_prompt_metadata(
    snakemake.input.prompts,
    snakemake.input.examples,
    snakemake.output[0],
    seed=snakemake.params.seed,
)
