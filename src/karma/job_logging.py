"""Every job writes a log: one call sends library logging to the job's log file and to stderr.

A job that is re-run after a crash or a kill (Snakemake ``--rerun-incomplete``, a SLURM retry)
appends to the log of the attempt before it, below a separator line, so the reason the earlier
attempt died stays readable next to the run that resumed from its checkpoints.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from pathlib import Path

ATTEMPT_MARK = "===== karma job attempt"


def _start_attempt(path: Path) -> None:
    earlier = path.read_text(errors="replace").count(ATTEMPT_MARK) if path.is_file() else 0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    note = "; the lines above are earlier attempts" if earlier else ""
    with path.open("a") as handle:
        handle.write(f"{ATTEMPT_MARK} {earlier + 1} started {stamp} on {socket.gethostname()} "
                     f"(pid {os.getpid()}){note} =====\n")


def setup_job_logging(log_path: str | Path | None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        path = Path(log_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _start_attempt(path)
        handlers.append(logging.FileHandler(path, mode="a"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    # An uncaught error ends up in the job's log too, not only on the scheduler's stderr.
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: object) -> None:
    logging.getLogger("karma.job").critical("job failed", exc_info=(kind, error, trace))
