"""Loading a registered model runs none of its code: a version whose pickle would write a marker
file serves (API, batch/stream scoring, UI/CLI loader) without writing it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from servers import running, serve_settings, wait_until

from textrepair.lifecycle.tracking import configure_mlflow
from textrepair.model.pyfunc import ARTIFACT_KEY, load_repairer
from textrepair.scoring import resolve_model, worker_repairer
from textrepair.serve.app import create_app

pytestmark = pytest.mark.slow
SOURCE = "models:/textrepair@champion"


class Trap(mlflow.pyfunc.PythonModel):
    """Unpickling this object creates `marker` (what foreign code in a pickle could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))

    def predict(self, context, model_input, params=None):  # never reached
        raise AssertionError("the pickled model ran")


@pytest.fixture
def trapped(tmp_path, tiny_model_dir):
    """@champion: the tiny model's files, packaged with a pickle that writes a marker."""
    settings = serve_settings(tmp_path)
    configure_mlflow(settings.mlflow)
    marker = tmp_path / "pickle-ran"
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=Trap(marker),
            artifacts={ARTIFACT_KEY: str(tiny_model_dir)},
            pip_requirements=["mlflow"],  # inferring them would load (unpickle) the model
            registered_model_name="textrepair",
        )
    assert not marker.exists()
    MlflowClient().set_registered_model_alias("textrepair", "champion", "1")
    yield settings, marker
    mlflow.set_tracking_uri(None)


def test_the_api_serves_a_trapped_version_without_unpickling_it(trapped):
    settings, marker = trapped
    with running(create_app(settings, source=SOURCE)) as url:
        wait_until(lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 200)
        answer = requests.post(f"{url}/v1/repair", json={"texts": ["and the earth"]}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"]["version"] == "1"
    assert not marker.exists()


def test_scoring_and_the_shared_loader_do_not_unpickle_either(trapped, tmp_path):
    _, marker = trapped
    assert load_repairer(SOURCE).repair(["and the earth"])  # CLI, UI, registry scoring
    model = resolve_model(SOURCE, download_dir=tmp_path / "download")  # batch and stream
    assert worker_repairer(model).repair(["and the earth"])
    assert not marker.exists()
    # The trap is real: MLflow's own pyfunc loader runs it.
    with contextlib.suppress(Exception):
        mlflow.pyfunc.load_model(SOURCE)
    assert marker.exists()
