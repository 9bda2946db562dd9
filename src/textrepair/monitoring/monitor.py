"""`textrepair monitor`: does recent traffic still look like the data the model was trained on?

    reference = training_profile(settings)      gold/train (main profile), sampled
    current   = window_features(read_window())   the last rows of the prediction log
    report    = build_report(...)                PSI + KS per feature (`monitoring.drift`)
    write_report(report, reports_dir)            reports/monitor.json and reports/monitor.html

Features, computed alike on both sides (`textrepair.monitoring.textfeatures`):
- `damage_rate`: Levenshtein distance per input character. On gold it is corrupted→clean (the
  true damage); in the log it is input→output (the model's estimate). Heavier damage than in
  training is the main reason to retrain.
- `input_length`: characters per input.
- `unchanged`: 1 when the text needed no change (gold: clean rows; log: output == input).

The log's `damage_rate` and `unchanged` describe what the model did, and a model that repairs only
part of the damage changes less than gold says there is. So, given the champion (`repair`), the
reference for these two is the champion's own output on `monitor.reference_rows` gold/validation
rows; without it, gold's true damage.
- `share_letters|digits|spaces|punctuation|other`: the input's character-class mix.

`MonitorError` says why no verdict can be given (no log, empty window, no training data).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textrepair.data import tables
from textrepair.monitoring.drift import Thresholds, compare
from textrepair.monitoring.predlog import SHARE_COLUMNS, log_uri, read_window
from textrepair.monitoring.textfeatures import CHAR_CLASSES, char_class_shares, damage_rate
from textrepair.reports import write_metrics

if TYPE_CHECKING:
    import pandas as pd

    from textrepair.config import MonitorConfig, Settings

FEATURES = ("damage_rate", "input_length", "unchanged", *SHARE_COLUMNS)
STATUS_OK, STATUS_DRIFT, STATUS_TOO_FEW = "ok", "drift", "insufficient_data"


class MonitorError(RuntimeError):
    """No verdict is possible: no prediction log, an empty window, or no training data."""


def thresholds(config: MonitorConfig) -> Thresholds:
    return Thresholds(
        psi=config.psi_threshold,
        ks_statistic=config.ks_threshold,
        ks_alpha=config.ks_alpha,
        bins=config.bins,
    )


# ---------------------------------------------------------------------------------- features
def text_features(damaged: list[str], repaired: list[str]) -> dict[str, np.ndarray]:
    """The monitored features of (input, output) pairs, one array per feature."""
    shares = [char_class_shares(text) for text in damaged]
    return {
        "damage_rate": np.array(
            [damage_rate(d, r) for d, r in zip(damaged, repaired, strict=True)]
        ),
        "input_length": np.array([len(text) for text in damaged], dtype=float),
        "unchanged": np.array(
            [d == r for d, r in zip(damaged, repaired, strict=True)], dtype=float
        ),
        **{f"share_{c}": np.array([s[c] for s in shares]) for c in CHAR_CLASSES},
    }


def training_profile(settings: Settings) -> dict[str, np.ndarray]:
    """Features of (a fixed-seed sample of) gold/train rows of the main mutation profile."""
    train = _gold_rows(settings, "train", settings.monitor.profile_rows)
    return text_features(train["corrupted"].to_pylist(), train["clean"].to_pylist())


def _gold_rows(settings: Settings, split: str, limit: int) -> Any:
    """At most `limit` gold rows of `split` and the main profile, sampled with the seed."""
    from textrepair.data.gold import read_gold

    profile = settings.gold.profile
    rows = read_gold(settings, splits=(split,), profile=profile, columns=("clean", "corrupted"))
    if rows.num_rows == 0:
        uri = settings.lake_path("gold")
        raise MonitorError(f"{uri} has no {split} rows of profile {profile!r}")
    if rows.num_rows > limit:
        picked = np.random.default_rng(settings.seed).choice(rows.num_rows, limit, replace=False)
        rows = rows.take(np.sort(picked))
    return rows


MODEL_FEATURES = ("damage_rate", "unchanged")


def model_reference(
    settings: Settings, repair: Callable[[list[str]], list[str]]
) -> dict[str, np.ndarray]:
    """`MODEL_FEATURES` of the model's output on a fixed-seed sample of gold/validation rows."""
    rows = _gold_rows(settings, "validation", settings.monitor.reference_rows)
    damaged = rows["corrupted"].to_pylist()
    features = text_features(damaged, repair(damaged))
    return {name: features[name] for name in MODEL_FEATURES}


