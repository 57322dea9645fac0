from karma.demo.tiny_models import write_tiny_model
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
write_tiny_model(snakemake.params.spec, snakemake.input.tokenizer, snakemake.output[0],
                 seed=snakemake.params.seed, run_config=snakemake.config,
                 name=snakemake.wildcards.model)
