"""textrepair logs through a real `mlflow server` on 127.0.0.1: runs, artifacts, registry, aliases.

The server gets a sqlite store and a proxied artifact store in a temporary directory, one worker
and no job runner (the machine is small). The experiment's artifact location is
`mlflow-artifacts:///...`: it has no host, so the client resolves it against the tracking URI and
every artifact goes through the server's proxy, as it would to a remote server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from textrepair.config import MlflowConfig, RegistryConfig
from textrepair.lifecycle.registry import CHALLENGER, CHAMPION, promote
from textrepair.lifecycle.tracking import configure_mlflow

START_TIMEOUT = 60.0
EXPERIMENT = "textrepair-server-test"
REGISTRY = RegistryConfig(model_name="textrepair-server-test")


@dataclass
class Server:
    url: str
    root: Path
    artifacts: Path
    start_seconds: float


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class ServerStartError(RuntimeError):
    """The server process exited, or did not answer /health in time."""


def _wait_healthy(process: subprocess.Popen, url: str, timeout: float) -> float:
    """Seconds until `url` answers /health; ServerStartError once the process exits or `timeout`
    seconds pass (plus at most one probe)."""
    started = time.monotonic()
    while not _healthy(url):
        if process.poll() is not None:
            raise ServerStartError(f"exited with {process.returncode}")
        if time.monotonic() - started > timeout:
            raise ServerStartError(f"not healthy after {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def _stop(process: subprocess.Popen) -> None:
    """Terminate the server and its uvicorn workers (its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "mlartifacts"
    url = f"http://127.0.0.1:{_free_port()}"
    port = url.rsplit(":", 1)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no huey job runner next to the server
    log_path = root / "server.log"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(artifacts),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        try:
            seconds = _wait_healthy(process, url, START_TIMEOUT)
        except ServerStartError as error:
            output = log_path.read_text(errors="replace")[-4000:]
            pytest.fail(f"mlflow server {error}: {' '.join(command)}\n--- output ---\n{output}")
        print(f"\nmlflow server healthy at {url} after {seconds:.1f} s")
        yield Server(url, root, artifacts, seconds)
    finally:
        _stop(process)


@pytest.fixture
def tracking(server: Server) -> Iterator[Server]:
    configure_mlflow(
        MlflowConfig(
            tracking_uri=server.url,
            artifact_root=f"mlflow-artifacts:///{EXPERIMENT}",
            experiment=EXPERIMENT,
        )
    )
    yield server
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    """A process that stays up and serves nothing."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    yield process
    _stop(process)


def test_a_server_that_never_answers_fails_the_start_at_its_timeout(sleeper) -> None:
    """The port accepts connections but nothing answers: the start fails once the budget is
    spent (one 2-second probe late at most), not before and not never."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ServerStartError, match="not healthy after 3 s"):
            _wait_healthy(sleeper, url, timeout=3.0)
        elapsed = time.monotonic() - started
    assert 3.0 <= elapsed < 3.0 + 2 + 1.5, elapsed


def test_a_server_that_exits_fails_the_start_at_once() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    started = time.monotonic()
    with pytest.raises(ServerStartError, match="exited with 3"):
        _wait_healthy(process, f"http://127.0.0.1:{_free_port()}", timeout=START_TIMEOUT)
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_runs_models_and_aliases_go_through_the_server(tracking: Server, record_property) -> None:
    record_property("mlflow_server_start_seconds", round(tracking.start_seconds, 1))
    with mlflow.start_run(run_name="server-test") as run:
        mlflow.log_params({"model.family": "byt5", "train.max_steps": 2})
        for step, loss in enumerate([1.5, 0.9]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("cer_out", 0.05)
        mlflow.log_text("# evaluation\n", "evaluation/evaluation.md")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Echo(),
            pip_requirements=["mlflow"],
            input_example=pd.DataFrame({"text": ["Teh fox"]}),
            registered_model_name=REGISTRY.model_name,
        )
    version = str(info.registered_model_version)

    scored: list[str] = []

    def score(v: str) -> dict[str, float]:
        scored.append(v)
        return {"cer_out": 0.05, "broken_rate": 0.0}

    decision = promote(MlflowClient(), REGISTRY, score, version=version)
    assert decision.promoted and decision.reason == "no champion yet"
    assert scored == [version]

    # A fresh client that knows nothing but the server's URL sees everything.
    client = MlflowClient(tracking_uri=tracking.url)
    logged = client.get_run(run.info.run_id)
    assert logged.data.params == {"model.family": "byt5", "train.max_steps": "2"}
    assert logged.data.metrics == {"loss": 0.9, "cer_out": 0.05}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.5, 0.9]
    assert logged.info.artifact_uri.startswith(f"mlflow-artifacts:/{EXPERIMENT}/")
    listed = [a.path for a in client.list_artifacts(run.info.run_id, "evaluation")]
    assert listed == ["evaluation/evaluation.md"]
    for alias in (CHAMPION, CHALLENGER):
        assert str(client.get_model_version_by_alias(REGISTRY.model_name, alias).version) == version
    tags = client.get_model_version(REGISTRY.model_name, version).tags
    assert tags["promotion.decision"] == "promoted"

    # The artifacts went through the proxy into the server's --artifacts-destination...
    stored = list(tracking.artifacts.rglob("evaluation.md"))
    assert len(stored) == 1 and stored[0].read_text() == "# evaluation\n"
    # ...and the champion loads back through it.
    model = mlflow.pyfunc.load_model(f"models:/{REGISTRY.model_name}@{CHAMPION}")
    frame = pd.DataFrame({"text": ["hello"]})
    pd.testing.assert_frame_equal(model.predict(frame), frame)
