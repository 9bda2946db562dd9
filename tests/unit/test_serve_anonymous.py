"""`textrepair serve` refuses to answer anyone on the network without an API key (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from textrepair.cli import app
from textrepair.config import ServeConfig
from textrepair.serve.server import AnonymousServeError, check_anonymous


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "textrepair.example.com"])
def test_no_key_on_a_network_address_is_refused(host: str) -> None:
    with pytest.raises(AnonymousServeError, match="allow_anonymous"):
        check_anonymous(ServeConfig(host=host))


def test_an_empty_or_missing_key_file_counts_as_no_key(tmp_path: Path) -> None:
    empty = tmp_path / "api-key"
    empty.write_text("\n")
    for file in (empty, tmp_path / "missing"):
        with pytest.raises(AnonymousServeError):
            check_anonymous(ServeConfig(host="0.0.0.0", api_key_file=str(file)))


@pytest.mark.parametrize(
    "values",
    [
        {"host": "0.0.0.0", "allow_anonymous": True},
        {"host": "0.0.0.0", "api_key": "secret"},
        {"host": "127.0.0.1"},
        {"host": "::1"},
        {"host": "localhost"},
    ],
)
def test_a_key_an_explicit_opt_in_or_loopback_may_serve(values: dict) -> None:
    check_anonymous(ServeConfig(**values))


def test_a_key_file_allows_serving(tmp_path: Path) -> None:
    key = tmp_path / "api-key"
    key.write_text("secret\n")
    check_anonymous(ServeConfig(host="0.0.0.0", api_key_file=str(key)))


def test_the_command_exits_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTREPAIR_SERVE__API_KEY", raising=False)
    monkeypatch.delenv("TEXTREPAIR_SERVE__API_KEY_FILE", raising=False)
    monkeypatch.delenv("TEXTREPAIR_SERVE__ALLOW_ANONYMOUS", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "no API key for 0.0.0.0" in result.output
