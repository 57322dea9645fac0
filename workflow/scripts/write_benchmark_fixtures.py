from karma.demo.benchmark_fixtures import (
    check_fixture_outputs,
    write_benchmark_fixtures,
)
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
written = write_benchmark_fixtures(snakemake.params.out_dir)
check_fixture_outputs(written, snakemake.output)
