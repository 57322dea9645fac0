"""Run the real Snakefile in a scratch working directory (shared by the workflow tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


# Seconds one snakemake call may take; a CPU shared with other work may need more (the variable).
TIMEOUT_S = int(os.environ.get("KARMA_TEST_SNAKEMAKE_TIMEOUT_S", "1200"))


def snakemake(workdir: Path, *args: str, overrides: str = "small.yaml",
              timeout: int = TIMEOUT_S) -> subprocess.CompletedProcess:
    # --configfile takes several values: it goes last so targets are not read as config files
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2",
           *args, "--configfile", str(ROOT / "config" / "config.yaml"), str(workdir / overrides)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def planned_jobs(dry_run_stdout: str) -> set[str]:
    """Rule names in a dry run's job-stats table."""
    stats = re.findall(r"^(\w+)\s+(\d+)$", dry_run_stdout, flags=re.MULTILINE)
    return {name for name, _ in stats if name != "total"}
