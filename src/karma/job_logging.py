"""Every job writes a log: one call sends library logging to the job's log file and to stderr.

A job that is re-run after a crash or a kill (Snakemake ``--rerun-incomplete``, a SLURM retry)
keeps the log of the attempt before it, above a separator line, so the reason the earlier attempt
died stays readable next to the run that resumed from its checkpoints. Snakemake deletes a job's
log before it starts the job again, so while a job runs its log is mirrored to
``<log>.unfinished``; the mirror is removed when the job ends without an error, and a new attempt
starts its log from it when it is there.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import sys
import time
from pathlib import Path

ATTEMPT_MARK = "===== karma job attempt"
UNFINISHED_SUFFIX = ".unfinished"
_state = {"failed": False}


def _start_attempt(path: Path, unfinished: Path) -> None:
    if unfinished.is_file() and not (path.is_file() and path.stat().st_size):
        shutil.copyfile(unfinished, path)  # the log of an attempt that died, removed by Snakemake
    earlier = path.read_text(errors="replace").count(ATTEMPT_MARK) if path.is_file() else 0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    note = "; the lines above are earlier attempts" if earlier else ""
    with path.open("a") as handle:
        handle.write(f"{ATTEMPT_MARK} {earlier + 1} started {stamp} on {socket.gethostname()} "
                     f"(pid {os.getpid()}){note} =====\n")
    shutil.copyfile(path, unfinished)


def _finish(unfinished: Path) -> None:
    if not _state["failed"]:
        unfinished.unlink(missing_ok=True)


def setup_job_logging(log_path: str | Path | None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        path = Path(log_path)
        unfinished = path.with_name(path.name + UNFINISHED_SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        _start_attempt(path, unfinished)
        handlers += [logging.FileHandler(path, mode="a"),
                     logging.FileHandler(unfinished, mode="a")]
        atexit.register(_finish, unfinished)
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
    _state["failed"] = True
    logging.getLogger("karma.job").critical("job failed", exc_info=(kind, error, trace))
