from karma.data.filters import RedditFilters
from karma.data.post_selection import select_posts
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
select_posts(
    snakemake.input.dump,
    snakemake.output.posts,
    snakemake.output.counts,
    RedditFilters.from_config(snakemake.params.filters),
    seed=snakemake.params.seed,
    candidate_fraction=snakemake.params.candidate_fraction,
    verified=snakemake.input.verified,
)
