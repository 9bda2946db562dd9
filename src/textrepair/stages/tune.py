"""Hyper-parameter search: an Optuna study of short training runs, tracked in MLflow.

One parent MLflow run ("tune") holds one nested run per trial. Each trial trains on gold/train
within a small budget and is scored by its best validation loss; the parent records the best
parameters, and `reports/tune.json` keeps the whole study.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textrepair.config import ModelConfig, Settings, TrainConfig, TuneConfig
from textrepair.reports import REPORTS_DIR, write_metrics

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

TRIAL_DIR_PREFIX = "textrepair-tune-"


@dataclass
class TrialRecord:
    number: int
    run_id: str
    params: dict[str, Any]
    value: float | None
    state: str


@dataclass
class TuneResult:
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    best_run_id: str
    parent_run_id: str
    family: str
    trials: list[TrialRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------- search space
def sample_params(
    trial: optuna.Trial, model_config: ModelConfig, tune: TuneConfig
) -> dict[str, Any]:
    """Draw one trial's parameters for the configured model family."""
    if model_config.family == "edit":
        space = tune.edit
        lr = trial.suggest_float(
            "learning_rate", space.learning_rate.low, space.learning_rate.high, log=True
        )
        return {
            "learning_rate": lr,
            "batch_size": trial.suggest_categorical("batch_size", space.batch_size),
            "dropout": trial.suggest_float("dropout", space.dropout.low, space.dropout.high),
        }
    if model_config.family == "causal_lora":
        space = tune.causal_lora
        lr = trial.suggest_float(
            "learning_rate", space.learning_rate.low, space.learning_rate.high, log=True
        )
        return {"learning_rate": lr, "lora_r": trial.suggest_categorical("lora_r", space.lora_r)}
    byt5 = tune.byt5
    params = {
        "learning_rate": trial.suggest_float(
            "learning_rate", byt5.learning_rate.low, byt5.learning_rate.high, log=True
        ),
        "batch_size": trial.suggest_categorical("batch_size", byt5.batch_size),
    }
    if model_config.init_from is None:  # pretrained weights fix size and dropout
        params["dropout"] = trial.suggest_float("dropout", byt5.dropout.low, byt5.dropout.high)
        params["size"] = trial.suggest_categorical("size", byt5.size)
    return params


