import json

import torch

from karma.job_logging import setup_job_logging
from karma.ppo.training import train_policy

setup_job_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
summary = train_policy(
    snakemake.input.policy,
    snakemake.input.reward_model,
    snakemake.input.prompts,
    snakemake.wildcards.variant,
    snakemake.params.setting,
    snakemake.output.model,
    snakemake.output.train_log,
    snakemake.params.checkpoints,
    snakemake.params.training,
    policy_name=snakemake.wildcards.policy,
    source=snakemake.params.source,
    run_config=snakemake.config,
    policy_family=snakemake.params.families["policy"],
    reward_family=snakemake.params.families["reward"],
)
with open(snakemake.output.summary, "w") as handle:
    json.dump(summary, handle, indent=2, sort_keys=True, default=str)
