from karma.demo.tokenizer_training import train_tokenizer
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
train_tokenizer(snakemake.input.texts, snakemake.output[0], **snakemake.params.cfg)
