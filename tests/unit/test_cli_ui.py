"""`textrepair ui` becomes `streamlit run` on the app (the browser test runs it for real)."""

from __future__ import annotations

import os
import sys

from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.ui import APP_SCRIPT


def test_ui_runs_streamlit_on_the_app_with_the_options_as_settings(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, command, env: calls.append((command, env)))
    monkeypatch.delenv("TEXTREPAIR_UI__API_URL", raising=False)
    result = CliRunner().invoke(app, ["ui", "--model", "some/dir", "--port", "8999"])
    assert result.exit_code == 0, result.output
    ((command, env),) = calls
    assert (
        command[0] == sys.executable
        and command[1:4] == ["-m", "streamlit", "run"]
        and command[4] == str(APP_SCRIPT)
    )
    assert command[command.index("--server.port") + 1] == "8999"
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert env["TEXTREPAIR_UI__MODEL"] == "some/dir" and "TEXTREPAIR_UI__API_URL" not in env
