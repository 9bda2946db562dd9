"""The data report: counts per stage, quarantine reasons, window lengths, mutation counts, and
windows per source before balancing (silver) and after it (gold's main profile, and its test split).

Written as `reports/data.json` (DVC metrics) and `reports/data.png` (a plot for people).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from textrepair.reports import REPORTS_DIR, read_metrics, write_metrics

LENGTH_BIN_BYTES = 16


def length_histogram(silver: DataFrame, bin_bytes: int = LENGTH_BIN_BYTES) -> dict[str, int]:
    """Window counts per byte-length bin, keyed 'lo-hi'."""
    bins = silver.groupBy(F.floor(F.col("n_bytes") / bin_bytes).alias("bin")).count().collect()
    return {
        # Zero-padded so the keys sort numerically in JSON and DVC's metrics view.
        f"{r['bin'] * bin_bytes:04d}-{(r['bin'] + 1) * bin_bytes - 1:04d}": r["count"]
        for r in sorted(bins, key=lambda r: r["bin"])
    }


def build_report(gold: dict[str, Any], lengths: dict[str, int], reports_dir: Path) -> dict:
    """Combine the stage metrics already written by ingest and clean with gold's."""
    ingest = read_metrics("ingest", reports_dir)
    clean = read_metrics("clean", reports_dir)
    return {
        "counts": {
            "bronze_documents": ingest["bronze_documents"],
            "documents_quarantined": clean["documents_quarantined"],
            "windows": clean["windows"],
            "windows_quarantined": clean["windows_quarantined"],
            "duplicates_removed": clean["duplicates_removed"],
            "silver_rows": clean["silver_rows"],
            "gold_rows": gold["gold_rows"],
        },
        "quarantine_reasons": clean["quarantine_reasons"],
        "window_length_bytes": lengths,
        "gold_rows_by_split": gold["rows_by_split"],
        "gold_rows_by_profile": gold["rows_by_profile"],
        "mutations_by_type": gold["mutations_by_type"],
        "windows_by_source": {
            "silver": gold["silver_windows_by_source"],
            "gold": gold["gold_windows_by_source"],
            "gold_test": gold["test_windows_by_source"],
        },
        "clean_rows": gold["clean_rows"],
        "damaged_char_rate": gold["damaged_char_rate"],
    }


def write_report(report: dict, reports_dir: Path = REPORTS_DIR) -> tuple[Path, Path]:
    json_path = write_metrics("data", report, reports_dir)
    png_path = reports_dir / "data.png"
    plot_report(report, png_path)
    return json_path, png_path


def plot_report(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(18, 8))
    panels = [
        (axes[0, 0], report["counts"], "Rows per stage", "steelblue"),
        (
            axes[0, 1],
            report["quarantine_reasons"] or {"none": 0},
            "Quarantine reasons",
            "indianred",
        ),
        (axes[1, 0], report["window_length_bytes"], "Silver window length (bytes)", "seagreen"),
        (axes[1, 1], report["mutations_by_type"], "Mutations by type (main profile)", "darkorange"),
    ]
    for ax, data, title, colour in panels:
        ax.bar(list(data), list(data.values()), color=colour)
        _finish_axes(ax, title)
    _plot_sources(axes[0, 2], report["windows_by_source"])
    axes[1, 2].axis("off")
    fig.suptitle(
        f"textrepair data report — damaged characters {report['damaged_char_rate']:.1%}, "
        f"{report['clean_rows']} rows left clean"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_sources(ax: Any, by_source: dict[str, dict[str, int]]) -> None:
    """Grouped bars: windows per source in silver (before balancing) and gold (after)."""
    sources = sorted(set(by_source["silver"]) | set(by_source["gold"]))
    positions = range(len(sources))
    for offset, stage, colour in ((-0.2, "silver", "grey"), (0.2, "gold", "goldenrod")):
        counts = [by_source[stage].get(s, 0) for s in sources]
        ax.bar([p + offset for p in positions], counts, 0.4, label=stage, color=colour)
    ax.set_xticks(list(positions), sources)
    ax.legend()
    _finish_axes(ax, "Windows per source, before and after balancing")


def _finish_axes(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
