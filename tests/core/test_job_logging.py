import subprocess
import sys

ATTEMPT_MARK = "===== karma job attempt"  # the separator users read in the log


def run_job(log, body: str) -> subprocess.CompletedProcess:
    code = ("from karma.job_logging import setup_job_logging\n"
            f"setup_job_logging({str(log)!r})\n"
            "import logging; log = logging.getLogger('karma.x')\n" + body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_uncaught_errors_reach_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    result = run_job(log, "log.info('started')\nraise ValueError('config key foo is wrong')\n")
    assert result.returncode == 1
    text = log.read_text()
    assert "started" in text and "job failed" in text and "config key foo is wrong" in text


def test_a_rerun_keeps_the_failed_attempts_log_even_when_the_log_was_deleted(tmp_path):
    """Issue 14: a resumed job overwrote its killed predecessor's log. Snakemake deletes the log
    before it starts a job again; the failed attempt's lines must still be there, then a separator."""
    log = tmp_path / "job.log"
    assert run_job(log, "log.info('update 7 of 10')\nraise MemoryError('killed')\n").returncode
    log.unlink()  # what Snakemake does before the next attempt
    assert run_job(log, "log.info('resumed from update 7')\n").returncode == 0
    text = log.read_text()
    assert text.index("update 7 of 10") < text.index("MemoryError") < text.index(
        f"{ATTEMPT_MARK} 2") < text.index("resumed from update 7")
    assert text.count(ATTEMPT_MARK) == 2 and "earlier attempts" in text
    # A successful attempt leaves no mirror behind: the next run starts a fresh log.
    assert not (tmp_path / "job.log.unfinished").exists()
    log.unlink()
    assert run_job(log, "log.info('fresh')\n").returncode == 0
    assert log.read_text().count(ATTEMPT_MARK) == 1