def window_features(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The monitored features of prediction-log rows."""
    features = {
        "damage_rate": frame["damage_rate"].to_numpy(float),
        "input_length": frame["input_length"].to_numpy(float),
        "unchanged": (~frame["changed"].astype(bool)).to_numpy(float),
    }
    return features | {column: frame[column].to_numpy(float) for column in SHARE_COLUMNS}


def load_window(settings: Settings, last_rows: int, last_hours: float) -> pd.DataFrame:
    """The log rows to judge; MonitorError when there is no log or nothing in the window."""
    uri = log_uri(settings)
    try:
        frame = read_window(
            uri,
            last_rows=last_rows,
            last_hours=last_hours,
            storage_options=settings.storage.storage_options,
        )
    except tables.TableNotFoundError as error:
        raise MonitorError(
            f"no prediction log at {uri}: nothing has been served yet (the API, batch and stream "
            "jobs write it)"
        ) from error
    if frame.empty:
        window = f"the last {last_hours:g} hours" if last_hours else "the log"
        raise MonitorError(f"the prediction log {uri} has no rows in {window}")
    return frame


# ------------------------------------------------------------------------------------ report
def build_report(
    reference: Mapping[str, np.ndarray],
    frame: pd.DataFrame,
    config: MonitorConfig,
    *,
    window: Mapping[str, Any],
    reference_source: str = "gold/train",
) -> dict[str, Any]:
    """monitor.json's content: per-feature statistics, the verdict and a window summary."""
    current = window_features(frame)
    drifts = compare(reference, current, thresholds(config))
    drifted = [d.feature for d in drifts if d.drifted]
    if len(frame) < config.min_rows:
        status = STATUS_TOO_FEW
    else:
        status = STATUS_DRIFT if len(drifted) > config.max_drifted_features else STATUS_OK
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": status,
        "retrain_recommended": status == STATUS_DRIFT,
        "drifted_features": drifted,
        "features": {d.feature: d.to_dict() for d in drifts},
        "thresholds": {
            "psi": config.psi_threshold,
            "ks_statistic": config.ks_threshold,
            "ks_alpha": config.ks_alpha,
            "bins": config.bins,
            "max_drifted_features": config.max_drifted_features,
            "min_rows": config.min_rows,
        },
        "window": {**window, **_window_summary(frame)},
        "reference": {"source": reference_source, "rows": len(reference["input_length"])},
    }


def _window_summary(frame: pd.DataFrame) -> dict[str, Any]:
    latency = frame["latency_ms"].to_numpy(float)
    return {
        "rows": len(frame),
        "start": frame["timestamp"].min().isoformat(),
        "end": frame["timestamp"].max().isoformat(),
        "rows_by_path": {str(k): int(v) for k, v in frame["path"].value_counts().items()},
        "model_versions": {
            str(k): int(v) for k, v in frame["model_version"].value_counts().items()
        },
        "latency_ms_p50": round(float(np.percentile(latency, 50)), 3),
        "latency_ms_p95": round(float(np.percentile(latency, 95)), 3),
    }


