"""Servers for the service tests: uvicorn on 127.0.0.1, in a thread when a test injects a
repairer (`running`), and settings with temporary MLflow URIs. The subprocess server
(`textrepair serve` itself) is in test_process.py."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from textrepair.config import Settings, read_params

REPO_PARAMS = Path(__file__).parents[2] / "params.yaml"


def serve_settings(tmp: Path, **serve) -> Settings:
    """Repository params with temporary MLflow URIs and the given `serve` values."""
    params = read_params(REPO_PARAMS)
    params["storage"] = {"root": str(tmp / "lake")}  # the prediction log goes here
    params["mlflow"] = {
        "tracking_uri": f"sqlite:///{tmp}/mlflow.db",
        "artifact_root": str(tmp / "mlartifacts"),
        "experiment": "serve-test",
    }
    # A generous deadline: a loaded test machine must not turn slow answers into 503s.
    params["serve"] = {**params.get("serve", {}), "request_timeout_seconds": 600, **serve}
    params["monitor"] = {**params.get("monitor", {}), "spill_file": str(tmp / "spill.jsonl")}
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
