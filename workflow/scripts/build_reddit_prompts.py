from karma.data.prompts import build_reddit_prompts
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
build_reddit_prompts(
    snakemake.input.shards,
    snakemake.output[0],
    seed=snakemake.params.seed,
    test_fraction=snakemake.params.test_fraction,
    max_prompts=snakemake.params.max_prompts,
    max_turn_chars=snakemake.params.max_turn_chars,
)
