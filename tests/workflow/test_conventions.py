"""Snakemake workflow-catalog conventions, and README commands that agree with the Makefile."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_mit_license():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 KARMA workflow authors" in text


def test_catalog_file():
    usage = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment"}
    assert {"desc", "flags"} == set(usage["mandatory-flags"])
    deployment = usage["software-stack-deployment"]
    assert set(deployment) == {"conda", "apptainer", "apptainer+conda", "report"}
    assert deployment["report"] is True
    assert all(isinstance(value, bool) for value in deployment.values())


def test_report_directive_names_the_workflow_description():
    match = re.search(r'^report: "([^"]+)"$', (REPO / "Snakefile").read_text(), flags=re.MULTILINE)
    assert match and match.group(1) == "workflow/report/workflow.rst"
    assert "KARMA" in (REPO / match.group(1)).read_text()


def readme_commands() -> list[str]:
    return re.findall(r"`(snakemake [^`]*)`", (REPO / "README.md").read_text())


def test_readme_and_makefile_give_the_same_paper_dry_run():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^dryrun-paper:.*\n\t\$\(SNAKEMAKE\) (.*)$", makefile, flags=re.MULTILINE)
    assert recipe, "Makefile has no dryrun-paper recipe"
    assert f"snakemake {recipe.group(1)}" in readme_commands()


def test_readme_paper_commands_name_the_paper_config():
    """Without config/paper.yaml (directly or through profiles/slurm) a command runs the demo's config."""
    paper = [command for command in readme_commands() if "results/paper" in command]
    assert paper, "README shows no command for the paper's results"
    for command in paper:
        assert "--profile profiles/slurm" in command or "--configfile config/paper.yaml" in command, command
