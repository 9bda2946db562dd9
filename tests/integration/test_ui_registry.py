"""The app's registry tab and model labels, on a temporary MLflow registry."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from textrepair.config import Settings, read_params
from textrepair.model.source import resolve
from textrepair.ui.backend import registry_versions

pytestmark = pytest.mark.slow


def echo(model_input: list[str]) -> list[str]:
    """A stand-in model: the registry tab reads versions, metrics and tags, never predictions."""
    return model_input


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = read_params(Path(__file__).parents[2] / "params.yaml")
    params["mlflow"] = {"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db", "artifact_root": "a"}
    params["registry"] = {"model_name": "textrepair-ui-test"}
    yield Settings(**params)
    mlflow.set_tracking_uri(None)


def _register(name: str, cer_out: float) -> None:
    with mlflow.start_run():
        mlflow.log_metrics({"model.cer_out": cer_out, "train_loss": 1.0})
        mlflow.pyfunc.log_model(
            name="model",
            python_model=echo,
            pip_requirements=["mlflow"],
            registered_model_name=name,
        )


def test_versions_come_with_metrics_aliases_and_promotion_tags(settings):
    assert registry_versions(settings) == []  # also creates the experiment and store
    name = settings.registry.model_name
    _register(name, 0.08)
    _register(name, 0.05)
    client = MlflowClient()
    client.set_registered_model_alias(name, "champion", "2")
    client.set_model_version_tag(name, "2", "promotion.decision", "promoted")
    rows = registry_versions(settings)
    assert [row["version"] for row in rows] == [2, 1]
    assert rows[0]["aliases"] == "champion" and rows[1]["aliases"] == ""
    assert rows[0]["model.cer_out"] == pytest.approx(0.05)
    assert rows[0]["promotion.decision"] == "promoted"
    assert "train_loss" not in rows[0]  # only the model.* evaluation metrics
    target, info = resolve(f"models:/{name}@champion")
    assert (target, info.version, info.alias) == (f"models:/{name}/2", "2", "champion")
    assert resolve(f"models:/{name}/1")[1].version == "1"
