"""Progress of long jobs in the rule's log: percentage, rate and ETA at a steady interval.

:class:`Progress` is for loops the library owns (dump bytes read, optimizer steps, PPO updates,
benchmarks). :func:`log_tqdm_progress` is for loops inside other libraries that report through tqdm
bars (lm-eval's requests): a background thread reads every live bar at the same interval and logs
it, so their progress reaches the job's log and not only the terminal. The interval is
``KARMA_PROGRESS_SECONDS`` (default 30 s); a first and a last line are always written.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_INTERVAL_S = 30.0
INTERVAL_ENV = "KARMA_PROGRESS_SECONDS"

log = logging.getLogger(__name__)


def progress_interval() -> float:
    """Seconds between progress lines, from the environment (a bad value is an error naming it)."""
    raw = os.environ.get(INTERVAL_ENV)
    if raw is None or raw == "":
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{INTERVAL_ENV}={raw!r}: give the seconds between progress lines, e.g. 30")
    return value


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (days are counted in hours), or ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


_BYTE_UNITS = ((1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def _byte_unit(reference: float) -> tuple[float, str]:
    return next(((size, name) for size, name in _BYTE_UNITS if reference >= size), (1.0, "B"))


def _count(value: float, scale: float = 1.0) -> str:
    scaled = value / scale
    if scale != 1.0:
        return f"{scaled:.1f}"
    return str(int(scaled)) if float(scaled).is_integer() else f"{scaled:.4g}"


def progress_line(
    what: str, done: float, total: float | None, elapsed: float, rate: float, unit: str
) -> str:
    """``what: 42.0% (21 of 50 steps), 3.5 steps/s, elapsed 0:00:06, ETA 0:00:08``; bytes are
    shown in the unit of the total (kB, MB, GB), their rate in MB/s."""
    if unit == "bytes":
        scale, shown_unit = _byte_unit(total or done)
        speed = f"{rate / 1e6:.2f} MB/s"
    else:
        scale, shown_unit = 1.0, unit
        speed = f"{rate:.3g} {unit}/s"
    if not total:
        return f"{what}: {_count(done, scale)} {shown_unit}, {speed}, elapsed {format_duration(elapsed)}"
    left = (total - done) / rate if rate > 0 else math.inf
    return (
        f"{what}: {100 * done / total:.1f}% ({_count(done, scale)} of {_count(total, scale)} "
        f"{shown_unit}), {speed}, elapsed {format_duration(elapsed)}, "
        f"ETA {format_duration(max(left, 0.0))}"
    )


class Progress:
    """Counts work done towards ``total`` and logs a progress line at most every ``interval_s``.

    ``done`` is where a resumed job starts; the rate (and so the ETA) counts only this run's work.
    ``detail`` adds a job-specific tail to each line (e.g. lines read, current loss).
    """

    def __init__(
        self,
        what: str,
        total: float | None,
        *,
        unit: str = "items",
        done: float = 0,
        interval_s: float | None = None,
        logger: logging.Logger | None = None,
        detail: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total is not None and total < 0:
            raise ValueError(f"progress of {what}: total must not be negative, got {total}")
        self.what, self.total, self.unit = what, total, unit
        self.done = self._start = done
        self.interval_s = progress_interval() if interval_s is None else interval_s
        self.logger = logger or log
        self.detail = detail
        self.clock = clock
        self.started = self._last = clock()
        self._finished = False
        self._emit()

    def advance(self, amount: float = 1) -> None:
        self.update(self.done + amount)

    def update(self, done: float) -> None:
        """Set the absolute amount done; logs when the interval has passed since the last line."""
        self.done = done
        if self.clock() - self._last >= self.interval_s:
            self._emit()

    def finish(self) -> None:
        """The last line (once), whatever the interval."""
        if not self._finished:
            self._finished = True
            self._emit(final=True)

    def _emit(self, final: bool = False) -> None:
        now = self.clock()
        self._last = now
        elapsed = now - self.started
        rate = (self.done - self._start) / elapsed if elapsed > 0 else 0.0
        line = progress_line(self.what, self.done, self.total, elapsed, rate, self.unit)
        if final:
            line += " (done)"
        extra = self.detail() if self.detail is not None else ""
        if extra:
            line += f"; {extra}"
        self.logger.info("%s", line)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.finish()


def _live_bars() -> list[Any]:
    from tqdm import tqdm

    return [bar for bar in list(tqdm._instances) if not getattr(bar, "disable", False)]


def log_tqdm_bars(logger: logging.Logger | None = None) -> int:
    """One progress line per live tqdm bar with a total; returns how many were logged."""
    logger = logger or log
    logged = 0
    for bar in _live_bars():
        total = bar.total
        if not total:
            continue
        elapsed = max(bar.format_dict.get("elapsed", 0.0), 0.0)
        rate = bar.n / elapsed if elapsed > 0 else 0.0
        what = (bar.desc or "progress").rstrip(": ")
        logger.info("%s", progress_line(what, bar.n, total, elapsed, rate, bar.unit or "items"))
        logged += 1
    return logged


@contextmanager
def log_tqdm_progress(
    interval_s: float | None = None, logger: logging.Logger | None = None
) -> Iterator[None]:
    """While the block runs, log every live tqdm bar each ``interval_s`` seconds from a daemon
    thread (tqdm bars draw to the terminal only; this is what makes them reach the job's log)."""
    # A zero interval (log every update) would make this loop spin: poll at most 100 times a second.
    interval = max(progress_interval() if interval_s is None else interval_s, 0.01)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            log_tqdm_bars(logger)

    thread = threading.Thread(target=watch, name="tqdm-progress-log", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
