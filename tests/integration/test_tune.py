"""`run_tune` on a tiny gold table: an Optuna study whose trials are nested MLflow runs.

Two tiny byte-T5 trials of two steps each, with a temporary sqlite MLflow store. What is checked is
the tracking (parent/child runs, params, metrics) and the report, not the quality of the search.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pytest

from textrepair.config import Byt5Space, Settings, TuneConfig
from textrepair.stages.tune import TRIAL_DIR_PREFIX
from textrepair.stages.tune import run as run_tune

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path, monkeypatch, tiny_params, write_tiny_gold):
    monkeypatch.chdir(tmp_path)
    # Trial output dirs go under tmp_path, so the test can see they are cleaned up.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    params = tiny_params(tmp_path, "tune-test")
    params["train"].update(eval_steps=200, threads=1)
    settings = Settings(**params)
    write_tiny_gold(settings, 40)
    yield settings
    mlflow.set_tracking_uri(None)


def test_each_trial_is_a_nested_run_and_the_best_is_reported(settings: Settings, tmp_path: Path):
    # eval_steps=200 in settings: the trials must still evaluate within their 2-step budget.
    tune = TuneConfig(
        n_trials=2, trial_max_steps=2, seed=7, byt5=Byt5Space(batch_size=[4, 8], size=["tiny"])
    )
    result = run_tune(settings, tune)

    parent = mlflow.get_run(result.parent_run_id)
    assert parent.info.run_name == "tune"
    assert {"git_commit", "data_version"} <= set(parent.data.tags)
    children = mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
        output_format="list",
    )
    assert len(children) == tune.n_trials

    sampled = {"learning_rate", "batch_size", "dropout", "size"}
    values = {}
    for child in children:
        assert sampled <= set(child.data.params)
        number = int(child.data.tags["trial_number"])
        trial = next(t for t in result.trials if t.number == number)
        assert trial.run_id == child.info.run_id
        assert child.data.params["size"] == "tiny"
        assert child.data.params["batch_size"] == str(trial.params["batch_size"])
        assert float(child.data.params["learning_rate"]) == pytest.approx(
            trial.params["learning_rate"]
        )
        assert child.data.metrics["train_steps"] == 2
        values[child.info.run_id] = child.data.metrics["best_eval_loss"]

    assert result.best_value == pytest.approx(min(values.values()))
    assert values[result.best_run_id] == pytest.approx(result.best_value)
    assert parent.data.metrics["best_eval_loss"] == pytest.approx(result.best_value)
    for name, value in result.best_params.items():
        assert parent.data.params[f"best.{name}"] == str(value)

    report = json.loads((tmp_path / "reports" / "tune.json").read_text())
    assert report["best_value"] == pytest.approx(result.best_value)
    assert report["parent_run_id"] == result.parent_run_id
    assert len(report["trials"]) == tune.n_trials
    assert not list((tmp_path / "tmp").glob(f"{TRIAL_DIR_PREFIX}*"))


def test_tune_config_rejects_a_bad_space():
    with pytest.raises(ValueError, match="above high"):
        TuneConfig.model_validate({"byt5": {"dropout": {"low": 0.3, "high": 0.1}}})
    with pytest.raises(ValueError, match="above 0"):
        TuneConfig.model_validate({"causal_lora": {"learning_rate": {"low": 0, "high": 1e-3}}})
    with pytest.raises(ValueError, match="Extra inputs"):
        TuneConfig.model_validate({"n_trail": 3})
