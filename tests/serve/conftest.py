"""Fixtures for the service tests: a tiny random byte-T5 on disk, and uvicorn on 127.0.0.1.

Servers run for real (uvicorn, HTTP over loopback), in a thread when a test injects a repairer and
in a subprocess (`textrepair serve`) when it exercises the command itself.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import torch

from textrepair.config import Settings, read_params
from textrepair.model.families import ModelConfig, build_model, save_model
from textrepair.model.repairer import Repairer

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model gains nothing from threads on a shared 2-core box
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = ModelConfig(family="byt5", size="tiny", dropout=0.0)
    model, tokenizer = build_model(config)
    return save_model(model.eval(), tokenizer, config, tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_repairer(tiny_model_dir) -> Repairer:
    return Repairer.load(tiny_model_dir)


def serve_settings(tmp: Path, **serve) -> Settings:
    """Repository params with temporary MLflow URIs and the given `serve` values."""
    params = read_params(REPO_PARAMS)
    params["mlflow"] = {
        "tracking_uri": f"sqlite:///{tmp}/mlflow.db",
        "artifact_root": str(tmp / "mlartifacts"),
        "experiment": "serve-test",
    }
    params["serve"] = {**params.get("serve", {}), **serve}
    return Settings(**params)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"condition not met within {timeout} s")


@contextmanager
def running(app) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
