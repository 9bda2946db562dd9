"""The evaluate stage: a model and the baselines on the same gold rows (test by default).

`run` scores the last trained model and logs the report to its MLflow run (with the test-set
fingerprint that lets promotion reuse these numbers); `evaluate` scores any loaded model, on
gold/test or, to choose between models without reading test, on gold/validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textrepair.config import Settings
from textrepair.data.gold import gold_rows
from textrepair.lifecycle.trainrun import TrainRun
from textrepair.reports import REPORTS_DIR

TEST_SET_TAG = "evaluation.test_set"
REPORT_FILES = ("evaluation.json", "evaluation.md", "cer_by_type.png")


def run(
    settings: Settings, reports_dir: Path = REPORTS_DIR, compare: Sequence[Path] = ()
) -> dict[str, Any]:
    """Evaluate the last trained model (beside `compare`) and log the report to its run."""
    import mlflow

    from textrepair.lifecycle.tracking import configure_mlflow
    from textrepair.model.repairer import Repairer

    trained = TrainRun.load(Path(settings.train_output_dir))
    report = evaluate(settings, Repairer.load(trained.model_dir), reports_dir, compare)
    configure_mlflow(settings.mlflow)
    fingerprint = test_set_fingerprint(settings)
    with mlflow.start_run(run_id=trained.run_id):
        mlflow.log_metrics(final_metrics(report))
        if fingerprint is not None:  # lets promote reuse these numbers instead of scoring again
            mlflow.set_tag(TEST_SET_TAG, fingerprint)
        for name in REPORT_FILES:
            mlflow.log_artifact(str(reports_dir / name), artifact_path="evaluation")
    return report


def evaluate(
    settings: Settings,
    repairer: Any,
    reports_dir: Path = REPORTS_DIR,
    compare: Sequence[Path] = (),
    split: str = "test",
) -> dict[str, Any]:
    """Evaluate a Repairer and the baselines on the evaluation rows; write the report and plot.

    Each model directory in `compare` is evaluated on the same rows as one more system, named
    after its directory (e.g. the previous release beside a new model). `split` is the gold
    split the rows come from (`test`, or `validation` to compare models before a release).
    """
    from textrepair.lifecycle.evaluation import (
        build_report,
        default_baselines,
        plot_cer_by_type,
        write_report,
    )
    from textrepair.model.repairer import Repairer

    systems = dict(default_baselines())
    for path in compare:
        systems[system_name(Path(path), {"model", *systems})] = predict_fn(Repairer.load(path))
    rows = evaluation_rows(settings, split)
    report = build_report(predict_fn(repairer), rows, eval_config(settings, split), systems)
    write_report(report, reports_dir)
    plot_cer_by_type(report, reports_dir / "cer_by_type.png")
    return report


def system_name(path: Path, taken: set[str]) -> str:
    """A compared model's name in the report: its directory's name, with as many parent
    directories as it takes to differ from the names in `taken` (`artifacts/x/model` is not
    `model`, the evaluated model)."""
    parts = path.resolve().parts
    for count in range(1, len(parts) + 1):
        name = "/".join(parts[-count:])
        if name not in taken:
            return name
    raise ValueError(f"{path} is compared twice")


def evaluation_rows(settings: Settings, split: str = "test") -> list[dict[str, Any]]:
    """Gold rows of `split`, at most `evaluate.max_rows_per_set` of each profile, shared by
    source."""
    from textrepair.lifecycle.evaluation import sample_test_rows

    rows = gold_rows(settings, (split,))
    cap = settings.evaluate.max_rows_per_set
    return [dict(row) for row in sample_test_rows(rows, cap, split)]


def test_set_fingerprint(settings: Settings) -> str | None:
    """Names the evaluation rows: gold's DVC hash, main profile, row cap (None: hash unknown)."""
    from textrepair.lifecycle.tracking import data_version

    version = data_version()
    if version == "unknown":
        return None
    return (
        f"gold={version};profile={settings.gold.profile};"
        f"rows_per_set={settings.evaluate.max_rows_per_set}"
    )


def predict_fn(repairer: Any) -> Callable[[list[str]], list[str]]:
    """A Repairer as the texts -> texts function the evaluation scores."""
    return lambda texts: [result.text for result in repairer.repair(texts)]


def eval_config(settings: Settings, split: str = "test") -> Any:
    from textrepair.lifecycle.evaluation import EvalConfig

    return EvalConfig(
        main_profile=settings.gold.profile,
        split=split,
        n_resamples=settings.evaluate.n_resamples,
        batch_size=settings.evaluate.batch_size,
    )


def final_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Headline numbers of the model and the baselines as MLflow metrics."""
    systems = {"model": report["model"], **report["baselines"]}
    out = {}
    for name, metrics in systems.items():
        for key in ("cer_in", "cer_out", "cer_reduction", "wer_out", "exact_match", "broken_rate"):
            value = metrics[key]["value"]
            if value is not None:
                out[f"{name}.{key}"] = float(value)
        for kind, per_type in metrics.get("per_type", {}).items():
            value = per_type["cer_reduction"]["value"]
            if value is not None:
                out[f"{name}.{kind}.cer_reduction"] = float(value)
    return out
