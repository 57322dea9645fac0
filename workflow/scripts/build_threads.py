from karma.data.filters import RedditFilters
from karma.data.threads import ThreadOptions, build_threads
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
params = snakemake.params
build_threads(
    snakemake.input.posts,
    snakemake.input.post_counts,
    snakemake.input.comments,
    snakemake.input.comment_counts,
    snakemake.output.shards,
    snakemake.output.manifest,
    RedditFilters.from_config(params.filters),
    ThreadOptions(
        max_posts=params.max_posts,
        n_shards=len(snakemake.output.shards),
        seed=params.seed,
        max_parents=params.max_parents,
        max_siblings=params.max_siblings,
        candidate_fraction=params.candidate_fraction,
    ),
)
