"""The Streamlit app through Streamlit's AppTest: a tiny model in a directory, or a fake API."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pytest
from streamlit.testing.v1 import AppTest
from ui_project import write_project, write_tiny_model

from textrepair.data import tables
from textrepair.ui import APP_SCRIPT

pytestmark = pytest.mark.slow
TIMEOUT = 120  # seconds for one script run: the first one loads torch and the model


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture
def project(tmp_path, monkeypatch, tiny_params, write_tiny_gold, tracking_uri):
    params = write_project(tmp_path, tiny_params, write_tiny_gold, tracking_uri)
    monkeypatch.setenv("TEXTREPAIR_PARAMS", str(tmp_path / "params.yaml"))
    monkeypatch.setenv("TEXTREPAIR_UI__MODEL", str(write_tiny_model(tmp_path / "model")))
    yield params
    mlflow.set_tracking_uri(None)


def _run(at: AppTest | None = None) -> AppTest:
    at = at or AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _html(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_sample_is_damaged_repaired_and_logged(project):
    at = _run()
    assert at.title[0].value == "textrepair"
    assert [t.label for t in at.tabs] == ["Repair", "Model vs SymSpell", "Registry"]
    page = _html(at)
    for heading in ("**Original**", "**Corrupted**", "**Repaired**", "**Model**", "**SymSpell**"):
        assert heading in page
    assert page.count('class="tr-text"') == 5  # three texts, then model and SymSpell
    assert 'class="tr-' in page.split("**Corrupted**")[1]  # the default rates damage the sample
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Model version"].startswith("dir:model@")  # the weights' hash, as batch logs
    assert {"CER before", "CER after", "Model CER", "SymSpell CER"} <= set(metrics)
    assert at.radio(key="source").value == "Sample from gold/test"
    assert "No registered versions" in at.info[0].value
    log = tables.read_arrow(project["storage"]["root"] + "/prediction_log").to_pylist()
    assert [row["path"] for row in log] == ["ui"]


def _corrupted_panel(at: AppTest) -> str:
    return _html(at).split("**Corrupted**")[1].split("**Repaired**")[0]


def test_seed_and_rates_control_the_damage_of_a_pasted_text(project):
    at = _run()
    first = _corrupted_panel(at)
    at.number_input(key="seed").set_value(99)
    assert _corrupted_panel(_run(at)) != first
    at.radio(key="source").set_value("Paste your own text")
    at = _run(at)
    at.text_area(key="pasted").set_value("Seven wizards vex the lazy dog.")
    for kind in ("deletion", "substitution", "insertion", "duplication", "reversal"):
        at.slider(key=f"rate_{kind}").set_value(0.0)
    at = _run(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["CER before"] == "0.0%"
    corrupted = _corrupted_panel(at)
    assert "Seven wizards vex the lazy dog." in corrupted and "tr-deletion" not in corrupted


class _FakeApi(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        text = body["texts"][0]
        edits = [{"op": "replace", "start": 0, "end": len(text), "replacement": "REPAIRED BY API"}]
        reply = {
            "results": [{"text": "REPAIRED BY API", "edits": edits, "changed": True}],
            "model": {"name": "textrepair", "version": "7", "alias": "champion"},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_api_url_sends_repairs_to_the_api(project, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TEXTREPAIR_UI__API_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("TEXTREPAIR_UI__MODEL", "/nonexistent/model")  # proves it is not loaded
    try:
        at = _run()
    finally:
        server.shutdown()
        server.server_close()
    assert server.requests and server.requests[0][0] == "/v1/repair"
    assert len(server.requests[0][1]["texts"]) == 1
    assert "REPAIRED BY API" in _html(at).split("**Repaired**")[1]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Model version"] == "7"


def test_missing_model_is_a_clear_error(project, monkeypatch):
    monkeypatch.setenv("TEXTREPAIR_UI__MODEL", "models:/nosuchmodel@champion")
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    assert "cannot load model models:/nosuchmodel@champion" in at.error[0].value


def test_an_unreachable_api_is_a_clear_error(project, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TEXTREPAIR_UI__API_URL", f"http://127.0.0.1:{port}")
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    assert f"the API at http://127.0.0.1:{port}/v1/repair failed" in at.error[0].value
