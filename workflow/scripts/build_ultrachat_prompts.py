from karma.data.prompts import build_ultrachat_prompts
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
build_ultrachat_prompts(
    snakemake.input[0],
    snakemake.output[0],
    seed=snakemake.params.seed,
    max_prompts=snakemake.params.max_prompts,
    mode=snakemake.params.mode,
    max_turn_chars=snakemake.params.max_turn_chars,
    heldout_fraction=snakemake.params.heldout_fraction,
)