def run_monitor(
    settings: Settings,
    *,
    last_rows: int | None = None,
    last_hours: float | None = None,
    repair: Callable[[list[str]], list[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray], pd.DataFrame]:
    """Compare the window with the training profile: (report, reference features, window).

    With `repair` (the champion) and `monitor.reference_rows` > 0, the model-output features are
    compared with the champion's output on gold/validation instead of gold's true damage.
    """
    config = settings.monitor
    last_rows = config.window_rows if last_rows is None else last_rows
    last_hours = config.window_hours if last_hours is None else last_hours
    frame = load_window(settings, last_rows, last_hours)
    try:
        reference = training_profile(settings)
        source = "gold/train"
        if repair is not None and config.reference_rows:
            reference.update(model_reference(settings, repair))
            source = "gold/train; damage_rate and unchanged: the champion on gold/validation"
    except tables.TableNotFoundError as error:
        raise MonitorError(f"no training profile: {error}") from error
    window = {"last_rows": last_rows, "last_hours": last_hours}
    report = build_report(reference, frame, config, window=window, reference_source=source)
    return report, reference, frame


def write_report(
    report: Mapping[str, Any],
    reference: Mapping[str, np.ndarray],
    frame: pd.DataFrame,
    reports_dir: Path,
) -> tuple[Path, Path]:
    """Write monitor.json and a self-contained monitor.html (plots embedded as PNG)."""
    json_path = write_metrics("monitor", dict(report), reports_dir)
    html_path = reports_dir / "monitor.html"
    plot = _plot_png(reference, window_features(frame), report)
    html_path.write_text(render_html(report, plot), encoding="utf-8")
    return json_path, html_path


def _plot_png(
    reference: Mapping[str, np.ndarray],
    current: Mapping[str, np.ndarray],
    report: Mapping[str, Any],
) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    columns = 4
    rows = -(-len(FEATURES) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows))
    for axis, name in zip(axes.flat, FEATURES, strict=False):
        edges = np.histogram_bin_edges(np.concatenate([reference[name], current[name]]), bins=30)
        axis.hist(reference[name], bins=edges, density=True, alpha=0.5, label="training")
        axis.hist(current[name], bins=edges, density=True, alpha=0.5, label="recent")
        stats = report["features"][name]
        flag = " DRIFT" if stats["drifted"] else ""
        axis.set_title(f"{name}\nPSI {stats['psi']:.3f}  KS {stats['ks_statistic']:.3f}{flag}")
        axis.title.set_fontsize(9)
    for axis in list(axes.flat)[len(FEATURES) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def render_html(report: Mapping[str, Any], plot_png: bytes) -> str:
    """The report as one HTML page with no external resources."""
    esc = html.escape
    verdict = {
        STATUS_OK: "No drift: no retraining needed.",
        STATUS_DRIFT: "Drift detected: retraining is recommended.",
        STATUS_TOO_FEW: "Too few rows in the window to judge drift.",
    }[report["status"]]
    rows = "".join(
        f"<tr class={'drift' if f['drifted'] else 'ok'}><td>{esc(name)}</td>"
        f"<td>{f['psi']:.4f}</td><td>{f['ks_statistic']:.4f}</td><td>{f['ks_pvalue']:.3g}</td>"
        f"<td>{f['reference_mean']:.4f}</td><td>{f['current_mean']:.4f}</td>"
        f"<td>{'yes' if f['drifted'] else 'no'}</td></tr>"
        for name, f in report["features"].items()
    )
    window, limits = report["window"], report["thresholds"]
    image = base64.b64encode(plot_png).decode("ascii")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>textrepair drift report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}td:first-child{{text-align:left}}
tr.drift{{background:#fdd}}.verdict{{font-size:1.3em;font-weight:bold}}</style></head><body>
<h1>textrepair drift report</h1>
<p class="verdict" id="verdict">{esc(verdict)}</p>
<p>Generated {esc(report["generated_at"])}. Window: {window["rows"]} prediction-log rows from
{esc(window["start"])} to {esc(window["end"])}; by path {esc(str(window["rows_by_path"]))};
model versions {esc(str(window["model_versions"]))}; latency p50 {window["latency_ms_p50"]} ms,
p95 {window["latency_ms_p95"]} ms. Reference: {report["reference"]["rows"]} rows of
{esc(report["reference"]["source"])}.</p>
<p>A feature drifts when PSI &gt; {limits["psi"]} or KS &gt; {limits["ks_statistic"]} with
p &lt; {limits["ks_alpha"]}; retraining is recommended when more than
{limits["max_drifted_features"]} feature(s) drift and the window holds at least
{limits["min_rows"]} rows.</p>
<table><tr><th>feature</th><th>PSI</th><th>KS</th><th>KS p-value</th><th>training mean</th>
<th>recent mean</th><th>drift</th></tr>{rows}</table>
<h2>Distributions: training vs recent</h2>
<img alt="feature distributions" style="max-width:100%" src="data:image/png;base64,{image}">
</body></html>
"""
