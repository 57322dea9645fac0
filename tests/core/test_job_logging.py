import subprocess
import sys


def test_uncaught_errors_reach_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    code = (
        "from karma.job_logging import setup_job_logging\n"
        f"setup_job_logging({str(log)!r})\n"
        "import logging; logging.getLogger('karma.x').info('started')\n"
        "raise ValueError('config key foo is wrong')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    text = log.read_text()
    assert "started" in text and "job failed" in text and "config key foo is wrong" in text
