"""Progress lines: percentage, rate and ETA at a steady interval, also for tqdm bars of other libraries."""

import logging
import time

import pytest
from tqdm import tqdm

from karma.progress import Progress, format_duration, log_tqdm_progress, progress_interval


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "karma.progress"]


def test_lines_at_a_steady_interval_with_rate_and_eta(caplog):
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="karma.progress"):
        progress = Progress("training", 100, unit="steps", interval_s=10, clock=clock)
        for _ in range(40):  # one step per second
            clock.now += 1
            progress.advance()
        progress.finish()
        progress.finish()  # once only
    lines = messages(caplog)
    assert lines[0] == "training: 0.0% (0 of 100 steps), 0 steps/s, elapsed 0:00:00, ETA ?"
    assert lines[1] == "training: 10.0% (10 of 100 steps), 1 steps/s, elapsed 0:00:10, ETA 0:01:30"
    assert len(lines) == 1 + 4 + 1
    assert lines[-1] == "training: 40.0% (40 of 100 steps), 1 steps/s, elapsed 0:00:40, ETA 0:01:00 (done)"


def test_resumed_work_does_not_count_towards_the_rate(caplog):
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="karma.progress"):
        progress = Progress("ppo", 10, unit="updates", done=6, interval_s=0, clock=clock,
                            detail=lambda: "reward 0.5")
        clock.now += 4
        progress.update(8)
    assert messages(caplog)[-1] == (
        "ppo: 80.0% (8 of 10 updates), 0.5 updates/s, elapsed 0:00:04, ETA 0:00:04; reward 0.5")


def test_bytes_are_shown_in_megabytes_and_unknown_totals_without_percent(caplog):
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="karma.progress"):
        Progress("scan", 50e6, unit="bytes", done=25e6, interval_s=0, clock=clock).finish()
        Progress("stream", None, interval_s=0, clock=clock).finish()
    assert messages(caplog)[1] == "scan: 50.0% (25.0 of 50.0 MB), 0.00 MB/s, elapsed 0:00:00, ETA ? (done)"
    assert messages(caplog)[-1] == "stream: 0 items, 0 items/s, elapsed 0:00:00 (done)"


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv("KARMA_PROGRESS_SECONDS", "5")
    assert progress_interval() == 5.0
    monkeypatch.setenv("KARMA_PROGRESS_SECONDS", "soon")
    with pytest.raises(ValueError, match="KARMA_PROGRESS_SECONDS='soon'"):
        progress_interval()
    assert format_duration(3725) == "1:02:05" and format_duration(float("inf")) == "?"


def test_tqdm_bars_reach_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="karma.progress"), log_tqdm_progress(interval_s=0.05):
        bar = tqdm(total=40, desc="Running loglikelihood requests", disable=False)
        for _ in range(40):
            time.sleep(0.01)
            bar.update(1)
        bar.close()
    lines = [line for line in messages(caplog) if line.startswith("Running loglikelihood requests: ")]
    assert lines and all("% (" in line and "of 40 it)" in line and "ETA" in line for line in lines)
    assert len({line.split("%")[0] for line in lines}) > 1  # it advanced between lines
