from karma.data.comment_collection import collect_comments
from karma.data.filters import RedditFilters
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
collect_comments(
    snakemake.input.dump,
    snakemake.input.posts,
    snakemake.output.comments,
    snakemake.output.counts,
    RedditFilters.from_config(snakemake.params.filters),
    verified=snakemake.input.verified,
)