def trial_configs(
    settings: Settings, tune: TuneConfig, params: dict[str, Any], train_rows: int
) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs of one trial: settings + budgets + sampled params."""
    model_update = {k: params[k] for k in ("dropout", "size") if k in params}
    if "lora_r" in params:
        model_update["lora"] = settings.model.lora.model_copy(update={"r": params["lora_r"]})
    train_update = {k: params[k] for k in ("learning_rate", "batch_size") if k in params}
    train_update.update(max_minutes=tune.trial_minutes, max_steps=tune.trial_max_steps)
    train_config = settings.train.model_copy(update=train_update)
    # A trial must evaluate at least once before its budget ends, or it has no score.
    steps = _planned_steps(train_config, train_rows)
    train_config = train_config.model_copy(
        update={"eval_steps": max(1, min(train_config.eval_steps, steps))}
    )
    return settings.model.model_copy(update=model_update), train_config


def _planned_steps(config: TrainConfig, rows: int) -> int:
    rows = min(rows, config.max_train_rows) if config.max_train_rows else rows
    planned = math.ceil(math.ceil(rows / config.batch_size) * config.epochs)
    return min(planned, config.max_steps) if config.max_steps else planned


# ------------------------------------------------------------------------------------ the study
def run(settings: Settings, tune: TuneConfig, reports_dir: Path = REPORTS_DIR) -> TuneResult:
    """Search hyper-parameters with Optuna; one nested MLflow run per trial under a 'tune' run."""
    import mlflow
    import optuna

    from textrepair.data.gold import gold_rows
    from textrepair.lifecycle.tracking import flat_params, lineage_run
    from textrepair.stages.train import profile_rows

    rows = gold_rows(settings, ("train", "validation"))
    profile = settings.gold.profile
    train_rows = len(profile_rows(rows, "train", profile))
    records: list[TrialRecord] = []
    sampler = optuna.samplers.TPESampler(
        seed=tune.seed, n_startup_trials=min(tune.startup_trials, tune.n_trials)
    )
    study = optuna.create_study(direction="minimize", sampler=sampler, study_name="textrepair")
    tags = {"model.family": settings.model.family, "model.size": settings.model.size}
    with lineage_run(settings.mlflow, "tune", {**tags, "stage": "tune"}) as parent:
        mlflow.log_params(flat_params("tune", tune.model_dump(mode="json")))
        mlflow.log_params({"data.train_rows": train_rows, "data.profile": profile})
        study.optimize(
            lambda trial: _objective(trial, settings, tune, rows, train_rows, records),
            tune.n_trials,
        )
        result = _result(study, parent.info.run_id, settings.model.family, records)
        mlflow.log_params({f"best.{k}": v for k, v in result.best_params.items()})
        mlflow.log_metric("best_eval_loss", result.best_value)
        mlflow.set_tags({"best_trial": str(result.best_trial), "best_run_id": result.best_run_id})
        path = write_metrics("tune", result.to_dict(), reports_dir)
        mlflow.log_artifact(str(path), artifact_path="tune")
    log.info("best eval loss %.4f with %s", result.best_value, result.best_params)
    return result


def _objective(
    trial: optuna.Trial,
    settings: Settings,
    tune: TuneConfig,
    rows: list[dict[str, Any]],
    train_rows: int,
    records: list[TrialRecord],
) -> float:
    import mlflow
    import optuna

    from textrepair.stages.train import fit

    params = sample_params(trial, settings.model, tune)
    model_config, train_config = trial_configs(settings, tune, params, train_rows)
    with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True) as run:
        record = TrialRecord(trial.number, run.info.run_id, params, None, "running")
        records.append(record)
        mlflow.set_tag("trial_number", str(trial.number))
        mlflow.log_params(params)
        mlflow.log_metric("trial_number", trial.number)
        with tempfile.TemporaryDirectory(prefix=TRIAL_DIR_PREFIX) as output_dir:
            # report_to=(): the HF MLflow callback would open its own run and break the nesting.
            result = fit(settings, model_config, train_config, rows, Path(output_dir))
        _log_history(result.log_history)
        mlflow.log_metrics({"train_steps": result.steps, "train_seconds": result.train_seconds})
        mlflow.set_tag("stopped_by", result.stopped_by)
        if result.best_eval_loss is None:
            record.state = "pruned"
            mlflow.set_tag("trial_state", record.state)
            raise optuna.TrialPruned("the trial ended before any evaluation")
        record.value, record.state = float(result.best_eval_loss), "complete"
        mlflow.log_metric("best_eval_loss", record.value)
        mlflow.set_tag("trial_state", record.state)
    return record.value


def _log_history(history: list[dict[str, Any]]) -> None:
    """Per-step losses of a trial, so its curve can be compared with the others."""
    import mlflow

    for entry in history:
        for key in ("loss", "eval_loss"):
            if key in entry:
                mlflow.log_metric(key, float(entry[key]), step=int(entry.get("step", 0)))


def _result(
    study: optuna.Study, parent_run_id: str, family: str, records: list[TrialRecord]
) -> TuneResult:
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise RuntimeError("no tuning trial completed: raise trial_minutes or trial_max_steps")
    best = study.best_trial
    return TuneResult(
        best_params=dict(best.params),
        best_value=float(best.value),
        best_trial=best.number,
        best_run_id=next(r.run_id for r in records if r.number == best.number),
        parent_run_id=parent_run_id,
        family=family,
        trials=records,
    )
