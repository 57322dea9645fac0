from karma.comment_collection import collect_comments
from karma.job_logging import setup_job_logging
from karma.reddit_filters import RedditFilters

setup_job_logging(snakemake.log[0])
collect_comments(
    snakemake.input.dump,
    snakemake.input.posts,
    snakemake.output.comments,
    snakemake.output.counts,
    RedditFilters.from_config(snakemake.params.filters),
)
