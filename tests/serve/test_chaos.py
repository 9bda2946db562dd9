"""The load test of benchmarks/serve_chaos.py, small: bad clients and a lake outage cost no
answer, no 5xx (except 503 at the deadline) and no duplicate log row. Timings are not checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "serve_chaos.py"


def test_bad_clients_and_a_lake_outage_lose_no_answer_and_cause_no_5xx(tmp_path):
    out = tmp_path / "report.json"
    command = [sys.executable, str(SCRIPT), "--requests", "80", "--concurrency", "8"]
    result = subprocess.run(
        [*command, "--timeout", "300", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    assert out.is_file(), result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["checks"] == {
        "no unexpected 5xx": True,
        "every answer logged once": True,
        "no row dropped": True,
        "recovered": True,
    }, result.stdout[-3000:]
    assert result.returncode == 0
    assert report["answered_200"] >= 1
    metrics = report["metrics"]
    assert metrics["prediction_log_failed_commits_total"] >= 1  # the outage was felt...
    assert metrics["prediction_log_spilled_rows_total"] >= 1  # ...rows went to disk...
    spilled = metrics["prediction_log_spilled_rows_total"]
    assert metrics["prediction_log_replayed_rows_total"] == spilled  # ...and came back once
