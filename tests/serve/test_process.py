"""`textrepair serve` and `textrepair export` as a user runs them: uvicorn in a subprocess on
127.0.0.1, the model from a temporary MLflow registry (sqlite), reloads by API and by polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
import requests
import yaml
from mlflow import MlflowClient
from servers import free_port, serve_settings, wait_until
from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.lifecycle.tracking import configure_mlflow
from textrepair.model.pyfunc import log_repairer

pytestmark = pytest.mark.slow
KEY = "process-key"
ADMIN = "process-admin-key"
SRC = Path(__file__).parents[2] / "src"


@pytest.fixture
def registry(tmp_path, tiny_model_dir, monkeypatch):
    """Versions 1 and 2 of `textrepair` (the tiny model), @champion on 1; a params file."""
    monkeypatch.chdir(tmp_path)
    settings = serve_settings(tmp_path)
    configure_mlflow(settings.mlflow)
    with mlflow.start_run() as run:
        logged = log_repairer(tiny_model_dir, settings.registry.model_name)
    client = MlflowClient()
    # Version 2: the same logged model registered again (logging costs seconds; loading is real).
    client.create_model_version("textrepair", logged.model_uri, run.info.run_id)
    client.set_registered_model_alias("textrepair", "champion", "1")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    yield client
    mlflow.set_tracking_uri(None)


@contextmanager
def serve_process(cwd: Path, *args: str, **env: str) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "TEXTREPAIR_PARAMS": str(cwd / "params.yaml"),
        **env,
    }
    command = [sys.executable, "-m", "textrepair", "serve", "--port", str(port), *args]
    log = (cwd / f"serve-{port}.log").open("w")
    process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url, process), timeout=120, every=0.25)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)  # as Kubernetes stops a pod
        code = process.wait(timeout=60)
        log.close()
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert code in (0, -signal.SIGTERM), code
        assert "Application shutdown complete" in (cwd / f"serve-{port}.log").read_text()


def _ready(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"textrepair serve exited with {process.returncode}")
    return requests.get(f"{url}/readyz", timeout=5).status_code == 200


def _version(url: str) -> str:
    answer = requests.post(
        f"{url}/v1/repair",
        json={"texts": ["and the earth"]},
        headers={"X-API-Key": KEY},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["model"]["version"]


def test_serves_the_champion_and_reloads_it_by_api_and_by_polling(registry, tmp_path):
    env = {
        "TEXTREPAIR_SERVE__API_KEY": KEY,
        "TEXTREPAIR_SERVE__ADMIN_API_KEY": ADMIN,
        "TEXTREPAIR_SERVE__RELOAD_INTERVAL_S": "0.5",
    }
    with serve_process(tmp_path, **env) as url:
        assert _version(url) == "1"
        info = requests.get(f"{url}/readyz", timeout=5).json()["model"]
        assert info == {
            "name": "textrepair",
            "version": "1",
            "alias": "champion",
            "source": "models:/textrepair@champion",
        }

        registry.set_registered_model_alias("textrepair", "champion", "2")  # promote: polled
        wait_until(lambda: _version(url) == "2", timeout=60, every=0.5)

        _break_artifacts(tmp_path)
        registry.set_registered_model_alias("textrepair", "champion", "1")
        answer = requests.post(f"{url}/admin/reload", headers={"X-API-Key": ADMIN}, timeout=60)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] and answer.json()["model"]["version"] == "2"
        assert _version(url) == "2"  # the old model still answers


def _break_artifacts(tmp: Path) -> None:
    """Delete the stored weights of every logged model: any new load from the registry fails."""
    for weights in (tmp / "mlartifacts").rglob("model.safetensors"):
        weights.unlink()


def test_export_writes_a_self_contained_directory_that_serves(registry, tmp_path):
    out = tmp_path / "exported"
    result = CliRunner().invoke(
        app, ["export", "--output", str(out), "--params", str(tmp_path / "params.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "exported textrepair version 1" in result.stdout
    serving = json.loads((out / "serving.json").read_text())
    assert (serving["name"], serving["version"], serving["alias"]) == (
        "textrepair",
        "1",
        "champion",
    )
    assert all(f.stat().st_mode & 0o444 == 0o444 for f in out.iterdir())  # any user reads it
    _break_artifacts(tmp_path)  # the image has no registry: the copy must stand alone
    with serve_process(tmp_path, "--model", str(out)) as url:
        answer = requests.post(f"{url}/v1/repair", json={"texts": ["a b"]}, timeout=60).json()
        assert answer["model"]["version"] == "1" and answer["model"]["alias"] == "champion"
    again = CliRunner().invoke(app, ["export", "--output", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output
