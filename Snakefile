# KARMA: Reddit dumps -> karma reward models -> PPO-aligned policies -> benchmarks -> tables.
# Run `snakemake --cores 2` for the offline demo, `snakemake --profile profiles/slurm` for the paper.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


rule all:
    input:
        all_targets(),
    default_target: True
