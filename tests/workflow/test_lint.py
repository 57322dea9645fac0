"""The workflow's style gates, part of `make test`: snakefmt formatting and Snakemake's own linter."""

import subprocess
import sys
from pathlib import Path

from workflow_runner import ROOT

BIN = Path(sys.executable).parent


def test_snakemake_files_are_snakefmt_formatted():
    result = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"run `snakefmt Snakefile workflow`:\n{result.stderr[-3000:]}"


def test_snakemake_lint_is_clean():
    # --lint exits 0 even with findings; the all-clear line is the signal.
    result = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=ROOT, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Congratulations, your workflow is in a good condition" in output, \
        output[-3000:]
