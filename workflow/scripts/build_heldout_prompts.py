from karma.data.prompts import build_heldout_prompts
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
params = snakemake.params
build_heldout_prompts(
    snakemake.input.shards,
    snakemake.input.ultrachat,
    snakemake.output[0],
    seed=params.seed,
    test_fraction=params.test_fraction,
    heldout_fraction=params.heldout_fraction,
    reddit_prompts=params.counts["reddit"],
    ultrachat_prompts=params.counts["ultrachat"],
    mode=params.mode,
    max_turn_chars=params.max_turn_chars,
)
