"""Every job writes a log: one call sends library logging to the job's log file and to stderr."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path


def setup_job_logging(log_path: str | Path | None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
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


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Percent done, rate and ETA of a job of known size, for its periodic log lines.

    The rate counts only the work of this process (``done_at_start`` excludes what a resumed job
    found already done), so the ETA of a resumed job is not flattered by its checkpoint.
    """

    def __init__(self, total: int, done_at_start: int = 0, unit: str = "steps") -> None:
        self.total = max(int(total), 1)
        self.done_at_start = done_at_start
        self.unit = unit
        self.started = time.perf_counter()

    def line(self, done: int) -> str:
        """``done/total (pct%), rate unit/s, ETA 1m05s``."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = (done - self.done_at_start) / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        eta_text = _duration(eta) if eta == eta else "n/a"
        return (f"{done}/{self.total} ({100.0 * done / self.total:.1f}%), {rate:.2f} {self.unit}/s, "
                f"ETA {eta_text}")
