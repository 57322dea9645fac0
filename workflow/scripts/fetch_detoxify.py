from karma.evaluation.toxicity import DETOXIFY_CHECKPOINT_URL
from karma.hub_fetch import DETOXIFY_CONFIG_PATTERNS, fetch_model_files, fetch_url
from karma.job_logging import setup_job_logging

setup_job_logging(snakemake.log[0])
fetch_url(DETOXIFY_CHECKPOINT_URL, snakemake.output.checkpoint, snakemake.params.sha256,
          "benchmarks.toxicity.detoxify_sha256")
fetch_model_files(snakemake.params.config_repo, snakemake.output.config_dir,
                  DETOXIFY_CONFIG_PATTERNS, snakemake.params.config_revision)
