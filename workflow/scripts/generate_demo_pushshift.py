from pathlib import Path

from karma.demo.pushshift_writer import write_demo_pushshift
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
written = write_demo_pushshift(
    Path(snakemake.params.out_dir),
    seed=snakemake.params.seed,
    n_posts=snakemake.params.n_posts,
    months=snakemake.params.months,
)
missing = set(map(str, snakemake.output)) - {str(p) for p in written}
if missing:
    raise RuntimeError(f"demo generator did not write {sorted(missing)}")
