"""train → evaluate → register → promote → repair through the CLI, on a tiny gold table.

A tiny random byte-T5 trains for a few steps; MLflow uses a temporary sqlite store. What is
checked is the wiring (runs, reports, registry aliases and tags, CLI output), not model quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.config import Settings

pytestmark = pytest.mark.slow


def _params(tmp: Path, tiny_params) -> dict:
    params = tiny_params(tmp, "lifecycle-test")
    params["train"].update(max_steps=4, eval_steps=2)
    params["evaluate"].update(max_rows_per_set=6, n_resamples=20, batch_size=8)
    # The tiny model's quality is not the point here: accept any broken rate.
    params["registry"].update(max_broken_rate=1.0)
    return params


@pytest.fixture
def project(tmp_path, monkeypatch, tiny_params, write_tiny_gold):
    monkeypatch.chdir(tmp_path)
    params = _params(tmp_path, tiny_params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_tiny_gold(Settings(**params), 60)
    yield tmp_path
    mlflow.set_tracking_uri(None)


def test_train_evaluate_register_promote_repair(project: Path, cli):
    out = cli("train")
    assert "trained 4 steps" in out and "step budget" in out
    run = json.loads((project / "train" / "run.json").read_text())
    assert (Path(run["model_dir"]) / "model.safetensors").exists()

    out = cli("evaluate", "--trained")
    report = json.loads((project / "reports" / "evaluation.json").read_text())
    assert set(report) == {"split", "model", "baselines"} and report["split"] == "test"
    assert set(report["baselines"]) == {"identity", "symspell"}
    assert report["baselines"]["identity"]["cer_reduction"]["value"] == pytest.approx(0.0)
    assert set(report["model"]["per_type"]) == {
        "deletion",
        "substitution",
        "insertion",
        "duplication",
        "reversal",
    }
    assert "symspell" in out

    client = MlflowClient()
    logged = client.get_run(run["run_id"])
    assert logged.data.tags["model.family"] == "byt5"
    assert "git_commit" in logged.data.tags and "data_version" in logged.data.tags
    assert "model.cer_out" in logged.data.metrics
    assert "train.learning_rate" in logged.data.params
    history = client.get_metric_history(run["run_id"], "eval_loss")
    assert len(history) >= 2  # per-step metrics from the Trainer
    # The saved weights are the best evaluated checkpoint, and the run says which step that was.
    best = min(history, key=lambda point: point.value)
    assert run["best_step"] == best.step == logged.data.metrics["best_step"]

    assert "version 1" in cli("register")
    assert "version 1 promoted" in cli("promote")
    assert "already @champion: nothing to do" in cli("promote")  # a rerun changes nothing
    champion = client.get_model_version_by_alias("textrepair", "champion")
    assert str(champion.version) == "1"

    # The same model registered again cannot beat itself by the margin.
    assert "version 2" in cli("register")
    assert "version 2 not promoted" in cli("promote")
    tags = client.get_model_version("textrepair", "2").tags
    assert tags["promotion.decision"] == "rejected"
    assert tags["promotion.champion_version"] == "1"

    lines = ["Teh quick brwon fox.", "", "jumps over the the lazy dog"]
    (project / "input.txt").write_text("\n".join(lines) + "\n")
    out = cli("repair", "--file", "input.txt")
    assert len(out.splitlines()) == len(lines)
    assert out.splitlines()[1] == ""  # empty lines pass through

    single = cli("repair", "Teh quick brwon fox.")
    assert len(single.splitlines()) == 1


def test_repair_with_a_missing_model_is_a_clear_error(project: Path):
    result = CliRunner().invoke(
        app, ["repair", "some text", "--model", "no/such/dir", "--params", "params.yaml"]
    )
    assert result.exit_code == 2
    assert "cannot load model no/such/dir" in result.output
