"""The train stage: fit a model on gold/train, validating on gold/validation, in a tracked run.

The run records params, per-step metrics, the training curves and its lineage (git commit, DVC
hash of gold). With `train.release` set the committed release is adopted instead (stages/adopt.py).
Evaluation and registration are the next stages (stages/evaluate.py, stages/register.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textrepair.config import ModelConfig, Settings, TrainConfig
from textrepair.data.gold import gold_rows
from textrepair.lifecycle.trainrun import CURVES_FILE, TrainRun, plot_training_curves

if TYPE_CHECKING:
    from textrepair.model.train import TrainResult


def run(settings: Settings, *, resume: bool = False, from_scratch: bool = False) -> TrainRun:
    """Train on gold/train (validating on gold/validation) inside a new MLflow run.

    With `train.release` set (and not `from_scratch`), adopt that release model instead.
    """
    if settings.train.release and not from_scratch:
        from textrepair.stages import adopt

        return adopt.run(settings, Path(settings.train.release))
    import mlflow

    from textrepair.lifecycle.tracking import flat_params, lineage_run

    rows = gold_rows(settings, ("train", "validation"))
    profile = settings.gold.profile
    output_dir = Path(settings.train_output_dir)
    model_config, train_config = settings.model, settings.train
    tags = {"model.family": model_config.family, "model.size": model_config.size}
    run_name = f"{model_config.family}-{model_config.size}"
    with lineage_run(settings.mlflow, run_name, tags) as tracked:
        mlflow.log_params(flat_params("model", model_config.model_dump(mode="json")))
        mlflow.log_params(flat_params("train", train_config.model_dump(mode="json")))
        train_rows = len(profile_rows(rows, "train", profile))
        mlflow.log_params({"data.train_rows": train_rows, "data.profile": profile})
        result = fit(
            settings,
            model_config,
            train_config,
            rows,
            output_dir,
            resume=resume,
            report_to=["mlflow"],
            on_metrics=lambda metrics, step: mlflow.log_metrics(metrics, step=step),
        )
        mlflow.log_metrics(
            {"train_seconds": result.train_seconds, "train_steps": float(result.steps)}
        )
        mlflow.set_tag("stopped_by", result.stopped_by)
        if result.best_step is not None:
            mlflow.log_metric("best_step", float(result.best_step))
        curves = plot_training_curves(result.log_history, output_dir / CURVES_FILE)
        mlflow.log_artifact(str(curves), artifact_path="evaluation")
    trained = TrainRun(
        tracked.info.run_id,
        str(result.model_dir),
        result.steps,
        result.stopped_by,
        result.best_step,
    )
    trained.save(output_dir)
    return trained


def profile_rows(rows: list[dict[str, Any]], split: str, profile: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["split"] == split and r["profile"] == profile]


def training_pairs(rows: list[dict[str, Any]], split: str, profile: str) -> list[tuple[str, str]]:
    return [(r["corrupted"], r["clean"]) for r in profile_rows(rows, split, profile)]


def damaged_copies(
    rows: list[dict[str, Any]], settings: Settings, copies: int
) -> list[tuple[str, str]]:
    """(corrupted, clean) pairs: `copies` fresh damaged copies of each gold row's clean text.

    Drawn like gold's own damage (main profile, clean fraction), but copy k of a row is seeded
    with (seed, row id, "profile#k"), so no copy repeats gold's damage or another copy's.
    """
    from textrepair.data.mutations import Mutator, damage_or_keep, row_rng

    gold = settings.gold
    mutator = Mutator(settings.mutation_profiles[gold.profile])
    pairs = []
    for row in rows:
        for copy in range(1, copies + 1):
            rng = row_rng(settings.seed, row["id"], f"{gold.profile}#{copy}")
            corrupted, _ = damage_or_keep(row["clean"], mutator, rng, gold.clean_fraction)
            pairs.append((corrupted, row["clean"]))
    return pairs


def fit(
    settings: Settings,
    model_config: ModelConfig,
    train_config: TrainConfig,
    rows: list[dict[str, Any]],
    output_dir: Path,
    *,
    resume: bool = False,
    report_to: Sequence[str] = (),
    on_metrics: Callable[[dict[str, float], int], None] | None = None,
) -> TrainResult:
    """Train one model of any family on gold/train, validating on gold/validation.

    The generative families train on (corrupted, clean) pairs with the Trainer (`report_to`
    logs their curves); the edit family draws fresh damage of the clean train windows and
    reports through `on_metrics`.
    """
    from textrepair.model.train import train

    profile = settings.gold.profile
    if model_config.family == "edit":
        return _fit_edit(settings, model_config, train_config, rows, output_dir, resume, on_metrics)
    if train_config.damaged_copies:
        gold_train = profile_rows(rows, "train", profile)
        train_pairs = damaged_copies(gold_train, settings, train_config.damaged_copies)
    else:
        train_pairs = training_pairs(rows, "train", profile)
    validation_pairs = training_pairs(rows, "validation", profile)
    return train(
        model_config,
        train_config,
        train_pairs,
        validation_pairs,
        output_dir,
        resume=resume,
        report_to=report_to,
        max_window_bytes=settings.silver.max_window_bytes,
    )


def _fit_edit(
    settings: Settings,
    model_config: ModelConfig,
    train_config: TrainConfig,
    rows: list[dict[str, Any]],
    output_dir: Path,
    resume: bool,
    on_metrics: Callable[[dict[str, float], int], None] | None,
) -> TrainResult:
    from textrepair.data.mutations import Mutator
    from textrepair.model.edit_train import train_edit_model, validation_examples

    profile = settings.gold.profile
    clean_windows = [r["clean"] for r in profile_rows(rows, "train", profile)]
    profiles = {name: Mutator(spec) for name, spec in settings.mutation_profiles.items()}
    return train_edit_model(
        model_config,
        train_config,
        clean_windows,
        validation_examples(profile_rows(rows, "validation", profile)),
        profiles,
        settings.gold.clean_fraction,
        output_dir,
        resume=resume,
        on_metrics=on_metrics or (lambda metrics, step: None),
        max_window_bytes=settings.silver.max_window_bytes,
    )
