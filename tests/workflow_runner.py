"""Run the real Snakefile in a scratch working directory (shared by the workflow tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, *args: str, overrides: str = "small.yaml",
              timeout: int = 1200) -> subprocess.CompletedProcess:
    # --configfile takes several values: it goes last so targets are not read as config files
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2",
           *args, "--configfile", str(ROOT / "config" / "config.yaml"), str(workdir / overrides)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def planned_jobs(dry_run_stdout: str) -> set[str]:
    """Rule names in a dry run's job-stats table."""
    stats = re.findall(r"^(\w+)\s+(\d+)$", dry_run_stdout, flags=re.MULTILINE)
    return {name for name, _ in stats if name != "total"}
