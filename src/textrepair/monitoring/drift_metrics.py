"""Prometheus gauges from reports/monitor.json, for the API's /metrics.

    register_drift_gauges("reports/monitor.json")            # once, at API start-up

registers a collector that re-reads the report at every scrape, so a new `textrepair monitor` run
shows up without restarting the server. Gauges (all prefixed `textrepair_drift_`):

    textrepair_drift_psi{feature}                 population stability index
    textrepair_drift_ks_statistic{feature}        Kolmogorov–Smirnov statistic
    textrepair_drift_feature_drifted{feature}     1 when the feature crossed a threshold
    textrepair_drift_retrain_recommended          1 when the monitor recommends retraining
    textrepair_drift_window_rows                  prediction-log rows the report judged
    textrepair_drift_report_timestamp_seconds     when the report was generated (Unix time)
    textrepair_drift_report_available             0 while there is no (readable) report

Only prometheus-client is imported: no pandas, scipy or matplotlib in the server for this.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
PREFIX = "textrepair_drift_"


class DriftCollector(Collector):
    """Yields the drift gauges from the report file at each scrape."""

    def __init__(self, report_path: str | Path) -> None:
        self.report_path = Path(report_path)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self._read()
        available = GaugeMetricFamily(
            PREFIX + "report_available", "1 when reports/monitor.json could be read"
        )
        available.add_metric([], 0.0 if report is None else 1.0)
        yield available
        if report is not None:
            yield from _gauges(report)

    def _read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.report_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("cannot read drift report %s", self.report_path, exc_info=True)
            return None


def _gauges(report: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    per_feature = {
        "psi": ("psi", "Population stability index of the feature, recent vs training"),
        "ks_statistic": ("ks_statistic", "Kolmogorov-Smirnov statistic, recent vs training"),
        "feature_drifted": ("drifted", "1 when the feature crossed a drift threshold"),
    }
    for name, (key, help_text) in per_feature.items():
        gauge = GaugeMetricFamily(PREFIX + name, help_text, labels=["feature"])
        for feature, stats in report.get("features", {}).items():
            gauge.add_metric([feature], float(stats[key]))
        yield gauge
    scalars = {
        "retrain_recommended": (float(report.get("retrain_recommended", False)), "1: retrain"),
        "window_rows": (float(report.get("window", {}).get("rows", 0)), "Rows judged"),
        "report_timestamp_seconds": (_timestamp(report), "When the report was generated"),
    }
    for name, (value, help_text) in scalars.items():
        yield GaugeMetricFamily(PREFIX + name, help_text, value=value)


def _timestamp(report: dict[str, Any]) -> float:
    try:
        return dt.datetime.fromisoformat(report["generated_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return 0.0


def register_drift_gauges(
    report_path: str | Path = "reports/monitor.json",
    registry: CollectorRegistry = REGISTRY,
) -> DriftCollector:
    """Register the drift gauges on `registry` (Prometheus' default one unless given)."""
    collector = DriftCollector(report_path)
    registry.register(collector)
    return collector
