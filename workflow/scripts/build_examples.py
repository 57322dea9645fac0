from karma.data.examples import build_examples
from karma.data.labels import LabelRule
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
build_examples(
    snakemake.input.shards,
    snakemake.wildcards.setting,
    snakemake.output.train,
    snakemake.output.test,
    snakemake.output.stats,
    LabelRule.from_config(snakemake.params.label),
    seed=snakemake.params.seed,
    test_fraction=snakemake.params.test_fraction,
    max_turn_chars=snakemake.params.max_turn_chars,
)
