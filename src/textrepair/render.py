"""What the command line prints: the data report, the evaluation table and the drift table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

EVALUATION_METRICS = ("cer_in", "cer_out", "cer_reduction", "wer_out", "exact_match", "broken_rate")

NEXT_STEPS = """
Next:
  mlflow ui --backend-store-uri sqlite:///mlflow.db   # runs, metrics, the registry (port 5000)
  textrepair serve                                    # the API on http://127.0.0.1:8000/docs
  textrepair ui                                       # the app on http://127.0.0.1:8501
  open reports/monitor.html                           # drift of the logged predictions
"""


def data_table(report: dict[str, Any]) -> Table:
    """reports/data.json: counts, quarantine reasons, gold splits, balancing and mutations."""
    table = Table(title="textrepair data")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in report["counts"].items():
        table.add_row(name.replace("_", " "), f"{value:,}")
    for reason, value in report["quarantine_reasons"].items():
        table.add_row(f"quarantined: {reason}", f"{value:,}")
    for split, value in report["gold_rows_by_split"].items():
        table.add_row(f"gold {split}", f"{value:,}")
    by_source = report.get("windows_by_source", {})  # absent from reports before balancing
    for source, value in by_source.get("gold", {}).items():
        before = by_source["silver"].get(source, 0)
        table.add_row(f"windows of {source}: silver -> gold", f"{before:,} -> {value:,}")
    for kind, value in report["mutations_by_type"].items():
        table.add_row(f"mutations: {kind}", f"{value:,}")
    table.add_row("damaged characters", f"{report['damaged_char_rate']:.1%}")
    return table


def evaluation_table(report: dict[str, Any]) -> Table:
    """reports/evaluation.json: the headline metrics of the model and every baseline."""
    table = Table(title=f"evaluation on gold/{report.get('split', 'test')}")
    table.add_column("system")
    for metric in EVALUATION_METRICS:
        table.add_column(metric, justify="right")
    systems = {"model": report["model"], **report["baselines"]}
    for name, values in systems.items():
        cells = [values[m]["value"] for m in EVALUATION_METRICS]
        table.add_row(name, *("-" if v is None else f"{v:.2%}" for v in cells))
    return table


def drift_table(report: dict[str, Any]) -> Table:
    """reports/monitor.json: PSI and KS of every feature, recent window against gold/train."""
    table = Table(title=f"drift: {report['window']['rows']} recent rows vs gold/train")
    for column in ("feature", "PSI", "KS", "p-value", "training mean", "recent mean", "drift"):
        table.add_column(column, justify="left" if column == "feature" else "right", no_wrap=True)
    for name, f in report["features"].items():
        table.add_row(
            name,
            f"{f['psi']:.4f}",
            f"{f['ks_statistic']:.4f}",
            f"{f['ks_pvalue']:.3g}",
            f"{f['reference_mean']:.4f}",
            f"{f['current_mean']:.4f}",
            "DRIFT" if f["drifted"] else "-",
        )
    return table


def drift_verdict(report: dict[str, Any]) -> str:
    advice = "retraining recommended" if report["retrain_recommended"] else "no retraining needed"
    return f"status: {report['status']} ({advice})"


def show(table: Table) -> None:
    Console().print(table)


def status(message: str) -> Any:
    """A spinner on stderr for long work without a known length."""
    return Console(stderr=True).status(message)
