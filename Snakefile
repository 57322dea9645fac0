# KARMA: Reddit dumps -> karma reward models -> PPO-aligned policies -> benchmarks -> tables.
# Run `snakemake --cores 2` for the offline demo, `snakemake --profile profiles/slurm` for the paper.
import os

from snakemake.utils import min_version, validate

from karma.config_checks import coerce_numeric_strings, stop_on_config_errors

min_version("9.0")

CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"


# The demo config is the default. Config files given with --configfile replace it rather than
# being merged into it, so a paper run never inherits a demo key; pass several to layer them.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# YAML 1.1 reads 1e-5 as text: numeric strings become numbers where the schema wants one.
with stop_on_config_errors():
    coerce_numeric_strings(config, os.path.join(workflow.basedir, CONFIG_SCHEMA))
validate(config, CONFIG_SCHEMA)


report: "workflow/report/workflow.rst"


# Jobs import the workflow's library from this checkout, also inside --sdm conda environments
# (which hold only third-party packages) and on cluster nodes (sbatch exports the environment).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(
            None, [os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH")]
        )
    )
)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/reward.smk"
include: "workflow/rules/ppo.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/preflight.smk"


rule all:
    default_target: True
    input:
        all_targets(),
