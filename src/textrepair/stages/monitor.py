"""The monitor job: recent predictions against the training data (monitoring/monitor.py).

With `monitor.reference_rows` > 0 the champion repairs gold/validation to give the model-output
features a reference; without a champion, gold's true damage stands in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrepair.config import Settings
from textrepair.reports import REPORTS_DIR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorRun:
    report: dict[str, Any]
    json_path: Path
    html_path: Path


def run(
    settings: Settings,
    *,
    last_rows: int | None = None,
    last_hours: float | None = None,
    reports_dir: Path = REPORTS_DIR,
) -> MonitorRun:
    """Judge the window of the prediction log; write reports/monitor.{json,html}.

    Raises monitoring.monitor.MonitorError when no verdict is possible (no log, empty window,
    no gold).
    """
    from textrepair.monitoring.monitor import run_monitor, write_report

    repair = champion_repair(settings) if settings.monitor.reference_rows else None
    report, reference, frame = run_monitor(
        settings, last_rows=last_rows, last_hours=last_hours, repair=repair
    )
    json_path, html_path = write_report(report, reference, frame, reports_dir)
    return MonitorRun(report, json_path, html_path)


def champion_repair(settings: Settings) -> Callable[[list[str]], list[str]] | None:
    """The champion as a texts -> texts function, or None (with a warning) if there is none."""
    from mlflow.exceptions import MlflowException

    from textrepair.model import source
    from textrepair.model.families import ModelLoadError

    uri = source.champion_uri(settings)
    try:
        repairer, _ = source.load(settings, uri)
    except (MlflowException, ModelLoadError, OSError) as error:
        log.warning(
            "cannot load %s (%s); damage_rate and unchanged are compared with gold's true damage",
            uri,
            str(error).splitlines()[0],
        )
        return None
    return lambda texts: [result.text for result in repairer.repair(texts)]
